"""Where a pod may run, beyond what Navarch's scheduler acts on: pod (anti-)affinity,
topology spread constraints, the pod's OS and its scheduling gates.
"""

from __future__ import annotations

from navarch.api.meta import LabelSelector
from navarch.api.schema import Model, model, wire


@model()
class PodAffinityTerm(Model):
    label_selector: LabelSelector | None = wire()
    namespaces: tuple[str, ...] | None = wire()
    topology_key: str | None = wire()
    namespace_selector: LabelSelector | None = wire()
    match_label_keys: tuple[str, ...] | None = wire()
    mismatch_label_keys: tuple[str, ...] | None = wire()


@model()
class WeightedPodAffinityTerm(Model):
    weight: int | None = wire()
    pod_affinity_term: PodAffinityTerm | None = wire()


@model()
class PodAffinity(Model):
    """PodAffinity and PodAntiAffinity: the same two lists."""

    required_during_scheduling_ignored_during_execution: tuple[PodAffinityTerm, ...] | None = wire()
    preferred_during_scheduling_ignored_during_execution: (
        tuple[WeightedPodAffinityTerm, ...] | None
    ) = wire()


@model()
class TopologySpreadConstraint(Model):
    max_skew: int | None = wire()
    topology_key: str | None = wire()
    when_unsatisfiable: str | None = wire()
    label_selector: LabelSelector | None = wire()
    min_domains: int | None = wire()
    node_affinity_policy: str | None = wire()
    node_taints_policy: str | None = wire()
    match_label_keys: tuple[str, ...] | None = wire()


@model()
class PodOS(Model):
    name: str | None = wire()


@model()
class PodSchedulingGate(Model):
    name: str | None = wire()
