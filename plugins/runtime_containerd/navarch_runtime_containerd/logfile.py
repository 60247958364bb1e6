"""A container's output as ``kubectl logs`` reads it: the runc shim writes the process's
stdout and stderr into two FIFOs, which the runtime reads and writes, a line at a time,
into one log file in the CRI format (what the kubelet reads on containerd)::

    2026-11-28T03:01:27.123456Z stdout F hello
    2026-11-28T03:01:27.123500Z stderr P a long line's first part…

Each line gets the time it was read, its stream, and ``F`` (a full line; its newline
was there) or ``P`` (a part: the rest follows in the next ``P``/``F`` line of the
same stream; a final ``P`` is output that ended without a newline).

The log is rotated by size, as the kubelet rotates containerd's logs (its
``containerLogMaxSize``/``containerLogMaxFiles``): once ``container.log`` reaches
``max_bytes`` it becomes ``container.log.1`` (the older ones move up a number, the
oldest beyond ``max_files`` is deleted) and a new ``container.log`` starts. Only
whole records are written to a file, so a rotated file ends with a complete line.
Reading them back, across rotations, is logread.py's.

The FIFOs are read with the event loop's readers (no thread per container). The read
end is opened first and non-blocking, with a writer of our own held until the shim
has opened its end (task Create), so an early read sees no end-of-file; afterwards,
end-of-file means the process (and everything that inherited its output) is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import attrs

# A line longer than this is written in parts, so one endless line cannot grow memory.
MAX_PART = 16 * 1024
_READ_SIZE = 64 * 1024


def _timestamp(moment: float) -> bytes:
    when = datetime.datetime.fromtimestamp(moment, datetime.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ").encode()


class FifoPair:
    """The read ends of a process's stdout and stderr FIFOs (made here, under
    ``directory`` with ``prefix``), opened before the shim opens their write ends."""

    def __init__(self, directory: Path, prefix: str, *, reopen: bool = False):
        """``reopen``: the FIFOs exist and the shim holds their write ends (a process
        started before this runtime object: re-attaching after a restart)."""
        self.paths = {
            stream: directory / f"{prefix}.{stream}.fifo" for stream in ("stdout", "stderr")
        }
        self.fds: dict[str, int] = {}
        self._holders: list[int] = []
        for stream, path in self.paths.items():
            if not reopen:
                path.unlink(missing_ok=True)
                os.mkfifo(path, 0o600)
            self.fds[stream] = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            if not reopen:
                # our own writer: no end-of-file before the shim has opened its end
                self._holders.append(os.open(path, os.O_WRONLY | os.O_NONBLOCK))

    def opened_by_writer(self) -> None:
        """The shim holds the write ends now: drop ours, so its close is seen."""
        for fd in self._holders:
            os.close(fd)
        self._holders = []

    def release(self) -> None:
        """Close our ends, leaving the FIFOs for a later reader (the shim keeps a
        reader of its own, so its writes wait in the pipe rather than fail)."""
        self.opened_by_writer()
        for fd in self.fds.values():
            os.close(fd)
        self.fds = {}

    def close(self) -> None:
        self.release()
        for path in self.paths.values():
            path.unlink(missing_ok=True)


@attrs.frozen
class Rotation:
    """Keep at most ``max_files`` files of about ``max_bytes`` each (the live one
    included)."""

    max_bytes: int = 10 << 20
    max_files: int = 5


def rotated_paths(log_path: Path, max_files: int) -> list[Path]:
    """The rotated files of ``log_path`` that may exist, the newest first."""
    return [log_path.with_name(f"{log_path.name}.{n}") for n in range(1, max_files)]


def rotate(log_path: Path, max_files: int) -> None:
    """Move ``log_path`` to ``.1`` and each ``.N`` to ``.N+1``, dropping the oldest."""
    older = rotated_paths(log_path, max_files)
    if older:
        older[-1].unlink(missing_ok=True)
    for newer, next_older in zip(reversed([log_path, *older[:-1]]), reversed(older), strict=True):
        with contextlib.suppress(FileNotFoundError):
            newer.rename(next_older)
    if not older:
        log_path.unlink(missing_ok=True)


class OutputCopier:
    """Copies a FifoPair into a CRI-format log file (or, with ``log_path`` None, to
    ``sink(stream, data)``: an exec's output, ``b""`` at each stream's end) until
    both FIFOs end; ``done`` is set then."""

    def __init__(
        self,
        fifos: FifoPair,
        log_path: Path | None,
        sink: Callable[[str, bytes], None] | None = None,
        rotation: Rotation | None = None,
    ):
        self.fifos = fifos
        self.done = asyncio.Event()
        # Attached readers (attaching.py): each gets what is read from now on, and
        # ``b""`` at each stream's end, besides the log file.
        self.listeners: set[Callable[[str, bytes], None]] = set()
        self._sink = sink
        self._log_path = log_path
        self._rotation = rotation or Rotation()
        self._log: IO[bytes] | None = open(log_path, "ab") if log_path else None  # noqa: SIM115
        self._pending = {stream: b"" for stream in fifos.fds}
        self._open = set(fifos.fds)
        loop = asyncio.get_running_loop()
        for stream, fd in fifos.fds.items():
            loop.add_reader(fd, self._readable, stream, fd)

    @property
    def open_streams(self) -> frozenset[str]:
        """The streams not ended yet (on a terminal, stderr ends at once)."""
        return frozenset(self._open)

    def _readable(self, stream: str, fd: int) -> None:
        try:
            data = os.read(fd, _READ_SIZE)
        except BlockingIOError:
            return
        if self._sink is not None:
            self._sink(stream, data)
        for listener in list(self.listeners):
            listener(stream, data)
        if self._log is not None:
            self._write(stream, data)
        if not data:
            asyncio.get_running_loop().remove_reader(fd)
            self._open.discard(stream)
            if not self._open:
                self._finish()

    def _write(self, stream: str, data: bytes) -> None:
        assert self._log is not None
        now = _timestamp(time.time())
        buffer = self._pending[stream] + data
        records = []
        while (end := buffer.find(b"\n")) >= 0:
            records.append(b"%s %s F %s\n" % (now, stream.encode(), buffer[:end]))
            buffer = buffer[end + 1 :]
        while len(buffer) > MAX_PART or (not data and buffer):
            part, buffer = buffer[:MAX_PART], buffer[MAX_PART:]
            records.append(b"%s %s P %s\n" % (now, stream.encode(), part))
        self._pending[stream] = buffer
        # whole records into the live file; a full file is rotated between two
        batch: list[bytes] = []
        size = self._log.tell()
        for record in records:
            batch.append(record)
            size += len(record)
            if size >= self._rotation.max_bytes:
                self._log.write(b"".join(batch))
                self._rotate()
                batch, size = [], 0
        if batch:
            self._log.write(b"".join(batch))
            self._log.flush()

    def _rotate(self) -> None:
        assert self._log is not None and self._log_path is not None
        self._log.close()  # flushes
        rotate(self._log_path, self._rotation.max_files)
        self._log = open(self._log_path, "ab")  # noqa: SIM115

    def _finish(self, *, keep_fifos: bool = False) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
        if keep_fifos:
            self.fifos.release()
        else:
            self.fifos.close()
        self.done.set()

    def cancel(self, *, keep_fifos: bool = False) -> None:
        """Stop reading; the log keeps what was written. ``keep_fifos``: the process
        may still run (the runtime is closing): leave them for re-attaching."""
        if self.done.is_set():
            return
        loop = asyncio.get_running_loop()
        for fd in self.fifos.fds.values():
            loop.remove_reader(fd)
        for stream in self._open:  # attached readers see their streams end
            for listener in list(self.listeners):
                listener(stream, b"")
        self._open.clear()
        self._finish(keep_fifos=keep_fifos)
