"""Filters and scores as functions: the formulas, with their edge cases."""

from __future__ import annotations

import pytest

from navarch.api import load
from navarch.api.core_v1 import Taint, Toleration
from navarch.scheduler.decision import unschedulable_message
from navarch.scheduler.filters import navarch_filter, navarch_score
from navarch.scheduler.framework import CycleState, tolerates
from navarch.scheduler.nodeinfo import NodeInfo, PodRequest
from navarch.scheduler.scheduler import nodes_to_find
from navarch_sched_binpack import most_allocated
from navarch_sched_binpack import navarch_score as binpack_score
from navarch_sched_spread import least_allocated, owner_spread
from navarch_sched_spread import navarch_score as spread_score


def node(
    name: str,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: str = "110",
    labels=None,
    taints=None,
    unschedulable: bool = False,
) -> NodeInfo:
    data = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"taints": taints or [], "unschedulable": unschedulable},
        "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods}},
    }
    return NodeInfo.of(load(data).obj)


def pod(
    name: str = "p", cpu: str | None = "1", memory: str | None = "1Gi", owner: str = "", **spec
) -> object:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    meta = {"name": name}
    if owner:
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "rs",
                "uid": owner,
                "controller": True,
            }
        ]
    data = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "containers": [
                {"name": "c", "image": "127.0.0.1:5000/a:1", "resources": {"requests": requests}}
            ],
            **spec,
        },
    }
    return load(data).obj


def filtered(p, nodes):
    return navarch_filter(pod=p, nodes=nodes, state=CycleState())


# --- resources fit -------------------------------------------------------------------------


def test_exact_fit_passes_and_one_more_millicore_does_not():
    full = node("n", cpu="2", memory="2Gi")
    full.add(PodRequest("x/a", 1000, 1024**3, ""))
    assert filtered(pod(cpu="1", memory="1Gi"), [full]) == {}
    assert filtered(pod(cpu="1001m", memory="1Gi"), [full]) == {"n": "Insufficient cpu"}
    assert filtered(pod(cpu="1", memory="1025Mi"), [full]) == {"n": "Insufficient memory"}
    assert filtered(pod(cpu="2", memory="2Gi"), [full]) == {
        "n": "Insufficient cpu, Insufficient memory"
    }


def test_pod_count_and_zero_allocatable():
    assert filtered(pod(), [node("n", pods="0")]) == {
        "n": "Too many pods, Insufficient cpu"
    } or filtered(pod(), [node("n", pods="0")])["n"].startswith("Too many pods")
    assert (
        filtered(pod(cpu=None, memory=None), [node("n", cpu="0", memory="0")]) == {}
    )  # asks for nothing
    assert filtered(pod(cpu="1m", memory=None), [node("n", cpu="0")]) == {"n": "Insufficient cpu"}


def test_limits_count_as_requests_when_requests_are_missing():
    data = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "l"},
        "spec": {
            "containers": [{"name": "c", "image": "x", "resources": {"limits": {"cpu": "3"}}}]
        },
    }
    assert PodRequest.of(load(data).obj).cpu == 3000


# --- taints, selectors, affinity, cordon ---------------------------------------------------


def test_taints_and_tolerations():
    gpu = node("gpu", taints=[{"key": "gpu", "value": "true", "effect": "NoSchedule"}])
    assert filtered(pod(), [gpu]) == {"gpu": "node(s) had untolerated taint {gpu: true}"}
    ok = pod(
        tolerations=[{"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]
    )
    assert filtered(ok, [gpu]) == {}
    assert filtered(pod(tolerations=[{"operator": "Exists"}]), [gpu]) == {}
    wrong_value = pod(tolerations=[{"key": "gpu", "operator": "Equal", "value": "false"}])
    assert filtered(wrong_value, [gpu]) != {}
    soft = node("soft", taints=[{"key": "spot", "effect": "PreferNoSchedule"}])
    assert filtered(pod(), [soft]) == {}  # PreferNoSchedule is a score, not a filter


def test_malformed_toleration_tolerates_nothing_and_does_not_raise():
    assert not tolerates(
        Toleration(key="gpu", operator="Sometimes"), Taint(key="gpu", effect="NoSchedule")
    )


def test_cordoned_nodes_and_not_ready_taints():
    assert filtered(pod(), [node("c", unschedulable=True)]) == {"c": "node(s) were unschedulable"}
    tolerant = pod(tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists"}])
    assert filtered(tolerant, [node("c", unschedulable=True)]) == {}
    not_ready = node("nr", taints=[{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}])
    assert (
        "untolerated taint {node.kubernetes.io/not-ready: }" in filtered(pod(), [not_ready])["nr"]
    )


def test_node_selector_and_required_affinity_operators():
    a = node("a", labels={"zone": "a", "gen": "5", "ssd": "yes"})
    b = node("b", labels={"zone": "b", "gen": "3"})
    assert set(filtered(pod(nodeSelector={"zone": "a"}), [a, b])) == {"b"}

    def affinity(expression):
        term = {"matchExpressions": [expression]}
        return pod(
            affinity={
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}
                }
            }
        )

    assert set(filtered(affinity({"key": "zone", "operator": "In", "values": ["b"]}), [a, b])) == {
        "a"
    }
    assert set(
        filtered(affinity({"key": "zone", "operator": "NotIn", "values": ["b"]}), [a, b])
    ) == {"b"}
    assert set(filtered(affinity({"key": "ssd", "operator": "Exists"}), [a, b])) == {"b"}
    assert set(filtered(affinity({"key": "ssd", "operator": "DoesNotExist"}), [a, b])) == {"a"}
    assert set(filtered(affinity({"key": "gen", "operator": "Gt", "values": ["4"]}), [a, b])) == {
        "b"
    }
    assert set(filtered(affinity({"key": "gen", "operator": "Lt", "values": ["4"]}), [a, b])) == {
        "a"
    }
    reason = filtered(affinity({"key": "zone", "operator": "In", "values": ["c"]}), [a])["a"]
    assert reason == "node(s) didn't match Pod's node affinity/selector"


def test_requested_node_name():
    assert set(filtered(pod(nodeName="b"), [node("a"), node("b")])) == {"a"}


# --- scores --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("free", "allocatable", "score"),
    [(4000, 4000, 100), (0, 4000, 0), (1000, 4000, 25), (-500, 4000, 0), (5, 0, 0)],
)
def test_least_allocated_formula(free, allocatable, score):
    assert least_allocated(free, allocatable) == score


@pytest.mark.parametrize(
    ("requested", "allocatable", "score"),
    [(4000, 4000, 100), (0, 4000, 0), (1000, 4000, 25), (9000, 4000, 100), (5, 0, 0)],
)
def test_most_allocated_formula(requested, allocatable, score):
    assert most_allocated(requested, allocatable) == score


@pytest.mark.parametrize(
    ("count", "most", "score"), [(0, 0, 100), (0, 2, 100), (1, 2, 50), (2, 2, 0)]
)
def test_owner_spread_formula(count, most, score):
    assert owner_spread(count, most) == score


def test_spread_prefers_emptier_nodes_and_other_owners_nodes():
    busy, idle = node("busy"), node("idle")
    busy.add(PodRequest("d/x", 2000, 4 * 1024**3, "rs-1"))
    results = {
        r.plugin: r.scores
        for r in spread_score(pod=pod(owner="rs-1"), nodes=[busy, idle], state=CycleState())
    }
    assert results["least-allocated"]["idle"] > results["least-allocated"]["busy"]
    assert results["owner-spread"] == {"busy": 0, "idle": 100}


def test_binpack_prefers_fuller_nodes():
    busy, idle = node("busy"), node("idle")
    busy.add(PodRequest("d/x", 2000, 4 * 1024**3, ""))
    scores = binpack_score(pod=pod(), nodes=[busy, idle], state=CycleState()).scores
    assert scores["busy"] > scores["idle"]


def test_prefer_no_schedule_taint_score():
    soft = node("soft", taints=[{"key": "spot", "effect": "PreferNoSchedule"}])
    result = navarch_score(pod=pod(), nodes=[soft, node("plain")], state=CycleState())
    assert result.scores == {"soft": 0, "plain": 100}


# --- explanations and sampling ---------------------------------------------------------------


def test_unschedulable_message_in_kubernetes_shape():
    rejected = {
        "a": "Insufficient cpu",
        "b": "Insufficient cpu",
        "c": "Insufficient cpu",
        "d": "node(s) had untolerated taint {gpu: true}",
        "e": "node(s) had untolerated taint {gpu: true}",
    }
    assert unschedulable_message(5, rejected) == (
        "0/5 nodes are available: 3 Insufficient cpu, 2 node(s) had untolerated taint {gpu: true}."
    )
    assert unschedulable_message(0, {}) == "0/0 nodes are available: no nodes registered."


@pytest.mark.parametrize(
    ("total", "enough"), [(3, 3), (100, 100), (1000, 420), (5000, 500), (20000, 1000)]
)
def test_nodes_to_find(total, enough):
    assert nodes_to_find(total) == enough
