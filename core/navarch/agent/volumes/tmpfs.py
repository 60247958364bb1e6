"""Memory-backed volume directories: a tmpfs mounted on the directory (emptyDir with
``medium: Memory``, and every secret volume, as the kubelet does so that Secrets never
reach the node's disk), and the bind mounts that pin a checked subPath
(:mod:`navarch.agent.volumes.subpath`). Mounting needs root (CAP_SYS_ADMIN), as the
kubelet's does."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

MNT_DETACH = 2  # umount2: detach now, free once nothing uses it
MS_BIND = 4096


class MountError(OSError):
    """The tmpfs could not be mounted (not root, no tmpfs)."""


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def mount_tmpfs(directory: Path, size_bytes: int | None = None, mode: int = 0o755) -> None:
    """Mount a tmpfs on ``directory`` (made when missing) unless one already is;
    ``size_bytes`` None: tmpfs' own default (half of the memory)."""
    directory.mkdir(parents=True, exist_ok=True)
    if os.path.ismount(directory):
        return
    options = f"mode={mode:o}" + (f",size={size_bytes}" if size_bytes else "")
    result = _libc().mount(b"tmpfs", os.fsencode(directory), b"tmpfs", 0, options.encode())
    if result != 0:
        err = ctypes.get_errno()
        raise MountError(err, f"cannot mount a tmpfs on {directory}: {os.strerror(err)}")


def bind_mount(source: str, target: Path) -> None:
    """Bind ``source`` on ``target`` (which must exist: a directory for a directory, a
    file for a file). ``source`` may be ``/proc/self/fd/N``: the kernel then binds the
    descriptor's inode, not whatever its former path names now."""
    result = _libc().mount(os.fsencode(source), os.fsencode(target), None, MS_BIND, None)
    if result != 0:
        err = ctypes.get_errno()
        raise MountError(err, f"cannot bind {source} on {target}: {os.strerror(err)}")


def unmount(directory: Path) -> None:
    """Unmount what is mounted on ``directory`` (lazily: a process still inside does
    not keep the directory from being removed)."""
    if _libc().umount2(os.fsencode(directory), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        raise MountError(err, f"cannot unmount {directory}: {os.strerror(err)}")


def mounts_below(directory: Path) -> list[Path]:
    """The mount points at or below ``directory``, deepest first (the order to unmount
    them in), from /proc/self/mountinfo."""
    base = os.path.realpath(directory)
    found = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        fields = line.split()
        if len(fields) < 5:
            continue
        point = _unescape(fields[4])
        if point == base or point.startswith(base.rstrip("/") + "/"):
            found.append(Path(point))
    return sorted(set(found), key=lambda p: len(p.parts), reverse=True)


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes."""
    for escaped, plain in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(escaped, plain)
    return field
