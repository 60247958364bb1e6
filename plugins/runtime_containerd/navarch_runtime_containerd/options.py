"""Options of the containerd runtime (``runtime.options`` in the configuration).

Declared once as an attrs class and registered with the runtime, so the core checks
them (with cattrs, see navarch.options) and ``navarch config reference`` lists them.
"""

from __future__ import annotations

from typing import Any

import attrs

from navarch.runtime.registries import registries_option
from navarch_runtime_containerd.defaults import (
    DEFAULT_NAMESPACE,
    DEFAULT_SNAPSHOTTER,
    DEFAULT_TIMEOUT,
)
from navarch_runtime_containerd.logfile import Rotation

DEFAULT_SOCKET = "/run/containerd/containerd.sock"


def _help(text: str) -> dict[str, str]:
    return {"help": text}


def _socket(_: Any, __: attrs.Attribute, value: str) -> None:
    if not value.removeprefix("unix://").startswith("/"):
        raise ValueError(
            f"socket = {value!r}: must be an absolute path to containerd's socket "
            f"(or unix:///path), like {DEFAULT_SOCKET}"
        )


def _not_empty(_: Any, attribute: attrs.Attribute, value: str) -> None:
    if not value:
        raise ValueError(f"{attribute.name} must not be empty")


def _positive(_: Any, attribute: attrs.Attribute, value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} = {value:g}: must be more than 0")


def _at_least(least: int) -> Any:
    def check(_: Any, attribute: attrs.Attribute, value: int) -> None:
        if value < least:
            raise ValueError(f"{attribute.name} = {value}: must be at least {least}")

    return check


@attrs.frozen(kw_only=True)
class ContainerdOptions:
    socket: str = attrs.field(
        default=DEFAULT_SOCKET,
        validator=_socket,
        metadata=_help("Path of containerd's gRPC socket (or unix:///path)."),
    )
    # Navarch's own, apart from Docker's "moby" and Kubernetes' "k8s.io".
    namespace: str = attrs.field(
        default=DEFAULT_NAMESPACE,
        validator=_not_empty,
        metadata=_help("containerd namespace holding Navarch's images and containers."),
    )
    snapshotter: str = attrs.field(
        default=DEFAULT_SNAPSHOTTER,
        validator=_not_empty,
        metadata=_help("containerd snapshotter for image layers and container rootfs."),
    )
    timeout: float = attrs.field(
        default=DEFAULT_TIMEOUT,
        validator=_positive,
        metadata=_help("Deadline of each containerd call, in seconds (transfers get longer)."),
    )
    registries: str = registries_option()
    log_max_bytes: int = attrs.field(
        default=10 << 20,
        validator=_at_least(4096),
        metadata=_help(
            "A container's log file is rotated once it reaches this many bytes "
            "(the kubelet's containerLogMaxSize: 10 MiB)."
        ),
    )
    log_max_files: int = attrs.field(
        default=5,
        validator=_at_least(2),
        metadata=_help(
            "Log files kept per container, the live one included (the kubelet's "
            "containerLogMaxFiles: 5); the oldest is deleted."
        ),
    )

    def rotation(self) -> Rotation:
        return Rotation(self.log_max_bytes, self.log_max_files)
