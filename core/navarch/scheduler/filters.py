"""The core's filters (Kubernetes' default filters), one per concern, and the taint score.

Each filter has a name a profile can set to 0 to turn it off (``scheduler.weights:
{taints: 0}``, or a registered profile that maps the name to 0):

    node-name      NodeName           node(s) didn't match the requested node name
    cordon         NodeUnschedulable  node(s) were unschedulable
    node-affinity  NodeAffinity       node(s) didn't match Pod's node affinity/selector
    taints         TaintToleration    node(s) had untolerated taint {key: value}
    resources      NodeResourcesFit   Insufficient cpu, Insufficient memory, Too many pods

The reasons are Kubernetes' own words, because users search for them. A node gets the
reason of the first filter (in this order) that rejects it, as in Kubernetes. A
malformed pod field (say a toleration that slipped past validation) makes a filter
reject with a reason, never raise: one bad pod must not stop the scheduler.

All filters run in one hook call per batch of nodes, with the common case inline: a
pod without placement rules on an untainted, schedulable node with room passes every
filter, so it passes any subset the profile keeps and needs no per-filter call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import attrs

from navarch import hookimpl
from navarch.api import selectors
from navarch.api.core_v1 import NodeSelectorTerm, Pod, Taint, Toleration
from navarch.scheduler.framework import (
    TAINT_TOLERATION,
    CycleState,
    ScoreResult,
    request_of,
    tolerates,
)
from navarch.scheduler.nodeinfo import NodeInfo, PodRequest

UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
TAINT_SCORE = TAINT_TOLERATION  # the name profiles used before it moved to the framework

CORDON = "cordon"
NODE_NAME = "node-name"
NODE_AFFINITY = "node-affinity"
TAINTS = "taints"
RESOURCES = "resources"


@attrs.frozen
class PodTerms:
    """What the filters ask of one pod, read from its spec once per cycle."""

    request: PodRequest
    node_name: str | None
    tolerations: tuple[Toleration, ...]
    selector: Mapping[str, str]
    terms: tuple[NodeSelectorTerm, ...]

    @classmethod
    def of(cls, pod: Pod, state: CycleState) -> PodTerms:
        spec = pod.spec
        affinity = spec.affinity.node_affinity if spec and spec.affinity else None
        required = (
            affinity.required_during_scheduling_ignored_during_execution if affinity else None
        )
        return cls(
            request=request_of(pod, state),
            node_name=spec.node_name if spec else None,
            tolerations=tuple((spec.tolerations if spec else None) or ()),
            selector=dict((spec.node_selector if spec else None) or {}),
            terms=tuple((required.node_selector_terms if required else None) or ()),
        )

    @property
    def has_placement_rules(self) -> bool:
        return bool(self.node_name or self.selector or self.terms)


Check = Callable[[NodeInfo, PodTerms], str | None]


def filter_cordoned(info: NodeInfo, pod: PodTerms) -> str | None:
    if not info.unschedulable:
        return None
    taint = Taint(key=UNSCHEDULABLE_TAINT, effect="NoSchedule")
    if any(tolerates(t, taint) for t in pod.tolerations):
        return None
    return "node(s) were unschedulable"


def filter_node_name(info: NodeInfo, pod: PodTerms) -> str | None:
    if pod.node_name and pod.node_name != info.name:
        return "node(s) didn't match the requested node name"
    return None


def filter_node_affinity(info: NodeInfo, pod: PodTerms) -> str | None:
    labels = info.labels
    if any(labels.get(k) != v for k, v in pod.selector.items()) or (
        pod.terms and not any(term_matches(term, info) for term in pod.terms)
    ):
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


def filter_taints(info: NodeInfo, pod: PodTerms) -> str | None:
    for taint in info.taints:
        if taint.effect in ("NoSchedule", "NoExecute") and not any(
            tolerates(t, taint) for t in pod.tolerations
        ):
            return f"node(s) had untolerated taint {{{taint.key}: {taint.value or ''}}}"
    return None


def filter_resources(info: NodeInfo, pod: PodTerms) -> str | None:
    request = pod.request
    reasons = []
    if len(info.pods) + 1 > info.allocatable_pods:
        reasons.append("Too many pods")
    if request.cpu and info.requested_cpu + request.cpu > info.allocatable_cpu:
        reasons.append("Insufficient cpu")
    if request.memory and info.requested_memory + request.memory > info.allocatable_memory:
        reasons.append("Insufficient memory")
    return ", ".join(reasons) or None


# The first filter (in this order) that rejects a node gives its reason.
CORE_FILTERS: tuple[tuple[str, Check], ...] = (
    (NODE_NAME, filter_node_name),
    (CORDON, filter_cordoned),
    (NODE_AFFINITY, filter_node_affinity),
    (TAINTS, filter_taints),
    (RESOURCES, filter_resources),
)
FILTER_NAMES = tuple(name for name, _ in CORE_FILTERS)


@hookimpl
def navarch_filter(
    pod: Pod, nodes: Sequence[NodeInfo], state: CycleState
) -> Mapping[str, str] | None:
    """The core filters the profile keeps, in one pass over the nodes."""
    # Read the pod and the profile once per cycle, not once per batch of nodes.
    cached = state.read("core-filters")
    if cached is None:
        checks = [check for name, check in CORE_FILTERS if state.runs_filter(name)]
        cached = (PodTerms.of(pod, state), checks)
        state.write("core-filters", cached)
    terms, checks = cached
    fast_path = not terms.has_placement_rules
    cpu, memory = terms.request.cpu, terms.request.memory
    rejected: dict[str, str] = {}
    for info in nodes:
        # The common case first, inline: it passes every filter, so any subset too.
        if (
            fast_path
            and not info.unschedulable
            and not info.taints
            and len(info.pods) < info.allocatable_pods
            and info.requested_cpu + cpu <= info.allocatable_cpu
            and info.requested_memory + memory <= info.allocatable_memory
        ):
            continue
        for check in checks:
            reason = check(info, terms)
            if reason:
                rejected[info.name] = reason
                break
    return rejected


# --- score --------------------------------------------------------------------------------


@hookimpl
def navarch_score(pod: Pod, nodes: Sequence[NodeInfo], state: CycleState) -> ScoreResult | None:
    """taint-toleration: fewer untolerated PreferNoSchedule taints score higher.

        score(node) = 100 * (1 - untolerated(node) / max(untolerated over nodes))

    (100 everywhere when no node has any), as Kubernetes normalises it.
    """
    if not state.wants(TAINT_TOLERATION):
        return None
    tolerations = tuple((pod.spec.tolerations if pod.spec else None) or ())
    if not any(info.taints for info in nodes):
        return ScoreResult(TAINT_TOLERATION, {info.name: 100 for info in nodes})
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
        return ScoreResult(TAINT_TOLERATION, dict.fromkeys(counts, 100))
    return ScoreResult(
        TAINT_TOLERATION, {name: 100 - 100 * count // worst for name, count in counts.items()}
    )
