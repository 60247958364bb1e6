"""Navarch's containerd runtime: containerd's own gRPC API over its unix socket with
grpcio, no ``ctr`` and no Docker in between.

Registers the runtime ``containerd`` (:class:`ContainerdRuntime`, options
:class:`ContainerdOptions`). Underneath: :class:`ContainerdClient`,
:func:`import_image_archive`, :func:`resolve_image` and :func:`build_spec` (the OCI
runtime spec).

gRPC and the generated messages are imported only when a runtime is opened (or one of
the names below is asked for): every Navarch process loads every installed plugin to
read its options, and an API server or a Docker node has no use for them (about
16 MiB resident).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from navarch import hookimpl
from navarch.logs import quiet_until_configured
from navarch_runtime_containerd.defaults import DEFAULT_NAMESPACE, DEFAULT_SNAPSHOTTER
from navarch_runtime_containerd.options import ContainerdOptions

if TYPE_CHECKING:
    from navarch_runtime_containerd.runtime import ContainerdRuntime

# name -> the module that defines it, imported on first use
_LAZY = {
    "AlreadyExists": "errors",
    "ContainerdError": "errors",
    "ContainerdClient": "client",
    "ContainerdRuntime": "runtime",
    "ContainerRecord": "records",
    "ContentInfo": "records",
    "Descriptor": "records",
    "ImageRecord": "records",
    "Mount": "records",
    "SnapshotInfo": "records",
    "TaskExit": "records",
    "TaskProcess": "records",
    "VersionInfo": "records",
    "ImageConfig": "ocispec",
    "build_spec": "ocispec",
    "chain_ids": "importer",
    "import_image_archive": "importer",
    "ResolvedImage": "resolve",
    "resolve_image": "resolve",
}

__all__ = ["DEFAULT_NAMESPACE", "DEFAULT_SNAPSHOTTER", "ContainerdOptions", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def open_runtime(options: ContainerdOptions, data_dir: str) -> ContainerdRuntime:
    from navarch_runtime_containerd.runtime import ContainerdRuntime

    # data_dir holds the sandboxes' state and network namespaces, the containers'
    # state and logs: what containerd itself does not keep
    return ContainerdRuntime(options, Path(data_dir) / "containerd")


@hookimpl
def navarch_register_runtimes(register) -> None:
    register("containerd", open_runtime, options=ContainerdOptions)


quiet_until_configured(__name__)
