"""A kind of the plugin's own: ``Backup`` (``example.navarch.io/v1``, namespaced), served
by the API server like a core kind — CRUD, watch, ``kubectl get backups``/``bk`` with
its columns, discovery and OpenAPI — with no change in Navarch.

A spec says what the API server needs: the attrs model (its schema), the strategy
(status is a subresource; spec changes bump ``metadata.generation``), a short name,
a category, a selectable field and the printer columns.
"""

from __future__ import annotations

from navarch.api.meta import TopLevel
from navarch.api.schema import Model, model, wire
from navarch.printers.cells import Column, field_printer
from navarch.resources import Resource, Strategy, dotted
from navarch.resources.strategy import DELETE_DEPENDENTS


@model()
class BackupSpec(Model):
    """What to back up and how often."""

    schedule: str | None = wire()  # cron syntax, e.g. "0 3 * * *"
    target: str | None = wire()  # the name of the workload to back up
    retain: int | None = wire()  # how many backups to keep


@model()
class BackupCondition(Model):
    """One observation of the operator's (``Complete``: the backup of the Backup's
    current spec has finished), in Kubernetes' condition shape."""

    type: str | None = wire()
    status: str | None = wire()  # "True", "False" or "Unknown"
    reason: str | None = wire()
    message: str | None = wire()
    last_transition_time: str | None = wire()


@model()
class BackupStatus(Model):
    """Written by the ``backup-operator`` controller through the status subresource."""

    phase: str | None = wire()  # Pending, Running, Succeeded or Failed: its backup pod's
    observed_generation: int | None = wire()  # the spec generation the status is about
    last_backup_time: str | None = wire()  # when the last successful backup finished
    conditions: tuple[BackupCondition, ...] | None = wire()


@model()
class Backup(TopLevel):
    """A scheduled backup of one workload."""

    API_VERSION, KIND, RESOURCE = "example.navarch.io/v1", "Backup", "backups"

    spec: BackupSpec | None = wire()
    status: BackupStatus | None = wire()


class BackupStrategy(Strategy):
    has_status = True  # written only through /status, by the operator that runs backups
    tracks_generation = True
    initial_status = {"phase": "Pending"}
    # A delete without a propagation policy deletes the Backup at once and its backup
    # pods after it (Kubernetes' Background); the garbage collector watches every kind
    # that declares a policy, so it also sees a Backup go.
    garbage_collection = DELETE_DEPENDENTS


BACKUPS = Resource.for_model(
    Backup,
    short_names=("bk",),
    categories=("backups",),
    subresources=("status",),
    strategy=BackupStrategy(),
    field_selectors=dotted("spec.target", "status.phase"),
    printer=field_printer(
        (Column("Schedule", description="When the backup runs (cron)."), "spec.schedule"),
        (Column("Target", description="The workload backed up."), "spec.target"),
        (Column("Retain", "integer", "How many backups are kept."), "spec.retain"),
        (Column("Phase", description="The last backup's phase."), "status.phase"),
    ),
    description="Backup is a scheduled backup of one workload (navarch-example-plugin).",
)
