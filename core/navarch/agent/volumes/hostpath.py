"""hostPath volumes: the type checks of pkg/volume/hostpath (``DirectoryOrCreate``
makes the directory 0755, ``FileOrCreate`` an empty file 0644, the others only look),
with Kubernetes' messages."""

from __future__ import annotations

import os
import stat
from pathlib import Path

HOST_PATH_TYPES = (
    "",
    "DirectoryOrCreate",
    "Directory",
    "FileOrCreate",
    "File",
    "Socket",
    "CharDevice",
    "BlockDevice",
)


class HostPathError(ValueError):
    """The path is not what its type says (or cannot be made)."""


def check_host_path(path: str, kind: str | None) -> None:
    """Check (or create) ``path`` per its hostPath ``type``; "" or None checks nothing
    (and makes a missing path a directory)."""
    kind = kind or ""
    if kind not in HOST_PATH_TYPES:
        raise HostPathError(f"{kind} is an invalid volume type")
    if not os.path.isabs(path):
        # The API accepts it (as Kubernetes' does); on the node it would name a path
        # below wherever the agent happens to run, made there by DirectoryOrCreate.
        raise HostPathError(f"hostPath {path!r} is not an absolute path; give the full path")
    mode = _mode(path)
    # Unset: nothing is checked; a missing path becomes a directory, which in Kubernetes
    # the container runtime makes when it binds it (ours only bind what exists).
    if kind in ("", "DirectoryOrCreate") and mode is None:
        try:
            Path(path).mkdir(mode=0o755, parents=True, exist_ok=True)
        except OSError as exc:
            raise HostPathError(f"cannot create directory {path}: {exc.strerror}") from exc
        return
    if kind == "FileOrCreate" and mode is None:
        try:
            Path(path).parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
        except OSError as exc:
            raise HostPathError(f"cannot create file {path}: {exc.strerror}") from exc
        return
    if not kind:
        return
    checks = {
        "DirectoryOrCreate": (stat.S_ISDIR, "a directory"),
        "Directory": (stat.S_ISDIR, "a directory"),
        "FileOrCreate": (stat.S_ISREG, "a file"),
        "File": (stat.S_ISREG, "a file"),
        "Socket": (stat.S_ISSOCK, "a socket file"),
        "CharDevice": (stat.S_ISCHR, "a character device"),
        "BlockDevice": (stat.S_ISBLK, "a block device"),
    }
    test, what = checks[kind]
    if mode is None or not test(mode):
        raise HostPathError(f"hostPath type check failed: {path} is not {what}")


def _mode(path: str) -> int | None:
    try:
        return os.stat(path).st_mode
    except OSError:
        return None
