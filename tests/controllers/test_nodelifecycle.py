"""The node lifecycle controller's syncs against a fake cluster, on a fake clock:
lease expiry, taints, recovery, taint-based eviction, rate limiting, disruption."""

from __future__ import annotations

from typing import Any

from navarch.api.timefmt import micro_time, rfc3339
from navarch.controllers.nodelifecycle import (
    NodeLifecycleController,
    NodeLifecycleOptions,
)
from navarch.controllers.nodelifecycle_rules import (
    NOT_READY,
    UNREACHABLE,
    TokenBucket,
    disruption,
)
from navarch.testing.controllers import FakeCluster

GRACE = 15.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _node(name: str, ready: str = "True", taints: list | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "spec": {"taints": taints or []},
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": ready,
                    "reason": "KubeletReady",
                    "lastHeartbeatTime": rfc3339(),
                    "lastTransitionTime": rfc3339(),
                },
                {"type": "MemoryPressure", "status": "False"},
            ]
        },
    }


def _lease(name: str) -> dict:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": micro_time()},
    }


def _pod(name: str, node: str, tolerations: list | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeName": node,
            "containers": [{"name": "c", "image": "127.0.0.1:5000/a:1"}],
            "tolerations": tolerations or [],
        },
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def _tolerate(key: str, seconds: int | None) -> dict:
    toleration: dict[str, Any] = {"key": key, "operator": "Exists", "effect": "NoExecute"}
    if seconds is not None:
        toleration["tolerationSeconds"] = seconds
    return toleration


def _setup(*objects: Any, **options: Any) -> tuple[FakeCluster, NodeLifecycleController, Clock]:
    cluster = FakeCluster()
    cluster.add(*objects)
    clock = Clock()
    opts = NodeLifecycleOptions(node_monitor_grace_seconds=GRACE, **options)
    controller = NodeLifecycleController(cluster.context("node-lifecycle", opts), clock=clock)
    return cluster, controller, clock


def _taints(cluster: FakeCluster, node: str) -> set[tuple[str, str]]:
    spec = cluster.get("nodes", node, "")["spec"]
    return {(t["key"], t["effect"]) for t in spec.get("taints") or []}


def _ready(cluster: FakeCluster, node: str) -> dict:
    conditions = cluster.get("nodes", node, "")["status"]["conditions"]
    return next(c for c in conditions if c["type"] == "Ready")


def _renew(cluster: FakeCluster, name: str) -> None:
    lease = cluster.get("leases", name, "kube-node-lease")
    lease["spec"]["renewTime"] = micro_time() + f"-{len(cluster.actions)}-{id(lease)}"
    lease["metadata"]["resourceVersion"] = str(int(lease["metadata"]["resourceVersion"]) + 10000)
    cluster.sync_informers()


async def test_a_node_whose_lease_is_renewed_is_left_alone() -> None:
    cluster, controller, clock = _setup(_node("n1"), _lease("n1"), _node("n2"), _lease("n2"))
    again = await controller.sync("node:n1")
    assert again is not None and 0 < again <= GRACE
    clock.now += GRACE - 1
    _renew(cluster, "n1")
    await controller.sync("node:n1")
    clock.now += GRACE - 1  # 28 s in all, but renewed 14 s ago
    await controller.sync("node:n1")
    assert cluster.verbs("nodes") == []


async def test_lease_expiry_makes_the_node_unknown_and_tainted_unreachable() -> None:
    pod = _pod("web-1", "n1")
    cluster, controller, clock = _setup(
        _node("n1"), _lease("n1"), _node("n2"), _lease("n2"), _node("n3"), _lease("n3"), pod
    )
    for name in ("n1", "n2", "n3"):
        await controller.sync(f"node:{name}")
    clock.now += GRACE + 1
    for name in ("n2", "n3"):
        _renew(cluster, name)
    await controller.sync("node:n1")
    ready = _ready(cluster, "n1")
    assert (ready["status"], ready["reason"]) == ("Unknown", "NodeStatusUnknown")
    assert ready["message"] == "Kubelet stopped posting node status."
    memory = next(
        c
        for c in cluster.get("nodes", "n1", "")["status"]["conditions"]
        if c["type"] == "MemoryPressure"
    )
    assert memory["status"] == "Unknown"
    assert _taints(cluster, "n1") == {(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")}
    # MarkPodsNotReady, and the Event on the node
    conditions = cluster.get("pods", "web-1")["status"]["conditions"]
    assert next(c for c in conditions if c["type"] == "Ready")["status"] == "False"
    events = cluster.stored("events")
    assert any(e["reason"] == "NodeNotReady" for e in events)


async def test_an_agent_reporting_not_ready_gets_the_not_ready_taint() -> None:
    cluster, controller, _ = _setup(
        _node("n1", ready="False"), _lease("n1"), _node("n2"), _lease("n2")
    )
    await controller.sync("node:n1")
    assert _taints(cluster, "n1") == {(NOT_READY, "NoSchedule"), (NOT_READY, "NoExecute")}
    assert _ready(cluster, "n1")["status"] == "False"  # the agent's word stands


async def test_a_node_ready_again_loses_the_taints_and_keeps_others() -> None:
    mine = {"key": "team", "value": "a", "effect": "NoSchedule"}
    taints = [
        mine,
        {"key": UNREACHABLE, "effect": "NoSchedule"},
        {"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": rfc3339()},
    ]
    cluster, controller, _ = _setup(
        _node("n1", taints=taints), _lease("n1"), _node("n2"), _lease("n2")
    )
    await controller.sync("node:n1")
    assert _taints(cluster, "n1") == {("team", "NoSchedule")}


async def test_untolerated_pods_are_evicted_at_once() -> None:
    taints = [{"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": rfc3339()}]
    cluster, controller, _ = _setup(
        _node("n1", ready="Unknown", taints=taints), _pod("bare", "n1"), _pod("elsewhere", "n2")
    )
    assert await controller.sync("pod:default/bare") is None
    assert cluster.verbs("pods") == [("delete", "default", "bare")]
    assert cluster.get("pods", "bare")["metadata"].get("deletionTimestamp")
    assert any(e["reason"] == "TaintManagerEviction" for e in cluster.stored("events"))
    assert await controller.sync("pod:default/elsewhere") is None
    assert cluster.verbs("pods") == [("delete", "default", "bare")]


async def test_tolerated_pods_stay_for_their_toleration_seconds() -> None:
    taints = [{"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": rfc3339()}]
    cluster, controller, clock = _setup(
        _node("n1", ready="Unknown", taints=taints),
        _pod("ten", "n1", [_tolerate(UNREACHABLE, 10)]),
        _pod("forever", "n1", [_tolerate(UNREACHABLE, None)]),
        _pod("other-key", "n1", [_tolerate(NOT_READY, 10)]),
    )
    assert await controller.sync("pod:default/ten") == 10
    assert await controller.sync("pod:default/forever") is None
    assert await controller.sync("pod:default/other-key") is None  # not tolerated: evicted
    assert cluster.verbs("pods") == [("delete", "default", "other-key")]
    clock.now += 6
    assert await controller.sync("pod:default/ten") == 4
    clock.now += 4
    assert await controller.sync("pod:default/ten") is None
    assert ("delete", "default", "ten") in cluster.verbs("pods")
    assert cluster.get("pods", "forever")["metadata"].get("deletionTimestamp") is None


async def test_a_pod_whose_node_recovers_in_time_is_kept() -> None:
    taints = [{"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": rfc3339()}]
    cluster, controller, clock = _setup(
        _node("n1", ready="Unknown", taints=taints), _pod("ten", "n1", [_tolerate(UNREACHABLE, 10)])
    )
    assert await controller.sync("pod:default/ten") == 10
    cluster.get("nodes", "n1", "")["spec"]["taints"] = []
    cluster.sync_informers()
    clock.now += 30
    assert await controller.sync("pod:default/ten") is None
    assert cluster.verbs("pods") == []


async def test_tainting_is_rate_limited_and_slows_in_a_partial_disruption() -> None:
    names = [f"n{i}" for i in range(5)]
    objects = [obj for n in names for obj in (_node(n), _lease(n))]
    cluster, controller, clock = _setup(
        *objects, node_eviction_rate=1.0, secondary_node_eviction_rate=0.01
    )
    for n in names:
        await controller.sync(f"node:{n}")
    clock.now += GRACE + 1
    _renew(cluster, "n3")
    _renew(cluster, "n4")
    # one node down of five: tainted at once; a second straight after waits a second
    await controller.sync("node:n0")
    assert (UNREACHABLE, "NoExecute") in _taints(cluster, "n0")
    cluster.sync_informers()
    # three of five down (60 % >= 55 %, more than two): the secondary rate applies
    await controller.sync("node:n1")
    wait = await controller.sync("node:n2")
    cluster.sync_informers()
    tainted = [n for n in ("n1", "n2") if (UNREACHABLE, "NoExecute") in _taints(cluster, n)]
    assert tainted == []  # the token went to n0; at 0.01/s the next is 100 s away
    assert wait is not None and wait >= 5  # looked at again at the monitor period
    for n in ("n1", "n2"):
        assert (UNREACHABLE, "NoSchedule") in _taints(cluster, n)  # never rate limited
    assert controller._state == "PartialDisruption"
    # two seconds later (twice the normal rate's interval) it still waits
    clock.now += 2
    _renew(cluster, "n3")
    _renew(cluster, "n4")
    await controller.sync("node:n1")
    assert (UNREACHABLE, "NoExecute") not in _taints(cluster, "n1")


async def test_all_nodes_unreachable_stops_evictions() -> None:
    taints = [{"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": rfc3339()}]
    cluster, controller, clock = _setup(
        _node("n1", taints=taints),
        _lease("n1"),
        _node("n2"),
        _lease("n2"),
        _pod("on-tainted", "n1"),
    )
    await controller.sync("node:n1")  # first seen: a full grace from now
    await controller.sync("node:n2")
    clock.now += GRACE + 1  # every lease expired: we are the ones cut off
    await controller.sync("node:n1")
    await controller.sync("node:n2")
    assert controller._state == "FullDisruption"
    cluster.sync_informers()
    # n1 still carries its old NoExecute taint until it is looked at again: no eviction
    assert await controller.sync("pod:default/on-tainted") == 5.0
    assert ("delete", "default", "on-tainted") not in cluster.verbs("pods")
    await controller.sync("node:n1")  # queued again when the state changed
    cluster.sync_informers()
    for n in ("n1", "n2"):
        assert _ready(cluster, n)["status"] == "Unknown"
        assert _taints(cluster, n) == {(UNREACHABLE, "NoSchedule")}  # no NoExecute
    assert await controller.sync("pod:default/on-tainted") is None
    assert cluster.get("pods", "on-tainted")["metadata"].get("deletionTimestamp") is None


def test_disruption_states() -> None:
    assert disruption(2, 1, 0.55) == "Normal"
    assert disruption(1, 2, 0.55) == "Normal"  # two not Ready: not more than two
    assert disruption(2, 3, 0.55) == "PartialDisruption"
    assert disruption(3, 3, 0.55) == "Normal"  # 50 % < 55 %
    assert disruption(0, 2, 0.55) == "FullDisruption"
    assert disruption(0, 0, 0.55) == "Normal"


def test_token_bucket() -> None:
    bucket = TokenBucket()
    assert bucket.take(0.0, 1.0) == 0.0
    assert bucket.take(0.0, 1.0) == 1.0
    assert bucket.take(0.5, 1.0) == 0.5
    assert bucket.take(1.0, 1.0) == 0.0
    assert bucket.take(1.0, 0.01) == 100.0
