"""Initialising a data directory safely when several processes start at once.

``navarch server``, ``navarch server --print-kubeconfig``, ``navarch token`` and the
scheduler may all start together on a fresh data directory. Whatever they create
(tokens, the CA, the serving certificate, kubeconfigs) is created under one
exclusive file lock and written to a temporary file, flushed and renamed into
place, so a reader sees either no file or a whole one, and the second process finds
what the first created instead of writing its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

INIT_LOCK = ".init.lock"


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) readable by its owner only."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)


@contextlib.contextmanager
def init_lock(directory: Path) -> Iterator[None]:
    """Hold the directory's initialisation lock (blocking: holders keep it briefly)."""
    make_private_dir(directory)
    fd = os.open(directory / INIT_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def write_atomically(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` so that no reader ever sees a partial file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    # The rename is durable only once the directory itself is flushed.
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
