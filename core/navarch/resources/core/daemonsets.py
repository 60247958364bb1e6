"""DaemonSets (apps/v1): how the API server serves them, with Kubernetes' defaults
(SetDefaults_DaemonSet), validation, and the status subresource the controller
writes (``kubectl rollout status ds/x`` reads it)."""

from __future__ import annotations

from typing import Any

from navarch.api.apps_v1 import DaemonSet
from navarch.api.defaults import default_pod_spec
from navarch.api.errors import FieldError
from navarch.api.validation.daemonsets import validate_daemon_set, validate_daemon_set_update
from navarch.printers.daemonsets import DAEMONSET_PRINTER
from navarch.resources.spec import Resource
from navarch.resources.strategy import DELETE_DEPENDENTS, Obj, Strategy


def _child(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """The mapping at ``parent[key]``, created when absent (a value of the wrong type is
    left for decoding to report)."""
    value = parent.get(key)
    if value is None:
        value = parent[key] = {}
    return value if isinstance(value, dict) else {}


def default_daemon_set(obj: Obj) -> None:
    """Kubernetes' SetDefaults_DaemonSet: RollingUpdate one node at a time (maxUnavailable
    1, maxSurge 0), ten old revisions kept; the template's pod defaults."""
    spec = _child(obj, "spec")
    strategy = _child(spec, "updateStrategy")
    strategy.setdefault("type", "RollingUpdate")
    if strategy.get("type") == "RollingUpdate":
        rolling = _child(strategy, "rollingUpdate")
        rolling.setdefault("maxUnavailable", 1)
        rolling.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    default_pod_spec(_child(_child(spec, "template"), "spec"))


class DaemonSetStrategy(Strategy):
    has_status = True
    tracks_generation = True
    garbage_collection = DELETE_DEPENDENTS  # apps/v1's default: Background
    initial_status: Obj = {
        "currentNumberScheduled": 0,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 0,
        "numberReady": 0,
    }

    def default(self, obj: Obj) -> None:
        default_daemon_set(obj)

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_daemon_set(obj)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return validate_daemon_set_update(new, old)


DAEMONSETS = Resource.for_model(
    DaemonSet,
    short_names=("ds",),
    categories=("all",),
    subresources=("status",),
    strategy=DaemonSetStrategy(),
    printer=DAEMONSET_PRINTER,
    description="DaemonSet represents the configuration of a daemon set.",
)

RESOURCES: tuple[Resource, ...] = (DAEMONSETS,)
