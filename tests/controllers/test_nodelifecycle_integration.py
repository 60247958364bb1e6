"""Node failure and maintenance with everything real: an API server, ``navarch
controllers`` (node-lifecycle, replicaset, pod-termination), ``navarch scheduler`` and
three ``navarch agent --runtime sim`` processes, one node each, every setting at its
default (Lease renewed every 5 s, 15 s grace, 10 s default tolerations).

* The real kubectl's ``cordon``, ``uncordon`` and ``drain --ignore-daemonsets
  --delete-emptydir-data --force`` (evictions through ``pods/eviction``).
* One agent SIGKILLed: its node turns Ready=Unknown with the unreachable NoExecute
  taint, its pods are evicted, and the ReplicaSet's replacements run on the two other
  nodes. The seconds it took are printed (docs/controllers.md explains them), never
  asserted: the deadline is generous and bounded. Started again, the node is Ready and
  loses the taints.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from navarch.client import Client
from navarch.controllers.nodelifecycle_rules import UNREACHABLE
from navarch.testing import waiting
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.cluster import (
    Kubectl,
    controllers_process,
    scheduler_process,
    sim_agent_process,
)
from navarch.testing.daemon import DaemonProcess

DEADLINE = 90.0
# a failover takes its grace and tolerations first: a longer wait than the default
eventually = functools.partial(waiting.eventually, deadline=DEADLINE)
NODES = ("fo-0", "fo-1", "fo-2")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("failover")
    with ApiServerProcess(root / "apiserver") as server:
        controllers = ["node-lifecycle", "replicaset", "pod-termination"]
        daemons: dict[str, DaemonProcess] = {
            "scheduler": scheduler_process(root, server),
            "controllers": controllers_process(root, server, controllers),
        }
        for node in NODES:
            daemons[node] = sim_agent_process(root, server, node_name=node)
        started: list[DaemonProcess] = []
        try:
            for daemon in daemons.values():
                started.append(daemon.start())
            yield server, daemons
        finally:
            for daemon in reversed(started):
                daemon.stop()


@pytest_asyncio.fixture
async def client(cluster) -> AsyncIterator[Client]:
    server, _ = cluster
    async with Client.from_kubeconfig(server.kubeconfig) as client:
        yield client


@pytest.fixture
def kubectl(cluster):
    server, _ = cluster
    run = Kubectl(server.kubeconfig)
    return lambda *args: run(*args, stderr=True)


def _replicaset(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "web", "image": "127.0.0.1:5000/web:1"}],
                },
            },
        },
    }


async def _pods(client: Client, app: str) -> list[Any]:
    return list((await client.pods.list("default", label_selector=f"app={app}")).items)


def _running(pods: list[Any], nodes: tuple[str, ...]) -> list[Any]:
    return [
        p
        for p in pods
        if not p.metadata.deletion_timestamp
        and p.status is not None
        and p.status.phase == "Running"
        and p.spec.node_name in nodes
    ]


async def _nodes_ready(client: Client) -> bool:
    nodes = (await client.nodes.list()).items
    ready = {
        n.name
        for n in nodes
        for c in (n.status.conditions or ())
        if c.type == "Ready" and c.status == "True"
    }
    return set(NODES) <= ready


async def test_cordon_uncordon_and_drain(cluster, client: Client, kubectl) -> None:
    _, daemons = cluster
    await eventually(lambda: _nodes_ready(client), "three nodes Ready", daemons)
    await client.replicasets.create(_replicaset("drained", 6))

    async def all_running() -> bool:
        return len(_running(await _pods(client, "drained"), NODES)) == 6

    await eventually(all_running, "6 pods Running", daemons)
    pods = await _pods(client, "drained")
    target = max(NODES, key=lambda n: sum(p.spec.node_name == n for p in pods))
    await client.pods.create(  # a pod of no controller: only --force drains it
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "loner", "namespace": "default"},
            "spec": {
                "nodeName": target,
                "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "c", "image": "127.0.0.1:5000/a:1"}],
            },
        }
    )

    assert "cordoned" in kubectl("cordon", target)
    assert (await client.nodes.get(target)).spec.unschedulable is True
    assert "uncordoned" in kubectl("uncordon", target)
    assert not (await client.nodes.get(target)).spec.unschedulable

    out = kubectl(
        "drain",
        target,
        "--ignore-daemonsets",
        "--delete-emptydir-data",
        "--force",
        "--timeout=90s",
    )
    assert "evicting pod" in out and "drained" in out, out
    assert (await client.nodes.get(target)).spec.unschedulable is True
    others = tuple(n for n in NODES if n != target)
    pods = await _pods(client, "drained")
    assert not [p for p in pods if p.spec.node_name == target]

    async def replaced() -> bool:
        return len(_running(await _pods(client, "drained"), others)) == 6

    await eventually(replaced, "the drained pods replaced on the other nodes", daemons)
    assert "loner" not in {p.name for p in (await client.pods.list("default")).items}
    kubectl("uncordon", target)
    await client.replicasets.delete("drained", "default")


async def test_a_killed_node_has_its_pods_moved(cluster, client: Client) -> None:
    _, daemons = cluster
    await eventually(lambda: _nodes_ready(client), "three nodes Ready", daemons)
    await client.replicasets.create(_replicaset("web", 6))

    async def all_running() -> bool:
        return len(_running(await _pods(client, "web"), NODES)) == 6

    await eventually(all_running, "6 pods Running", daemons)
    pods = await _pods(client, "web")
    victim = max(NODES, key=lambda n: sum(p.spec.node_name == n for p in pods))
    doomed = {p.metadata.uid for p in pods if p.spec.node_name == victim}
    assert doomed
    others = tuple(n for n in NODES if n != victim)

    killed_at = time.monotonic()
    daemons[victim].kill()

    async def evicted() -> bool:
        current = {p.metadata.uid: p for p in await _pods(client, "web")}
        return all(uid not in current or current[uid].metadata.deletion_timestamp for uid in doomed)

    evicted_after = await eventually(evicted, f"{victim}'s pods evicted", daemons)

    async def replaced() -> bool:
        return len(_running(await _pods(client, "web"), others)) == 6

    await eventually(replaced, "6 pods Running on the surviving nodes", daemons)
    moved_after = time.monotonic() - killed_at
    print(
        f"\nfailover: agent of {victim} SIGKILLed; its {len(doomed)} pods evicted after "
        f"{evicted_after:.1f} s, all 6 Running on {', '.join(others)} after {moved_after:.1f} s "
        "(lease renew 5 s, node grace 15 s, toleration 10 s)"
    )

    node = await client.nodes.get(victim)
    ready = next(c for c in node.status.conditions if c.type == "Ready")
    assert (ready.status, ready.reason) == ("Unknown", "NodeStatusUnknown")
    assert (UNREACHABLE, "NoExecute") in {(t.key, t.effect) for t in node.spec.taints}
    reasons = {e.reason for e in (await client.events.list("default")).items}
    assert "TaintManagerEviction" in reasons

    # The node comes back: Ready again, it loses the taints; nothing of the old pods runs
    daemons[victim].start()

    async def recovered() -> bool:
        node = await client.nodes.get(victim)
        ready = next(c for c in node.status.conditions if c.type == "Ready")
        ours = [t for t in node.spec.taints or () if t.key.startswith("node.kubernetes.io/")]
        return ready.status == "True" and not ours

    await eventually(recovered, f"{victim} Ready and untainted again", daemons)
