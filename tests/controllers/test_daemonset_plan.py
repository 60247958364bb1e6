"""The DaemonSet controller's decisions without I/O: which nodes are eligible (node
selector, affinity, taints against the automatic tolerations), the pod made for a
node, manage's creations and deletions, and RollingUpdate's budget with and without
surge (Kubernetes' pkg/controller/daemon cases)."""

from __future__ import annotations

import copy
from typing import Any

from navarch import api
from navarch.controllers import daemonset_plan as plan
from navarch.controllers.daemonset_nodes import Placement, pod_for_node, target_node
from navarch.controllers.history import HASH_LABEL

NOW = 1_000_000.0
READY_AT = "1970-01-12T13:00:00Z"  # well before NOW


def ds(**template_spec: Any) -> Any:
    body = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "default", "uid": "ds-uid"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": "a", "image": "127.0.0.1:5000/a:1"}]},
            },
        },
    }
    body["spec"]["template"]["spec"].update(copy.deepcopy(template_spec))
    return api.load(body).obj


def node(name: str, labels: dict[str, str] | None = None, taints: list[dict] | None = None):
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"taints": taints or []},
    }
    return api.load(body).obj


def pod(name: str, node_name: str, hash_: str, *, ready: bool = True, created: int = 0, **extra):
    conditions = [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": READY_AT}
    ]
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": {"app": "agent", HASH_LABEL: hash_},
            "creationTimestamp": f"1970-01-01T00:00:{created:02d}Z",
            **extra.get("metadata", {}),
        },
        "spec": {"nodeName": node_name, "containers": [{"name": "a", "image": "x/a:1"}]},
        "status": {"phase": extra.get("phase", "Running"), "conditions": conditions},
    }
    return api.load(body, check=False).obj


def available(p) -> bool:
    return plan.available_check(0, NOW)(p)


def test_eligibility_by_selector_affinity_and_taints():
    nodes = {
        "plain": node("plain"),
        "edge": node("edge", {"role": "edge"}),
        "tainted": node("tainted", taints=[{"key": "gpu", "effect": "NoSchedule"}]),
        "evicting": node("evicting", taints=[{"key": "gpu", "effect": "NoExecute"}]),
        # the automatic tolerations: cordoned, under pressure, unreachable
        "cordoned": node(
            "cordoned", taints=[{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]
        ),
        "pressure": node(
            "pressure", taints=[{"key": "node.kubernetes.io/disk-pressure", "effect": "NoSchedule"}]
        ),
        "unreachable": node(
            "unreachable", taints=[{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]
        ),
        "no-network": node(
            "no-network",
            taints=[{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}],
        ),
    }
    everywhere = Placement.of(ds())
    verdicts = {name: everywhere.should_run(n) for name, n in nodes.items()}
    assert verdicts == {
        "plain": (True, True),
        "edge": (True, True),
        "tainted": (False, True),  # NoSchedule: not started, but one running may stay
        "evicting": (False, False),
        "cordoned": (True, True),
        "pressure": (True, True),
        "unreachable": (True, True),
        "no-network": (False, True),  # tolerated only for hostNetwork pods
    }
    assert Placement.of(ds(hostNetwork=True)).should_run(nodes["no-network"]) == (True, True)
    assert Placement.of(ds(tolerations=[{"key": "gpu", "operator": "Exists"}])).should_run(
        nodes["evicting"]
    ) == (True, True)
    selected = Placement.of(ds(nodeSelector={"role": "edge"}))
    assert [n for n in nodes if selected.should_run(nodes[n])[0]] == ["edge"]
    term = {"matchExpressions": [{"key": "role", "operator": "NotIn", "values": ["edge"]}]}
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [term]}}}  # fmt: skip
    avoiding = Placement.of(ds(affinity=affinity))
    assert not avoiding.should_run(nodes["edge"])[0] and avoiding.should_run(nodes["plain"])[0]


def test_the_pod_for_a_node_asks_the_scheduler_for_it():
    term = {"matchExpressions": [{"key": "role", "operator": "Exists"}]}
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [term]}}}  # fmt: skip
    body = pod_for_node(ds(affinity=affinity, hostNetwork=True), "node-7", "abc")
    assert "nodeName" not in body["spec"]
    assert body["metadata"]["generateName"] == "agent-"
    assert body["metadata"]["labels"] == {"app": "agent", HASH_LABEL: "abc"}
    assert body["metadata"]["ownerReferences"][0]["uid"] == "ds-uid"
    required = body["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    assert required == {
        "nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-7"]}]}
        ]
    }
    keys = [(t["key"], t["effect"]) for t in body["spec"]["tolerations"]]
    assert ("node.kubernetes.io/not-ready", "NoExecute") in keys
    assert ("node.kubernetes.io/network-unavailable", "NoSchedule") in keys
    assert all("tolerationSeconds" not in t for t in body["spec"]["tolerations"])
    unbound = api.load(
        {**body, "metadata": {**body["metadata"], "name": "agent-x"}}, check=False
    ).obj
    assert target_node(unbound) == "node-7"  # counted for its node before it is bound


def test_manage_creates_missing_deletes_extra_and_pods_of_gone_nodes():
    nodes = [node("a"), node("b"), node("c", taints=[{"key": "x", "effect": "NoExecute"}])]
    pods = plan.by_node(
        [
            pod("a-old", "a", "h", created=1),
            pod("a-dup", "a", "h", created=2),
            pod("c-1", "c", "h"),
            pod("gone-1", "gone", "h"),
            pod("b-done", "b", "h", phase="Succeeded"),
        ]
    )
    decided = plan.manage(nodes, Placement.of(ds()), pods, "h", surge=False, available=available)
    assert decided.create_on == ()  # b's finished pod is deleted first, then b gets one
    assert sorted(decided.delete) == ["a-dup", "b-done", "c-1", "gone-1"]
    decided = plan.manage(nodes, Placement.of(ds()), {}, "h", surge=False, available=available)
    assert decided.create_on == ("a", "b")
    # a failed pod: deleted only when its node's back-off allows
    failed = plan.by_node([pod("a-failed", "a", "h", phase="Failed")])
    held = plan.manage(
        nodes[:1], Placement.of(ds()), failed, "h", surge=False, available=available,
        may_delete_failed=lambda n: False,
    )  # fmt: skip
    assert held == plan.Plan()
    allowed = plan.manage(
        nodes[:1], Placement.of(ds()), failed, "h", surge=False, available=available
    )
    assert allowed.delete == ("a-failed",)


def test_rolling_update_without_surge_stays_within_max_unavailable():
    nodes = [node(f"n{i}") for i in range(5)]
    placement = Placement.of(ds())
    old = {f"n{i}": [pod(f"old-{i}", f"n{i}", "old")] for i in range(5)}
    budget = plan.Budget.of(5, 2, 0)
    decided = plan.rolling_update(nodes, placement, old, "new", budget, available)
    assert decided == plan.Plan(delete=("old-0", "old-1"))
    # one node updated but its new pod not yet available, one being replaced (no pod)
    pods = dict(old)
    pods["n0"] = [pod("new-0", "n0", "new", ready=False)]
    pods["n1"] = []
    decided = plan.rolling_update(nodes, placement, pods, "new", budget, available)
    assert decided == plan.Plan()  # two unavailable already
    # an old pod that is not available is replaced whatever the budget
    pods["n2"] = [pod("old-2", "n2", "old", ready=False)]
    decided = plan.rolling_update(nodes, placement, pods, "new", budget, available)
    assert decided == plan.Plan(delete=("old-2",))
    # percentages round up: 10% of 5 nodes is 1
    assert plan.Budget.of(5, "10%", 0).max_unavailable == 1
    assert plan.Budget.of(5, 0, 0).max_unavailable == 1  # impossible: one at a time


def test_rolling_update_with_surge_starts_new_pods_beside_the_old():
    nodes = [node(f"n{i}") for i in range(3)]
    placement = Placement.of(ds())
    pods = {f"n{i}": [pod(f"old-{i}", f"n{i}", "old")] for i in range(3)}
    budget = plan.Budget.of(3, 0, 1)
    decided = plan.rolling_update(nodes, placement, pods, "new", budget, available)
    assert decided == plan.Plan(create_on=("n0",))
    # the new pod on n0 not yet available: nothing more
    pods["n0"] = [pods["n0"][0], pod("new-0", "n0", "new", ready=False, created=5)]
    assert plan.rolling_update(nodes, placement, pods, "new", budget, available) == plan.Plan()
    # available: the old one goes, and manage keeps both meanwhile
    pods["n0"] = [pods["n0"][0], pod("new-0", "n0", "new", created=5)]
    decided = plan.rolling_update(nodes, placement, pods, "new", budget, available)
    assert decided.delete == ("old-0",)
    kept = plan.manage(nodes, placement, {"n0": pods["n0"]}, "new", surge=True, available=available)
    assert "old-0" in kept.delete  # manage too: the new pod is available
    waiting = {"n0": [pods["n0"][0], pod("new-0", "n0", "new", ready=False, created=5)]}
    kept = plan.manage(nodes[:1], placement, waiting, "new", surge=True, available=available)
    assert kept == plan.Plan()  # both stay while the new one is not available
