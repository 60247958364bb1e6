"""The DaemonSet controller with everything real: an API server, ``navarch
controllers``, ``navarch scheduler`` and ``navarch agent --runtime sim --simulate 3``,
and the real kubectl. A pod per node, placed by the scheduler; a node joining gets
one and a node deleted loses it; taints, cordon and nodeSelector; a rolling update
that never has more than maxUnavailable nodes without a ready pod; OnDelete; and
``kubectl rollout status / history / undo``."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from navarch import api
from navarch.client import Client
from navarch.client.informer import Informer
from navarch.controllers.daemonset_nodes import target_node
from navarch.controllers.owners import controller_of
from navarch.controllers.replicaset_pods import is_ready
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.cluster import (
    Kubectl,
    controllers_process,
    scheduler_process,
    sim_agent_process,
)
from navarch.testing.daemon import started
from navarch.testing.waiting import eventually

DEADLINE = 90.0
NODES = ["ds-sim-0", "ds-sim-1", "ds-sim-2"]
CONTROLLERS = ["daemonset", "pod-termination", "garbage-collector"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("ds-cluster")
    with (
        ApiServerProcess(root / "apiserver") as server,
        started(
            scheduler_process(root, server),
            sim_agent_process(root, server, nodes=3, prefix="ds-sim", lease_renew_seconds=1),
            controllers_process(root, server, CONTROLLERS),
        ) as daemons,
    ):
        yield root, server, daemons


@pytest.fixture
def kubectl(cluster) -> Kubectl:
    return Kubectl(cluster[1].kubeconfig, timeout=DEADLINE)


@pytest_asyncio.fixture
async def client(cluster) -> AsyncIterator[Client]:
    async with Client.from_kubeconfig(cluster[1].kubeconfig) as client:
        yield client


def daemonset(name: str, image: str = "127.0.0.1:5000/agent:1", **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "agent", "image": image}],
                },
            },
        },
    }
    body["spec"].update(copy.deepcopy(spec))
    return body


class DaemonPods:
    """A watch on one DaemonSet's pods, with a check run on every event."""

    def __init__(self, client: Client, name: str, on_event: Callable[[], None] = lambda: None):
        self.informer = Informer(client.pods, "default", label_selector=f"app={name}")
        self.on_event = on_event
        self.informer.add_handler(
            on_add=lambda pod: self.on_event(),
            on_update=lambda old, new: self.on_event(),
            on_delete=lambda pod: self.on_event(),
        )
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> DaemonPods:
        self.task = asyncio.create_task(self.informer.run())
        await self.informer.wait_synced(DEADLINE)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    def live(self) -> list[Any]:
        return [p for p in self.informer.list() if not p.metadata.deletion_timestamp]

    def running_on(self) -> dict[str, Any]:
        """node -> its Running, Ready pod (of any revision)."""
        return {
            p.spec.node_name: p
            for p in self.live()
            if p.spec.node_name and p.status and p.status.phase == "Running" and is_ready(p)
        }

    def images(self) -> dict[str, str]:
        return {node: p.spec.containers[0].image for node, p in self.running_on().items()}


async def status_of(client: Client, name: str) -> dict[str, Any]:
    ds = api.dump(await client.daemonsets.get(name, "default"))
    return {**(ds.get("status") or {}), "generation": ds["metadata"]["generation"]}


async def settled(client: Client, pods: DaemonPods, name: str, nodes: set[str], image: str) -> bool:
    """One Running, Ready pod of ``image`` on each of ``nodes`` and nowhere else, and
    the status saying so for the current generation."""
    status = await status_of(client, name)
    want = len(nodes)
    return (
        {n: image for n in nodes} == pods.images()
        and len(pods.live()) == want
        and status.get("observedGeneration") == status["generation"]
        and status.get("desiredNumberScheduled") == want
        and status.get("currentNumberScheduled") == want
        and status.get("numberReady") == want
        and status.get("updatedNumberScheduled") == want
        and status.get("numberAvailable") == want
        and (status.get("numberUnavailable") or 0) == 0
        and (status.get("numberMisscheduled") or 0) == 0
    )


async def test_a_pod_per_node_through_the_scheduler_and_a_joining_node_gets_one(
    cluster, client: Client, kubectl: Kubectl
) -> None:
    root, server, daemons = cluster
    created = await client.daemonsets.create(daemonset("agent"), "default")
    async with DaemonPods(client, "agent") as pods:
        image = "127.0.0.1:5000/agent:1"
        await eventually(
            lambda: settled(client, pods, "agent", set(NODES), image), "a pod per node", daemons
        )
        for pod in pods.live():
            assert controller_of(pod).uid == created.metadata.uid
            # the controller asked for the node by affinity; the scheduler bound it there
            terms = api.dump(pod.spec.affinity)["nodeAffinity"][
                "requiredDuringSchedulingIgnoredDuringExecution"
            ]["nodeSelectorTerms"]
            assert terms == [
                {
                    "matchFields": [
                        {"key": "metadata.name", "operator": "In", "values": [pod.spec.node_name]}
                    ]
                }
            ]
            assert target_node(pod) == pod.spec.node_name
            scheduled = [c for c in pod.status.conditions if c.type == "PodScheduled"]
            assert scheduled and scheduled[0].status == "True"
            tolerated = {t.key for t in pod.spec.tolerations}
            assert "node.kubernetes.io/unreachable" in tolerated
            assert "node.kubernetes.io/unschedulable" in tolerated

        async def scheduler_events() -> bool:
            out = kubectl(
                "get", "events", "--field-selector", "reason=Scheduled", "-o", "name"
            ).split()
            listed = kubectl(
                "get", "events", "--field-selector", "reason=Scheduled",
                "-o", "jsonpath={range .items[*]}{.involvedObject.name} {.source.component}{'\\n'}{end}",
            )  # fmt: skip
            named = {line.split()[0] for line in listed.splitlines() if "scheduler" in line}
            return bool(out) and {p.name for p in pods.live()} <= named

        await eventually(scheduler_events, "a Scheduled Event per pod", daemons)
        out = kubectl("rollout", "status", "ds/agent", "--timeout=60s")
        assert 'daemon set "agent" successfully rolled out' in out

        # a node joining gets its pod
        late = sim_agent_process(root, server, node_name="ds-late", lease_renew_seconds=1)
        late.start()
        try:
            await eventually(
                lambda: settled(client, pods, "agent", {*NODES, "ds-late"}, image),
                "a pod on the node that joined",
                [*daemons, late],
            )
        finally:
            late.stop()
        # a node deleted loses it
        await client.nodes.delete("ds-late")
        await eventually(
            lambda: settled(client, pods, "agent", set(NODES), image),
            "the deleted node's pod gone",
            daemons,
        )
    await client.daemonsets.delete("agent", "default")


async def test_taints_cordon_and_node_selector(cluster, client: Client, kubectl: Kubectl) -> None:
    _, _, daemons = cluster
    kubectl("taint", "nodes", "ds-sim-2", "dedicated=infra:NoSchedule")
    kubectl("cordon", "ds-sim-1")
    try:
        await client.daemonsets.create(daemonset("tainted"), "default")
        async with DaemonPods(client, "tainted") as pods:
            image = "127.0.0.1:5000/agent:1"
            # the cordoned node is tolerated (automatic toleration); the tainted one is not
            want = {"ds-sim-0", "ds-sim-1"}
            await eventually(
                lambda: settled(client, pods, "tainted", want, image),
                "pods on the untainted nodes only",
                daemons,
            )
            assert not [p for p in pods.informer.list() if target_node(p) == "ds-sim-2"]
            # tolerating the taint brings a pod there
            toleration = {"key": "dedicated", "operator": "Equal", "value": "infra"}
            patch = {"spec": {"template": {"spec": {"tolerations": [toleration]}}}}
            await client.daemonsets.patch("tainted", patch, "default")
            await eventually(
                lambda: settled(client, pods, "tainted", set(NODES), image),
                "a pod on the tainted node once tolerated",
                daemons,
            )
        await client.daemonsets.delete("tainted", "default")
    finally:
        kubectl("taint", "nodes", "ds-sim-2", "dedicated=infra:NoSchedule-")
        kubectl("uncordon", "ds-sim-1")

    kubectl("label", "nodes", "ds-sim-0", "role=edge")
    try:
        spec = daemonset("edge")["spec"]
        spec["template"]["spec"]["nodeSelector"] = {"role": "edge"}
        await client.daemonsets.create(daemonset("edge", **spec), "default")
        async with DaemonPods(client, "edge") as pods:
            image = "127.0.0.1:5000/agent:1"
            await eventually(
                lambda: settled(client, pods, "edge", {"ds-sim-0"}, image), "edge only", daemons
            )
            kubectl("label", "nodes", "ds-sim-1", "role=edge")
            await eventually(
                lambda: settled(client, pods, "edge", {"ds-sim-0", "ds-sim-1"}, image),
                "a node labelled later gets a pod",
                daemons,
            )
            kubectl("label", "nodes", "ds-sim-0", "role-")
            await eventually(
                lambda: settled(client, pods, "edge", {"ds-sim-1"}, image),
                "a node unlabelled loses its pod",
                daemons,
            )
            out = kubectl("get", "ds", "edge")
            assert "role=edge" in out
        await client.daemonsets.delete("edge", "default")
    finally:
        kubectl("label", "nodes", "ds-sim-0", "ds-sim-1", "role-")


async def test_rolling_update_respects_max_unavailable_and_kubectl_rollout(
    cluster, client: Client, kubectl: Kubectl
) -> None:
    _, _, daemons = cluster
    v1, v2 = "127.0.0.1:5000/agent:1", "127.0.0.1:5000/agent:2"
    worst = {"unavailable": 0, "events": 0}
    rolling: dict[str, Any] = {}

    def count() -> None:
        if not rolling:
            return
        worst["events"] += 1
        missing = len(NODES) - len(rolling["pods"].running_on())
        worst["unavailable"] = max(worst["unavailable"], missing)

    await client.daemonsets.create(daemonset("rolled", v1), "default")
    async with DaemonPods(client, "rolled", count) as pods:
        await eventually(
            lambda: settled(client, pods, "rolled", set(NODES), v1), "v1 everywhere", daemons
        )
        rolling["pods"] = pods
        kubectl("set", "image", "ds/rolled", f"agent={v2}")
        out = kubectl("rollout", "status", "ds/rolled", "--timeout=80s")
        assert 'daemon set "rolled" successfully rolled out' in out
        await eventually(
            lambda: settled(client, pods, "rolled", set(NODES), v2), "v2 everywhere", daemons
        )
        assert worst["events"] > 6  # the check ran on the rollout's events
        assert worst["unavailable"] <= 1, worst

        history = kubectl("rollout", "history", "ds/rolled")
        revisions = [line.split()[0] for line in history.splitlines()[2:] if line.strip()]
        assert revisions == ["1", "2"], history
        detail = kubectl("rollout", "history", "ds/rolled", "--revision=1")
        assert v1 in detail

        worst["unavailable"] = 0
        out = kubectl("rollout", "undo", "ds/rolled")
        assert "rolled back" in out
        await eventually(
            lambda: settled(client, pods, "rolled", set(NODES), v1), "v1 again", daemons
        )
        assert worst["unavailable"] <= 1, worst
        history = kubectl("rollout", "history", "ds/rolled")
        revisions = [line.split()[0] for line in history.splitlines()[2:] if line.strip()]
        assert revisions == ["2", "3"], history  # revision 1 came back as 3
        revisions_listed = await client.controllerrevisions.list(
            "default", label_selector="app=rolled"
        )
        assert len(revisions_listed.items) == 2
    await client.daemonsets.delete("rolled", "default")


async def test_max_surge_keeps_every_node_served(cluster, client: Client, kubectl) -> None:
    _, _, daemons = cluster
    v1, v2 = "127.0.0.1:5000/agent:1", "127.0.0.1:5000/agent:2"
    state: dict[str, Any] = {"most": 0, "fewest": len(NODES), "events": 0}
    watched: dict[str, DaemonPods] = {}

    def count() -> None:
        if "pods" not in watched:
            return
        pods = watched["pods"]
        state["events"] += 1
        state["fewest"] = min(state["fewest"], len(pods.running_on()))
        state["most"] = max(state["most"], len(pods.live()))

    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    await client.daemonsets.create(daemonset("surged", v1, updateStrategy=strategy), "default")
    async with DaemonPods(client, "surged", count) as pods:
        await eventually(
            lambda: settled(client, pods, "surged", set(NODES), v1), "v1 everywhere", daemons
        )
        watched["pods"] = pods
        kubectl("set", "image", "ds/surged", f"agent={v2}")
        await eventually(
            lambda: settled(client, pods, "surged", set(NODES), v2), "v2 everywhere", daemons
        )
        assert state["events"] > 6
        assert state["fewest"] == len(NODES), state  # never a node without a ready pod
        assert state["most"] <= len(NODES) + 1, state  # one surge pod at a time
    await client.daemonsets.delete("surged", "default")


async def test_on_delete_replaces_only_deleted_pods(cluster, client: Client, kubectl) -> None:
    _, _, daemons = cluster
    v1, v2 = "127.0.0.1:5000/agent:1", "127.0.0.1:5000/agent:2"
    await client.daemonsets.create(
        daemonset("manual", v1, updateStrategy={"type": "OnDelete"}), "default"
    )
    async with DaemonPods(client, "manual") as pods:
        await eventually(
            lambda: settled(client, pods, "manual", set(NODES), v1), "v1 everywhere", daemons
        )
        kubectl("set", "image", "ds/manual", f"agent={v2}")

        async def observed() -> bool:
            status = await status_of(client, "manual")
            return (
                status.get("observedGeneration") == status["generation"]
                and status.get("updatedNumberScheduled") == 0
            )

        await eventually(observed, "the new template observed", daemons)
        assert set(pods.images().values()) == {v1}  # nothing replaced on its own
        victim = pods.running_on()["ds-sim-1"]
        await client.pods.delete(victim.name, "default")

        async def replaced() -> bool:
            images = pods.images()
            return images == {"ds-sim-0": v1, "ds-sim-1": v2, "ds-sim-2": v1}

        await eventually(replaced, "only the deleted pod replaced, by v2", daemons)
        status = await status_of(client, "manual")
        assert status["updatedNumberScheduled"] == 1
    await client.daemonsets.delete("manual", "default")
