"""The host side of a container's bind mounts (``ContainerConfig.mounts``), checked
before the spec is built, as containerd's CRI plugin does (``WithMounts``): the host
path must exist (the agent prepares it; a runtime never creates it), symlinks in it
are resolved (runc would otherwise resolve them inside the container's root), and a
propagating mount needs a host path on a mount that propagates: ``HostToContainer``
a shared or slave one, ``Bidirectional`` a shared one. The errors say which."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from navarch.runtime.types import Mount, MountPropagation

MOUNTINFO = Path("/proc/self/mountinfo")


class MountError(ValueError):
    """A mount the runtime cannot bind; the message says why and what to do."""


def resolve_mounts(mounts: Sequence[Mount], mountinfo: Path = MOUNTINFO) -> tuple[Mount, ...]:
    """``mounts`` with each host path absolute and free of symlinks; raises
    :class:`MountError` for a missing host path or one whose mount does not
    propagate as asked."""
    resolved = []
    table: list[tuple[str, frozenset[str]]] | None = None
    for mount in mounts:
        if not os.path.lexists(mount.host_path):
            raise MountError(
                f"mount {mount.container_path!r}: the host path {mount.host_path!r} does not "
                "exist (the agent prepares it before the container is created)"
            )
        host_path = os.path.realpath(mount.host_path)
        if mount.propagation != MountPropagation.NONE:
            table = table if table is not None else _mount_table(mountinfo)
            _check_propagation(mount, host_path, table)
        resolved.append(attrs.evolve(mount, host_path=host_path))
    return tuple(resolved)


def _check_propagation(
    mount: Mount, host_path: str, table: Iterable[tuple[str, frozenset[str]]]
) -> None:
    point, tags = _containing_mount(host_path, table)
    shared = "shared" in tags
    if mount.propagation == MountPropagation.BIDIRECTIONAL and not shared:
        raise MountError(
            f"mount {mount.container_path!r} asks for Bidirectional propagation, but its "
            f"host path {host_path!r} is on {point!r}, which is not a shared mount "
            f"(mount --make-rshared {point})"
        )
    if not shared and "master" not in tags:
        raise MountError(
            f"mount {mount.container_path!r} asks for HostToContainer propagation, but "
            f"its host path {host_path!r} is on {point!r}, which is neither a shared nor "
            f"a slave mount (mount --make-rshared {point})"
        )


def _mount_table(mountinfo: Path) -> list[tuple[str, frozenset[str]]]:
    """(mount point, its propagation tags: ``shared``, ``master`` …) per mount."""
    table = []
    for line in mountinfo.read_text().splitlines():
        fields = line.split(" - ", 1)[0].split()
        point = fields[4].encode().decode("unicode_escape")  # \040 for a space …
        tags = frozenset(field.split(":", 1)[0] for field in fields[6:])
        table.append((point, tags))
    return table


def _containing_mount(
    path: str, table: Iterable[tuple[str, frozenset[str]]]
) -> tuple[str, frozenset[str]]:
    """The mount ``path`` lies on: the longest mount point above it, the last mounted
    of equal ones (it hides the others)."""
    best: tuple[str, frozenset[str]] = ("/", frozenset())
    for point, tags in table:
        under = path == point or path.startswith(point.rstrip("/") + "/")
        if under and len(point) >= len(best[0]):
            best = (point, tags)
    return best
