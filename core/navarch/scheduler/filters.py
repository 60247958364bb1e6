"""The core's filter plugins (Kubernetes' default filters) and the taint score.

Each filter returns ``{node name: reason}`` for the nodes it rejects; the reasons are
Kubernetes' own words, because users search for them. A malformed pod field (say a
toleration that slipped past validation) makes a filter reject with a reason, never
raise: one bad pod must not stop the scheduler.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from navarch import hookimpl
from navarch.api import selectors
from navarch.api.core_v1 import NodeSelectorTerm, Pod, Taint, Toleration
from navarch.scheduler.framework import CycleState, ScoreResult
from navarch.scheduler.nodeinfo import NodeInfo, PodRequest

UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
TAINT_SCORE = "taint-toleration"


def request_of(pod: Pod, state: CycleState) -> PodRequest:
    """The pod's request, computed once per cycle and shared by every plugin."""
    request = state.read("pod-request")
    if request is None:
        request = PodRequest.of(pod)
        state.write("pod-request", request)
    return request


# --- filters ---------------------------------------------------------------------------


@hookimpl
def navarch_filter(
    pod: Pod, nodes: Sequence[NodeInfo], state: CycleState
) -> Mapping[str, str] | None:
    """All of the core's filters in one pass over the nodes (one hook call per pod)."""
    request = request_of(pod, state)
    spec = pod.spec
    tolerations = tuple((spec.tolerations if spec else None) or ())
    selector = dict((spec.node_selector if spec else None) or {})
    affinity = spec.affinity.node_affinity if spec and spec.affinity else None
    terms = ()
    if affinity and affinity.required_during_scheduling_ignored_during_execution:
        terms = (
            affinity.required_during_scheduling_ignored_during_execution.node_selector_terms or ()
        )
    wanted_node = spec.node_name if spec else None
    rejected: dict[str, str] = {}
    placement_rules = bool(wanted_node or selector or terms)
    cpu, memory = request.cpu, request.memory
    for info in nodes:
        # The common case first, inline: an untainted, schedulable node with room.
        if (
            not placement_rules
            and not info.unschedulable
            and not info.taints
            and len(info.pods) < info.allocatable_pods
            and info.requested_cpu + cpu <= info.allocatable_cpu
            and info.requested_memory + memory <= info.allocatable_memory
        ):
            continue
        reason = (
            _node_name(info, wanted_node)
            or _unschedulable(info, tolerations)
            or _node_affinity(info, selector, terms)
            or _taints(info, tolerations)
            or _fits(info, request)
        )
        if reason:
            rejected[info.name] = reason
    return rejected


def _node_name(info: NodeInfo, wanted: str | None) -> str | None:
    if wanted and wanted != info.name:
        return "node(s) didn't match the requested node name"
    return None


def _unschedulable(info: NodeInfo, tolerations: tuple[Toleration, ...]) -> str | None:
    if not info.unschedulable:
        return None
    taint = Taint(key=UNSCHEDULABLE_TAINT, effect="NoSchedule")
    if any(tolerates(t, taint) for t in tolerations):
        return None
    return "node(s) were unschedulable"


def _node_affinity(
    info: NodeInfo, selector: dict[str, str], terms: tuple[NodeSelectorTerm, ...]
) -> str | None:
    labels = info.labels
    if any(labels.get(k) != v for k, v in selector.items()):
        return "node(s) didn't match Pod's node affinity/selector"
    if terms and not any(term_matches(term, info) for term in terms):
        return "node(s) didn't match Pod's node affinity/selector"
    return None


def term_matches(term: NodeSelectorTerm, info: NodeInfo) -> bool:
    """A node selector term: all its expressions hold (an empty term matches nothing)."""
    expressions = term.match_expressions or ()
    fields = term.match_fields or ()
    if not expressions and not fields:
        return False
    for expression in expressions:
        requirement = selectors.Requirement(
            expression.key or "", expression.operator or "", tuple(expression.values or ())
        )
        if requirement.operator not in selectors.NODE_OPERATORS or not requirement.matches(
            info.labels
        ):
            return False
    for field in fields:  # Kubernetes supports metadata.name only
        requirement = selectors.Requirement(
            field.key or "", field.operator or "", tuple(field.values or ())
        )
        if field.key != "metadata.name" or not requirement.matches({"metadata.name": info.name}):
            return False
    return True


def _taints(info: NodeInfo, tolerations: tuple[Toleration, ...]) -> str | None:
    for taint in info.taints:
        if taint.effect in ("NoSchedule", "NoExecute") and not any(
            tolerates(t, taint) for t in tolerations
        ):
            return f"node(s) had untolerated taint {{{taint.key}: {taint.value or ''}}}"
    return None


def tolerates(toleration: Toleration, taint: Taint) -> bool:
    """Kubernetes' ToleratesTaint: effect (empty = all), key (empty + Exists = all),
    operator Exists (any value) or Equal (same value)."""
    if toleration.effect and toleration.effect != taint.effect:
        return False
    if toleration.key and toleration.key != taint.key:
        return False
    operator = toleration.operator or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return bool(toleration.key) and (toleration.value or "") == (taint.value or "")
    return False  # a malformed operator tolerates nothing


def _fits(info: NodeInfo, request: PodRequest) -> str | None:
    reasons = []
    if len(info.pods) + 1 > info.allocatable_pods:
        reasons.append("Too many pods")
    if request.cpu and info.requested_cpu + request.cpu > info.allocatable_cpu:
        reasons.append("Insufficient cpu")
    if request.memory and info.requested_memory + request.memory > info.allocatable_memory:
        reasons.append("Insufficient memory")
    return ", ".join(reasons) or None


# --- score --------------------------------------------------------------------------------


@hookimpl
def navarch_score(pod: Pod, nodes: Sequence[NodeInfo], state: CycleState) -> ScoreResult | None:
    """taint-toleration: fewer untolerated PreferNoSchedule taints score higher.

        score(node) = 100 * (1 - untolerated(node) / max(untolerated over nodes))

    (100 everywhere when no node has any), as Kubernetes normalises it.
    """
    if not state.wants(TAINT_SCORE):
        return None
    tolerations = tuple((pod.spec.tolerations if pod.spec else None) or ())
    if not any(info.taints for info in nodes):
        return ScoreResult(TAINT_SCORE, {info.name: 100 for info in nodes})
    counts = {
        info.name: sum(
            1
            for taint in info.taints
            if taint.effect == "PreferNoSchedule"
            and not any(tolerates(t, taint) for t in tolerations)
        )
        for info in nodes
    }
    worst = max(counts.values(), default=0)
    if not worst:
        return ScoreResult(TAINT_SCORE, dict.fromkeys(counts, 100))
    return ScoreResult(
        TAINT_SCORE, {name: 100 - 100 * count // worst for name, count in counts.items()}
    )
