"""StatefulSets (apps/v1): how the API server serves them, with Kubernetes' defaults
(SetDefaults_StatefulSet), validation, and the status and scale subresources
(``kubectl scale sts``)."""

from __future__ import annotations

from typing import Any

from navarch.api import errors, names
from navarch.api.apps_v1 import StatefulSet
from navarch.api.defaults import default_pod_spec
from navarch.api.errors import FieldError
from navarch.api.validation.statefulsets import (
    validate_stateful_set,
    validate_stateful_set_update,
)
from navarch.printers.statefulsets import STATEFULSET_PRINTER
from navarch.resources.spec import Resource
from navarch.resources.strategy import DELETE_DEPENDENTS, Obj, Strategy


def _child(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """The mapping at ``parent[key]``, created when absent (a value of the wrong type is
    left for decoding to report)."""
    value = parent.get(key)
    if value is None:
        value = parent[key] = {}
    return value if isinstance(value, dict) else {}


def default_stateful_set(obj: Obj) -> None:
    """Kubernetes' SetDefaults_StatefulSet."""
    spec = _child(obj, "spec")
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    spec.setdefault("revisionHistoryLimit", 10)
    strategy = _child(spec, "updateStrategy")
    strategy.setdefault("type", "RollingUpdate")
    if strategy.get("type") == "RollingUpdate":
        _child(strategy, "rollingUpdate").setdefault("partition", 0)
    policy = _child(spec, "persistentVolumeClaimRetentionPolicy")
    policy.setdefault("whenDeleted", "Retain")
    policy.setdefault("whenScaled", "Retain")
    default_pod_spec(_child(_child(spec, "template"), "spec"))
    for claim in spec.get("volumeClaimTemplates") or []:
        if isinstance(claim, dict):
            # a claim template is a PersistentVolumeClaim: its own defaults
            _child(claim, "spec").setdefault("volumeMode", "Filesystem")


class StatefulSetStrategy(Strategy):
    has_status = True
    tracks_generation = True
    garbage_collection = DELETE_DEPENDENTS  # apps/v1's default: Background
    initial_status: Obj = {"replicas": 0, "availableReplicas": 0}

    def default(self, obj: Obj) -> None:
        default_stateful_set(obj)

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_stateful_set(obj)

    def validate_create(self, new: Any) -> list[FieldError]:
        # Kubernetes' ValidateStatefulSetName: a DNS label, as its pods' hostnames
        # <set>-<ordinal> must be (a dotted or 64+ character name made a set whose pods
        # were refused for ever). Checked at create only, as Kubernetes does, so a set
        # stored under an older rule can still be updated and deleted.
        return [
            errors.invalid("metadata.name", new.name, problem)
            for problem in names.dns1123_label(new.name or "")
        ]

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return validate_stateful_set_update(new, old)


STATEFULSETS = Resource.for_model(
    StatefulSet,
    short_names=("sts",),
    categories=("all",),
    subresources=("status", "scale"),
    strategy=StatefulSetStrategy(),
    printer=STATEFULSET_PRINTER,
    description=(
        "StatefulSet represents a set of pods with consistent identities: a stable network "
        "name and storage of its own for each."
    ),
)

RESOURCES: tuple[Resource, ...] = (STATEFULSETS,)
