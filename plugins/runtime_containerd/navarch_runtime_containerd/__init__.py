"""Navarch's containerd runtime (issue 12, in progress): containerd's own gRPC API
over its unix socket with grpcio, no ``ctr`` and no Docker in between.

Registers the runtime ``containerd`` (:class:`ContainerdRuntime`, options
:class:`ContainerdOptions`): the runtime conformance suite passes on it. Not yet:
pull from a registry (``pull_image`` raises ImagePullError saying so), OOM
detection, exec with a terminal, events, re-attaching output readers after a restart.
Underneath: :class:`ContainerdClient`, :func:`import_image_archive`,
:func:`resolve_image` and :func:`build_spec` (the OCI runtime spec).
"""

from __future__ import annotations

from pathlib import Path

from navarch import hookimpl
from navarch.logs import quiet_until_configured
from navarch_runtime_containerd.client import (
    DEFAULT_NAMESPACE,
    DEFAULT_SNAPSHOTTER,
    ContainerdClient,
)
from navarch_runtime_containerd.errors import AlreadyExists, ContainerdError
from navarch_runtime_containerd.importer import chain_ids, import_image_archive
from navarch_runtime_containerd.ocispec import ImageConfig, build_spec
from navarch_runtime_containerd.options import ContainerdOptions
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
from navarch_runtime_containerd.runtime import ContainerdRuntime

__all__ = [
    "DEFAULT_NAMESPACE",
    "DEFAULT_SNAPSHOTTER",
    "AlreadyExists",
    "ContainerRecord",
    "ContainerdClient",
    "ContainerdError",
    "ContainerdOptions",
    "ContainerdRuntime",
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


def open_runtime(options: ContainerdOptions, data_dir: str) -> ContainerdRuntime:
    # data_dir holds the sandboxes' state and network namespaces, the containers'
    # state and logs: what containerd itself does not keep
    return ContainerdRuntime(options, Path(data_dir) / "containerd")


@hookimpl
def navarch_register_runtimes(register) -> None:
    register("containerd", open_runtime, options=ContainerdOptions)


quiet_until_configured(__name__)
