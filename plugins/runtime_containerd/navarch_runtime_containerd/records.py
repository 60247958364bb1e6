"""containerd's objects as Navarch sees them: plain frozen records, so nothing outside
the client touches the generated protobuf messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

# Snapshot kinds, as containerd numbers them (snapshots.v1 Kind).
KIND_VIEW, KIND_ACTIVE, KIND_COMMITTED = "view", "active", "committed"


@attrs.frozen
class VersionInfo:
    version: str
    revision: str


@attrs.frozen
class Descriptor:
    """An OCI content descriptor: what a blob is, its digest and size."""

    media_type: str
    digest: str
    size: int
    annotations: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class Mount:
    """A mount the snapshotter asks for (``type``, ``source``, ``options``) to see a
    snapshot's file system; ``mount -t TYPE -o OPTIONS SOURCE TARGET``."""

    type: str
    source: str
    target: str = ""
    options: tuple[str, ...] = ()


@attrs.frozen
class ContentInfo:
    digest: str
    size: int
    labels: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class ImageRecord:
    """An image record: a name pointing at a manifest (or index) in the content store."""

    name: str
    target: Descriptor
    labels: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class SnapshotInfo:
    name: str
    parent: str
    kind: str  # KIND_VIEW, KIND_ACTIVE, KIND_COMMITTED or "unknown"
    labels: Mapping[str, str] = attrs.field(factory=dict)


# Task states, as containerd names them (types.v1 Status).
TASK_CREATED, TASK_RUNNING, TASK_STOPPED, TASK_PAUSED = "created", "running", "stopped", "paused"


@attrs.frozen
class ContainerRecord:
    """A container record: metadata only (no process); ``spec`` is its OCI runtime
    spec, decoded from JSON (empty when the record carries none or another type)."""

    id: str
    image: str
    runtime: str
    snapshotter: str
    snapshot_key: str
    labels: Mapping[str, str] = attrs.field(factory=dict)
    spec: Mapping[str, Any] = attrs.field(factory=dict)
    created_at: float | None = None


@attrs.frozen
class TaskProcess:
    """A task's process (``exec_id`` "") or an exec'd process in it, as containerd
    reports it; ``exit_status`` and ``exited_at`` mean something once ``stopped``."""

    container_id: str
    exec_id: str
    pid: int
    status: str  # TASK_CREATED, TASK_RUNNING, TASK_STOPPED, TASK_PAUSED, "pausing", "unknown"
    exit_status: int = 0
    exited_at: float | None = None


@attrs.frozen
class TaskExit:
    """How a process ended: its exit status (128 + N when killed by signal N) and when."""

    exit_status: int
    exited_at: float | None = None
    pid: int = 0
