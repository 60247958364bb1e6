"""``subPath`` and ``subPathExpr``: a path inside a volume, made when missing, that must
stay inside it. The kubelet's checks (pkg/kubelet/kubelet_pods.go makeMounts and
pkg/volume/util/subpath), with its messages: no absolute path, no ``..`` element, and
no symlink on the way leading out of the volume (a container could otherwise plant
``link -> /etc`` in its volume and have the next container mount the host's /etc).

Checking a path is not enough: a container sharing the volume can swap a checked
directory for a symlink between the check and the runtime's bind mount (the race of
CVE-2017-1002101). So, as the kubelet does, every directory is made with ``mkdirat``
under a descriptor opened without following links, and :func:`open_pinned` opens the
checked path component by component refusing any symlink: the agent bind-mounts that
descriptor (``/proc/self/fd/N``, the inode itself, whatever the path names later) and
hands the runtime the bind (:meth:`navarch.agent.volumes.manager.VolumeManager.sub_path`)."""

from __future__ import annotations

import os
import posixpath
import re
import stat
from collections.abc import Mapping
from pathlib import Path


class SubPathError(ValueError):
    """The subPath may not be used; the container is not created
    (CreateContainerConfigError)."""


_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand_sub_path_expr(expression: str, env: Mapping[str, str]) -> str:
    """``subPathExpr``'s ``$(VAR)`` references from the container's environment; a
    variable that is unset or empty is an error (Kubernetes' ExpandContainerVolumeMounts)."""
    missing: set[str] = set()

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "$"
        found = env.get(name, "")
        if not found:
            missing.add(name)
        return found

    expanded = _REFERENCE.sub(value, expression)
    if missing:
        raise SubPathError(f"missing value for {', '.join(sorted(missing))}")
    return expanded


def prepare_sub_path(volume: Path, sub_path: str) -> Path:
    """The host path of ``sub_path`` inside ``volume``, made (as directories with the
    volume's own mode) when missing; resolved, so that what the runtime binds is what
    was checked."""
    if posixpath.isabs(sub_path):
        raise SubPathError(f"error SubPath `{sub_path}` must not be an absolute path")
    if ".." in sub_path.split("/"):
        raise SubPathError(f"unable to provision SubPath `{sub_path}`: must not contain '..'")
    base = Path(os.path.realpath(volume))
    mode = base.stat().st_mode & 0o7777 if base.is_dir() else 0o755
    current = base
    for part in [p for p in sub_path.split("/") if p not in ("", ".")]:
        candidate = current / part
        if not (candidate.is_symlink() or candidate.exists()):
            _make_directory(base, current, part, mode, sub_path)
        current = Path(os.path.realpath(candidate))
        _within(current, base, sub_path)
    return current


def open_pinned(base: Path, resolved: Path) -> int:
    """An ``O_PATH`` descriptor of ``resolved`` (a path below ``base`` with its links
    already resolved), opened from ``base`` one component at a time without following
    any symlink: a component swapped for a link since the check is refused (the
    kubelet's doSafeOpen). The caller closes it."""
    parts = resolved.relative_to(base).parts
    try:
        fd = os.open(base, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise SubPathError(f"cannot open volume path {str(base)!r}: {exc.strerror}") from exc
    try:
        for part in parts:
            child = os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = child
            if stat.S_ISLNK(os.fstat(fd).st_mode):
                raise SubPathError(
                    f"subpath {str(resolved)!r}: {part!r} became a symbolic link while it was "
                    "being mounted; refused"
                )
    except OSError as exc:
        os.close(fd)
        raise SubPathError(f"cannot open subpath {str(resolved)!r}: {exc.strerror}") from exc
    except SubPathError:
        os.close(fd)
        raise
    return fd


def _make_directory(base: Path, parent: Path, name: str, mode: int, sub_path: str) -> None:
    """``mkdirat`` under a descriptor of the checked ``parent``: a parent swapped for a
    link meanwhile is refused instead of followed out of the volume."""
    fd = open_pinned(base, parent)
    try:
        os.mkdir(name, mode, dir_fd=fd)
        made = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
        try:
            os.fchmod(made, mode)  # mkdir's mode is cut by the umask
        finally:
            os.close(made)
    except FileExistsError:  # made meanwhile: looked at like any existing one
        pass
    except OSError as exc:
        raise SubPathError(
            f"failed to create subPath directory `{sub_path}`: {exc.strerror}"
        ) from exc
    finally:
        os.close(fd)


def _within(path: Path, base: Path, sub_path: str) -> None:
    if path != base and base not in path.parents:
        raise SubPathError(f"subpath {str(path)!r} not within volume path {str(base)!r}")
