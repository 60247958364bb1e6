"""What the scheduling hooks exchange, and the helpers every scheduling plugin shares
(the Kubernetes scheduling framework's shape): the per-cycle state, a score's result,
the pod's request and Kubernetes' toleration rule. Plugins import these from here, never
from another plugin, so a profile can turn any plugin off without breaking the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import attrs

from navarch.api.core_v1 import Pod, Taint, Toleration
from navarch.scheduler.nodeinfo import PodRequest

MIN_SCORE = 0
MAX_SCORE = 100
# The core's taint score: profiles name it, so its name lives beside the other shared names.
TAINT_TOLERATION = "taint-toleration"
# What the scheduler caches besides pods and nodes, for plugins to read (Kubernetes'
# framework handle's informers): listed and watched before the first cycle, and each
# change makes unschedulable pods worth another try.
HANDLE_RESOURCES = ("persistentvolumeclaims", "persistentvolumes", "storageclasses")


class Cluster(Protocol):
    """The framework handle a plugin reads cluster state through (the scheduler's
    shared informers): ``cluster.informer("persistentvolumeclaims").get("ns/name")``.
    A resource not in :data:`HANDLE_RESOURCES` is watched from its first use, so its
    cache may still be empty in that cycle. ``client`` is the scheduler's API client,
    for a plugin's PreBind work inside ``navarch_bind``."""

    client: Any

    def informer(self, plural: str) -> Any: ...


@attrs.define
class CycleState:
    """Scratch space for one scheduling cycle (one pod), keyed by plugin name so that
    plugins never see each other's data by accident."""

    _data: dict[str, Any] = attrs.field(factory=dict)
    # The active profile's weights: a score plugin may skip work no one will weigh, and
    # a filter the profile sets to 0 is turned off.
    weights: Mapping[str, int] | None = None
    # The framework handle (None in tests that give a plugin no cluster).
    cluster: Cluster | None = None

    def wants(self, score: str) -> bool:
        """Whether the profile weighs this score (a score it does not name is not run)."""
        return self.weights is None or bool(self.weights.get(score))

    def runs_filter(self, name: str) -> bool:
        """Whether the profile keeps this filter (filters run unless set to 0)."""
        return self.weights is None or self.weights.get(name, 1) != 0

    def read(self, plugin: str, default: Any = None) -> Any:
        return self._data.get(plugin, default)

    def write(self, plugin: str, value: Any) -> None:
        self._data[plugin] = value


@attrs.frozen
class ScoreResult:
    """One score plugin's verdict on the feasible nodes: ``{node name: 0..100}``."""

    plugin: str
    scores: Mapping[str, int]

    def __attrs_post_init__(self) -> None:
        if (
            self.scores
            and not MIN_SCORE <= min(self.scores.values()) <= max(self.scores.values()) <= MAX_SCORE
        ):
            node, score = next(
                (n, v) for n, v in self.scores.items() if not MIN_SCORE <= v <= MAX_SCORE
            )
            raise ValueError(
                f"score plugin {self.plugin!r} gave node {node!r} the score {score}; "
                f"scores must be within {MIN_SCORE}..{MAX_SCORE}"
            )


def request_of(pod: Pod, state: CycleState) -> PodRequest:
    """The pod's request (CPU, memory, owner), computed once per cycle for every plugin."""
    request = state.read("pod-request")
    if request is None:
        request = PodRequest.of(pod)
        state.write("pod-request", request)
    return request


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
