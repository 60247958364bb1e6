"""Navarch's containerd runtime (in progress, issue 12): containerd's own gRPC API
over its unix socket with grpcio, no ``ctr`` and no Docker in between.

What exists: :class:`ContainerdClient` (version, namespaces, leases, content,
images, snapshots, diff) and :func:`import_image_archive`. What does not yet:
containers, tasks, the Runtime contract. So this plugin registers no runtime: the
name ``containerd`` stays unregistered until the whole contract works.
"""

from __future__ import annotations

from navarch.logs import quiet_until_configured
from navarch_runtime_containerd.client import (
    DEFAULT_NAMESPACE,
    DEFAULT_SNAPSHOTTER,
    ContainerdClient,
)
from navarch_runtime_containerd.errors import AlreadyExists, ContainerdError
from navarch_runtime_containerd.importer import chain_ids, import_image_archive
from navarch_runtime_containerd.records import (
    ContentInfo,
    Descriptor,
    ImageRecord,
    Mount,
    SnapshotInfo,
    VersionInfo,
)

__all__ = [
    "DEFAULT_NAMESPACE",
    "DEFAULT_SNAPSHOTTER",
    "AlreadyExists",
    "ContainerdClient",
    "ContainerdError",
    "ContentInfo",
    "Descriptor",
    "ImageRecord",
    "Mount",
    "SnapshotInfo",
    "VersionInfo",
    "chain_ids",
    "import_image_archive",
]

quiet_until_configured(__name__)
