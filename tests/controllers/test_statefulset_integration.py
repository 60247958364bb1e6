"""The StatefulSet controller with everything real (issue 23 item 7): an API server,
``navarch controllers``, ``navarch scheduler``, ``navarch agent --runtime sim
--simulate 2``, and the real kubectl. A set of 3 comes up in order, each pod made only
once the one before is Running and Ready (checked on every watch event); ``kubectl
rollout status``, ``scale`` down (in reverse, one at a time) and up, a pod deleted
coming back under its name, ``kubectl set image`` rolled out in reverse ordinal
order, ``rollout history`` and ``rollout undo``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from navarch import api
from navarch.client import Client
from navarch.client.informer import Informer
from navarch.controllers.statefulset_pods import (
    is_running_and_ready,
    is_terminating,
    ordinal_of,
    revision_of,
)
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.cluster import (
    Kubectl,
    controllers_process,
    scheduler_process,
    sim_agent_process,
)
from navarch.testing.daemon import started
from navarch.testing.waiting import eventually

LABELS = {"app": "web"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("sts-cluster")
    with (
        ApiServerProcess(root / "apiserver") as server,
        started(
            scheduler_process(root, server),
            sim_agent_process(root, server, nodes=2, prefix="sts-sim", lease_renew_seconds=1),
            controllers_process(
                root, server, ["statefulset", "pod-termination", "garbage-collector"]
            ),
        ) as daemons,
    ):
        yield server, daemons


@pytest.fixture
def kubectl(cluster) -> Kubectl:
    server, _ = cluster
    return Kubectl(server.kubeconfig, timeout=120)


@pytest_asyncio.fixture
async def client(cluster) -> AsyncIterator[Client]:
    server, _ = cluster
    async with Client.from_kubeconfig(server.kubeconfig) as client:
        yield client


def _statefulset(replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "serviceName": "web",
            "selector": {"matchLabels": LABELS},
            "template": {
                "metadata": {"labels": LABELS},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "web", "image": "navarch.test/demo:1"}],
                },
            },
        },
    }


class Watcher:
    """Every watch event about the set's pods, checking the order rules as they come:
    a pod is made only once every lower ordinal is Running and Ready; a pod starts
    going (scale down, update) only once no higher ordinal is still going."""

    def __init__(self, client: Client):
        self.informer = Informer(client.pods, "default", label_selector="app=web")
        self.informer.add_handler(
            on_add=self.added, on_update=self.updated, on_delete=lambda pod: self.seen()
        )
        self.events = 0
        self.made = 0  # pods whose making was checked
        self.broken: list[str] = []
        self.going: list[str] = []  # pod names in the order their deletion started

    def pods(self) -> dict[int, Any]:
        return {ordinal_of(p): p for p in self.informer.list()}

    def seen(self) -> None:
        self.events += 1

    def added(self, pod: Any) -> None:
        self.seen()
        if pod.spec.node_name:
            return  # not just made: a re-list after a broken watch shows it late
        self.made += 1
        for ordinal, other in self.pods().items():
            if ordinal < ordinal_of(pod) and not is_running_and_ready(other):
                self.broken.append(f"{pod.name} made while {other.name} was not Ready")

    def updated(self, old: Any, new: Any) -> None:
        self.seen()
        if is_terminating(new) and not is_terminating(old):
            self.going.append(new.name)
            for ordinal, other in self.pods().items():
                if ordinal > ordinal_of(new) and is_terminating(other):
                    self.broken.append(f"{new.name} went while {other.name} was still going")

    def running(self) -> list[str]:
        return sorted(
            p.name
            for p in self.informer.list()
            if is_running_and_ready(p) and not is_terminating(p)
        )


async def test_kubectl_rollout_scale_and_undo_on_a_statefulset(
    cluster, client: Client, kubectl: Kubectl
) -> None:
    _, daemons = cluster
    await client.statefulsets.create(_statefulset(3), "default")
    watcher = Watcher(client)
    watching = asyncio.create_task(watcher.informer.run())

    async def run(*args: str) -> str:
        return await asyncio.to_thread(kubectl, *args)

    async def settled(names: list[str], image: str = "navarch.test/demo:1") -> bool:
        sts = api.dump(await client.statefulsets.get("web", "default"))
        status = sts.get("status") or {}
        pods = watcher.pods()
        return (
            watcher.running() == names
            and sorted(p.name for p in pods.values()) == names
            and all(p.spec.containers[0].image == image for p in pods.values())
            and status.get("readyReplicas") == len(names)
            and status.get("observedGeneration") == sts["metadata"]["generation"]
        )

    try:
        await watcher.informer.wait_synced(60)
        out = await run("rollout", "status", "sts/web", "--timeout=90s")
        assert "partitioned roll out complete: 3 new pods have been updated" in out
        await eventually(lambda: settled(["web-0", "web-1", "web-2"]), "3 Ready pods", daemons)
        pod = await client.pods.get("web-1", "default")
        assert (pod.spec.hostname, pod.spec.subdomain) == ("web-1", "web")
        table = await run("get", "sts", "web")
        assert table.split("\n")[0].split() == ["NAME", "READY", "AGE"]
        assert table.split("\n")[1].split()[:2] == ["web", "3/3"]
        wide = (await run("get", "sts", "web", "-o", "wide")).split("\n")
        assert wide[0].split() == ["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"]
        assert wide[1].split()[-2:] == ["web", "navarch.test/demo:1"]
        described = await run("describe", "sts", "web")
        assert "3 Running / 0 Waiting / 0 Succeeded / 0 Failed" in described
        assert "SuccessfulCreate" in described

        # scale down: web-2 goes, then web-1
        await run("scale", "sts", "web", "--replicas=1")
        await eventually(lambda: settled(["web-0"]), "scaled to 1", daemons)
        assert watcher.going == ["web-2", "web-1"]
        await run("scale", "sts", "web", "--replicas=3")
        await eventually(lambda: settled(["web-0", "web-1", "web-2"]), "scaled to 3", daemons)

        # a pod deleted comes back under its name
        old_uid = (await client.pods.get("web-1", "default")).metadata.uid
        await run("delete", "pod", "web-1", "--wait=false")

        async def back() -> bool:
            pod = watcher.pods().get(1)
            return pod is not None and pod.metadata.uid != old_uid and is_running_and_ready(pod)

        await eventually(back, "web-1 made again", daemons)
        await eventually(lambda: settled(["web-0", "web-1", "web-2"]), "3 Ready again", daemons)

        # a new template rolls out from the highest ordinal down
        watcher.going.clear()
        await run("set", "image", "sts/web", "web=navarch.test/demo:2")
        out = await run("rollout", "status", "sts/web", "--timeout=90s")
        assert "partitioned roll out complete" in out
        await eventually(
            lambda: settled(["web-0", "web-1", "web-2"], "navarch.test/demo:2"),
            "every pod on demo:2",
            daemons,
        )
        assert watcher.going == ["web-2", "web-1", "web-0"]
        status = api.dump(await client.statefulsets.get("web", "default"))["status"]
        assert status["currentRevision"] == status["updateRevision"]
        assert {revision_of(p) for p in watcher.pods().values()} == {status["updateRevision"]}
        history = await run("rollout", "history", "sts/web")
        assert [line.split()[0] for line in history.strip().split("\n")[2:]] == ["1", "2"]
        shown = await run("rollout", "history", "sts/web", "--revision=1")
        assert "navarch.test/demo:1" in shown

        # undo: back to demo:1, as revision 3
        await run("rollout", "undo", "sts/web")
        await run("rollout", "status", "sts/web", "--timeout=90s")
        await eventually(
            lambda: settled(["web-0", "web-1", "web-2"], "navarch.test/demo:1"),
            "every pod back on demo:1",
            daemons,
        )
        history = await run("rollout", "history", "sts/web")
        assert [line.split()[0] for line in history.strip().split("\n")[2:]] == ["2", "3"]
        assert watcher.events > 20  # the order checks did run on the watch's events
        assert watcher.made >= 12  # 3, 2 scaled up, 1 deleted, 3 updated, 3 undone
        assert watcher.broken == []
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
        await client.statefulsets.delete("web", "default")
