"""A container's ``volumeMounts`` as the runtime's Mounts: the prepared volume's host
path (or a subPath below it), read-only when the mount or the volume says so, with its
propagation. Errors are the kubelet's (makeMounts); the container is then not created
and waits with CreateContainerConfigError."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from navarch.agent.volumes.manager import PodVolumes
from navarch.agent.volumes.subpath import SubPathError, expand_sub_path_expr, prepare_sub_path
from navarch.runtime import Mount, MountPropagation


class MountConfigError(ValueError):
    """A volumeMount that cannot be made."""


# (volume name, index of the mount in the container's list, the volume's host path, the
# subPath) -> what the runtime binds; raises SubPathError.
SubPathSource = Callable[[str, int, Path, str], Path]


def _checked_only(volume: str, index: int, path: Path, sub_path: str) -> Path:
    return prepare_sub_path(path, sub_path)


def container_mounts(
    container: Any,
    volumes: PodVolumes,
    env: Mapping[str, str],
    sub_path_source: SubPathSource = _checked_only,
) -> tuple[Mount, ...]:
    """``sub_path_source``: the agent's pins each subPath with a bind mount
    (:meth:`navarch.agent.volumes.manager.VolumeManager.sub_path`); the default only
    checks and resolves it."""
    mounts = []
    for index, mount in enumerate(container.volume_mounts or ()):
        volume = volumes.get(mount.name)
        if volume is None:
            raise MountConfigError(
                f"cannot find volume {mount.name!r} to mount into container {container.name!r}"
            )
        host = volume.path
        try:
            sub_path = mount.sub_path or ""
            if mount.sub_path_expr:
                sub_path = expand_sub_path_expr(mount.sub_path_expr, env)
            if sub_path:
                host = sub_path_source(mount.name, index, volume.path, sub_path)
        except SubPathError as exc:
            raise MountConfigError(str(exc)) from exc
        mounts.append(
            Mount(
                container_path=mount.mount_path or "",
                host_path=str(host),
                read_only=bool(mount.read_only) or volume.read_only,
                propagation=_propagation(container, mount.mount_propagation),
            )
        )
    return tuple(mounts)


def _propagation(container: Any, value: str | None) -> MountPropagation:
    if value is None:
        return MountPropagation.NONE
    try:
        propagation = MountPropagation(value)
    except ValueError as exc:
        raise MountConfigError(f"invalid MountPropagation mode: {value!r}") from exc
    if propagation is MountPropagation.BIDIRECTIONAL:
        context = container.security_context
        if context is None or not context.privileged:
            raise MountConfigError(
                "Bidirectional mount propagation is available only to privileged containers"
            )
    return propagation
