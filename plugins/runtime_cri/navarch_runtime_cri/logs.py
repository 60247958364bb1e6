"""Reading container logs in the CRI log format, which every CRI runtime writes to
the path the kubelet (here: the runtime plugin) gives each container: one record a
line, ``TIME STREAM TAG CONTENT``::

    2026-11-28T06:53:03.123456789Z stdout F hello
    2026-11-28T06:53:03.123456789+01:00 stderr P the first part of a long line,
    2026-11-28T06:53:03.223456789+01:00 stderr F and its end

``TIME`` is RFC 3339 with nanoseconds (containerd writes UTC, CRI-O local time with
an offset), ``TAG`` ``F`` a full line or ``P`` a part of one that continues in the
next record of the same stream. The runtime drops the line's newline; a full line is
given back with one (the kubelet does the same), so a last line written without a
newline comes back with one. A terminal ends its lines with CRLF (its ONLCR mode) and
the runtime drops both: a container with a terminal gets CRLF back.

:func:`read_log` yields :class:`LogLine` values (tail, since, follow);
following stops once the container has exited and its file says no more.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from navarch.runtime.types import STDERR, STDOUT, LogLine, LogOptions

_FOLLOW_POLL = 0.1  # seconds between reads of a followed log with nothing new
_STREAMS = {b"stdout": STDOUT, b"stderr": STDERR}


def parse_time(text: str) -> float:
    """RFC 3339 with up to nanoseconds (Python reads microseconds) -> Unix seconds."""
    text = text.replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        fraction, zone = rest[:digits], rest[digits:]
        text = f"{head}.{(fraction + '000000')[:6]}{zone}"
    return dt.datetime.fromisoformat(text).timestamp()


class LogParser:
    """Records to lines: a line split in ``P`` records is joined with the ``F`` record
    ending it (per stream). Bytes of an unfinished record stay until its newline."""

    def __init__(self, terminal: bool = False) -> None:
        self._newline = b"\r\n" if terminal else b"\n"
        self._rest = b""
        self._partial: dict[str, tuple[float, bytearray]] = {}

    def feed(self, data: bytes) -> Iterator[LogLine]:
        self._rest += data
        *records, self._rest = self._rest.split(b"\n")
        for record in records:
            line = self._record(record)
            if line is not None:
                yield line

    def _record(self, record: bytes) -> LogLine | None:
        parts = record.split(b" ", 3)
        if len(parts) < 3:
            return None  # not a record (a file cut mid-way by a crash): skipped
        when_text, stream_name, tag = parts[0], parts[1], parts[2]
        content = parts[3] if len(parts) == 4 else b""
        stream = _STREAMS.get(stream_name)
        try:
            when = parse_time(when_text.decode())
        except ValueError:
            return None
        if stream is None:
            return None
        started, pending = self._partial.pop(stream, (when, bytearray()))
        pending += content
        if tag.split(b":")[0] == b"P":
            self._partial[stream] = (started, pending)
            return None
        if pending.endswith(b"\r"):  # a runtime that kept the terminal's CR
            del pending[-1:]
        return LogLine(time=started, stream=stream, data=bytes(pending) + self._newline)


async def read_log(
    path: Path,
    options: LogOptions,
    running: Callable[[], Awaitable[bool]],
    *,
    terminal: bool = False,
) -> AsyncIterator[LogLine]:
    """The lines of the log at ``path`` per ``options``; with ``follow``, goes on
    reading until ``running()`` says the container stopped and the file holds no
    more (one last read after that: the runtime writes the output out before it
    reports the exit). A file renamed away (rotated) is read to its end, then the new
    one at ``path`` from its start. ``terminal``: the container has one (lines end in
    CRLF)."""
    parser = LogParser(terminal)
    with _LogFile(path) as log:
        lines = _in_time_order(parser.feed(await asyncio.to_thread(log.read)))
        if options.since is not None:
            lines = [line for line in lines if line.time >= options.since]
        if options.tail is not None:
            lines = list(deque(lines, maxlen=options.tail)) if options.tail > 0 else []
        for line in lines:
            yield line
        if not options.follow:
            return
        last_look = False
        while True:
            data = await asyncio.to_thread(log.read)
            for line in _in_time_order(parser.feed(data)):
                if options.since is None or line.time >= options.since:
                    yield line
            if data:
                continue
            if await asyncio.to_thread(log.reopen_if_rotated):
                continue
            if last_look:
                return
            if not await running():
                last_look = True  # one more read: what was written before the exit
                continue
            await asyncio.sleep(_FOLLOW_POLL)


def _in_time_order(lines: Iterable[LogLine]) -> list[LogLine]:
    """Lines by time, stable. The runtime copies stdout and stderr into the one file
    from two readers, each stamping a line when it reads it: a line of one stream can
    land in the file after a later line of the other."""
    return sorted(lines, key=lambda line: line.time)


class _LogFile:
    """The log file at ``path``, kept open between reads so that a rotation (the
    file renamed away, a new one made at ``path``) loses nothing of the old one."""

    def __init__(self, path: Path):
        self.path = path
        self._file: BinaryIO | None = None

    def __enter__(self) -> _LogFile:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()

    def read(self) -> bytes:
        if self._file is None:
            try:
                self._file = open(self.path, "rb")  # noqa: SIM115 (kept open: see above)
            except FileNotFoundError:
                return b""
        return self._file.read()

    def reopen_if_rotated(self) -> bool:
        """Switch to the file now at ``path`` when it is another one (call once the
        open one is read to its end); whether it switched."""
        try:
            now = os.stat(self.path).st_ino
        except FileNotFoundError:
            return False
        if self._file is not None and os.fstat(self._file.fileno()).st_ino == now:
            return False
        if self._file is not None:
            self._file.close()
        self._file = None
        return True
