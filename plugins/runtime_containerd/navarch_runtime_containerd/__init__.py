"""Navarch's containerd runtime (in progress, issue 12): containerd's own gRPC API
over its unix socket with grpcio, no ``ctr`` and no Docker in between.

What exists: :class:`ContainerdClient` (version, namespaces, leases, content,
images, snapshots, diff, containers, tasks), :func:`import_image_archive`,
:func:`resolve_image` and :func:`build_spec` (the OCI runtime spec). What does not
yet: logs, events, pull, the Runtime contract. So this plugin registers no runtime: the
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
from navarch_runtime_containerd.ocispec import ImageConfig, build_spec
from navarch_runtime_containerd.records import (
    ContainerRecord,
    ContentInfo,
    Descriptor,
    ImageRecord,
    Mount,
    SnapshotInfo,
    TaskExit,
    TaskProcess,
    VersionInfo,
)
from navarch_runtime_containerd.resolve import ResolvedImage, resolve_image

__all__ = [
    "DEFAULT_NAMESPACE",
    "DEFAULT_SNAPSHOTTER",
    "AlreadyExists",
    "ContainerRecord",
    "ContainerdClient",
    "ContainerdError",
    "ContentInfo",
    "Descriptor",
    "ImageConfig",
    "ImageRecord",
    "Mount",
    "ResolvedImage",
    "SnapshotInfo",
    "TaskExit",
    "TaskProcess",
    "VersionInfo",
    "build_spec",
    "chain_ids",
    "import_image_archive",
    "resolve_image",
]

quiet_until_configured(__name__)
