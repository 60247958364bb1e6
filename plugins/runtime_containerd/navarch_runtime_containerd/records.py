"""containerd's objects as Navarch sees them: plain frozen records, so nothing outside
the client touches the generated protobuf messages."""

from __future__ import annotations

from collections.abc import Mapping

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
