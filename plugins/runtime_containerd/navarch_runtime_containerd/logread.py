"""Reading a container's CRI-format log back (logfile.py writes it): the rotated
files oldest first, then the live one, and on: a followed log that is rotated under
the reader finishes the file it had open before moving to the new one, so no line
is lost or read twice.

Each record is ``<RFC 3339 time> <stream> <F|P> <content>``; ``P`` records are the
parts of one long line, joined here with the ``F`` that ends it. A record is used
only once its newline is there (the writer may be mid-way).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from navarch.runtime.types import LogLine
from navarch_runtime_containerd.logfile import rotated_paths

# The most rotated files the reader looks for (the option's ceiling is far lower).
_MAX_ROTATED = 100


def _parse_time(raw: bytes) -> float:
    return datetime.datetime.fromisoformat(raw.decode()).timestamp()


class LogReader:
    """Reads a CRI-format log forward: each :meth:`read` gives the lines completed
    since the last (parts joined to their line); :meth:`rest` gives, once the process
    is gone, what ended without a newline."""

    def __init__(self, path: Path):
        self.path = path
        self._parts: dict[bytes, list[bytes]] = {}
        self._first: dict[bytes, float] = {}
        self._unfinished = b""
        # opened now, so a rotation from here on cannot move a file from under us
        self._files: list[IO[bytes]] = []
        for rotated in reversed(rotated_paths(path, _MAX_ROTATED)):
            try:
                self._files.append(open(rotated, "rb"))  # noqa: SIM115
            except FileNotFoundError:
                continue
        self._files.append(open(path, "rb"))  # noqa: SIM115

    def close(self) -> None:
        for file in self._files:
            file.close()
        self._files = []

    def __del__(self) -> None:
        self.close()

    def read(self) -> list[LogLine]:
        lines: list[LogLine] = []
        while self._files:
            lines += self._lines(self._files[0].read())
            if len(self._files) > 1:
                self._files.pop(0).close()  # an older file, read to its end
                continue
            newer = self._newer_files(self._files[0])
            if newer is None:
                break
            # the live file was rotated (once or more) after our read: the rest of
            # it, then each file written after it, oldest first
            current = self._files.pop()
            lines += self._lines(current.read())
            current.close()
            self._files = newer
        return lines

    def _newer_files(self, file: IO[bytes]) -> list[IO[bytes]] | None:
        """None while ``file`` is still the live one; else the files written after it
        (what rotation kept of them), oldest first, opened."""
        try:
            if os.stat(self.path).st_ino == os.fstat(file.fileno()).st_ino:
                return None
        except FileNotFoundError:
            return None  # between a rotation and the new file: nothing newer yet
        ours = os.fstat(file.fileno()).st_ino
        rotated = rotated_paths(self.path, _MAX_ROTATED)
        newer: list[Path] = []
        for path in rotated:  # newest first
            try:
                if os.stat(path).st_ino == ours:
                    break
            except FileNotFoundError:
                break
            newer.append(path)
        opened: list[IO[bytes]] = []
        for path in [*reversed(newer), self.path]:
            try:
                opened.append(open(path, "rb"))  # noqa: SIM115
            except FileNotFoundError:
                continue
        return opened

    def _lines(self, data: bytes) -> list[LogLine]:
        lines: list[LogLine] = []
        data = self._unfinished + data
        for record in _records(data):
            if not record.endswith(b"\n"):
                self._unfinished = record  # being written
                break
            moment, stream, tag, content = record[:-1].split(b" ", 3)
            if tag == b"P":
                self._parts.setdefault(stream, []).append(content)
                self._first.setdefault(stream, _parse_time(moment))
                continue
            pieces = self._parts.pop(stream, [])
            when = self._first.pop(stream, None) or _parse_time(moment)
            lines.append(LogLine(when, stream.decode(), b"".join([*pieces, content, b"\n"])))
        else:
            self._unfinished = b""
        return lines

    def rest(self) -> list[LogLine]:
        lines = [
            LogLine(self._first[stream], stream.decode(), b"".join(pieces))
            for stream, pieces in self._parts.items()
        ]
        self._parts.clear()
        self._first.clear()
        return lines


def _records(data: bytes) -> Iterator[bytes]:
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        if end < 0:
            yield data[start:]
            return
        yield data[start : end + 1]
        start = end + 1
