"""ControllerRevisions (``/apis/apps/v1``): the immutable template snapshots DaemonSets
and StatefulSets keep for ``kubectl rollout history`` and ``rollout undo``."""

from __future__ import annotations

from typing import Any

from navarch.api import errors
from navarch.api.apps_v1 import ControllerRevision
from navarch.api.errors import FieldError
from navarch.api.field_checks import non_negative
from navarch.printers.simple import CONTROLLER_REVISION_PRINTER
from navarch.resources.spec import Resource
from navarch.resources.strategy import DELETE_DEPENDENTS, Strategy


class ControllerRevisionStrategy(Strategy):
    garbage_collection = DELETE_DEPENDENTS

    def validate(self, obj: Any) -> list[FieldError]:
        return non_negative(obj.revision, "revision")

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        # Kubernetes' ValidateControllerRevisionUpdate: a snapshot never changes; only
        # its revision number may (a rollback to it renumbers it).
        if new.data != old.data:
            return [errors.invalid("data", "<snapshot>", "field is immutable")]
        return []


CONTROLLER_REVISIONS = Resource.for_model(
    ControllerRevision,
    strategy=ControllerRevisionStrategy(),
    printer=CONTROLLER_REVISION_PRINTER,
    description="ControllerRevision implements an immutable snapshot of state data.",
)
