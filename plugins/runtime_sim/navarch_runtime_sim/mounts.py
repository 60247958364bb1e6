"""A simulated container's files: only what its mounts bind (``ContainerConfig.mounts``).
The simulator has no image filesystem, but a mount names a real host path the agent
prepared, so ``cat`` and ``>``/``>>`` on a path under a mount's ``container_path``
read and write the host path below the mount's ``host_path`` — what a bind mount does.
Agent tests on the simulator can so check a configMap volume's file, a write reaching
a hostPath or an emptyDir two containers share.

The host path is opened at each access, so the container sees the host's later
changes (and mounts made under it) at once: the ``HostToContainer`` behaviour, for
every mount. A symlink under the host path is followed on the host (relative ones,
such as a configMap volume's ``..data`` links, resolve as they would in a container).
"""

from __future__ import annotations

import errno
import os
import posixpath
from collections.abc import Sequence
from pathlib import Path

from navarch.runtime.types import Mount


class FileError(Exception):
    """A file operation failed; ``reason`` is the system's words (``Read-only file
    system``, ``No such file or directory``)."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


class MountedFiles:
    """The paths a container reaches through its mounts; relative paths are taken
    from its working directory."""

    def __init__(self, mounts: Sequence[Mount], workdir: str = "/"):
        # Longest container path first: a file mounted inside a mounted directory (a
        # subPath) wins over the directory.
        self._mounts = sorted(
            mounts, key=lambda mount: len(_normal(mount.container_path, "/")), reverse=True
        )
        self._workdir = workdir or "/"

    def covers(self, path: str) -> bool:
        """Whether ``path`` lies under one of the mounts (or is one)."""
        return path == "/dev/null" or self._find(path) is not None

    def read(self, path: str) -> bytes:
        found = self._find(path)
        if found is None:
            raise FileError(path, os.strerror(errno.ENOENT))
        try:
            return found[1].read_bytes()
        except OSError as exc:
            raise FileError(path, os.strerror(exc.errno or errno.EIO)) from None

    def write(self, path: str, data: bytes, *, append: bool) -> None:
        """Write ``data`` to ``path`` (created when missing; truncated first unless
        ``append``); a read-only mount refuses with ``Read-only file system``."""
        if path == "/dev/null":
            return
        found = self._find(path)
        if found is None:
            raise FileError(path, os.strerror(errno.ENOENT))
        mount, host = found
        if mount.read_only:
            raise FileError(path, os.strerror(errno.EROFS))
        try:
            with host.open("ab" if append else "wb") as file:
                file.write(data)
        except FileNotFoundError:
            raise FileError(path, "nonexistent directory") from None  # busybox's words
        except OSError as exc:
            raise FileError(path, os.strerror(exc.errno or errno.EIO)) from None

    def _find(self, path: str) -> tuple[Mount, Path] | None:
        wanted = _normal(path, self._workdir)
        for mount in self._mounts:
            root = _normal(mount.container_path, "/")
            if wanted == root:
                return mount, Path(mount.host_path)
            prefix = root.rstrip("/") + "/"
            if wanted.startswith(prefix):
                return mount, Path(mount.host_path, wanted.removeprefix(prefix))
        return None


def _normal(path: str, workdir: str) -> str:
    """``path`` absolute and without ``.``/``..`` (which never climb above a mount's
    root onto the host: they are resolved in the container's namespace first)."""
    return "/" + posixpath.normpath(posixpath.join("/", workdir, path)).lstrip("/")
