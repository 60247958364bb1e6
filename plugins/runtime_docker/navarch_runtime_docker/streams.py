"""Decoding what the engine streams: its RFC 3339 times (nanoseconds, which Python's
datetime cannot hold) and the multiplexed stdout/stderr framing of logs and exec.

A multiplexed stream is a sequence of frames, each an 8-byte header -- the stream
(1 stdout, 2 stderr), three zero bytes, the payload's length as a big-endian uint32 --
and the payload. A container or exec with a TTY has one raw stream instead.
"""

from __future__ import annotations

import asyncio
import re
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

from navarch.runtime import STDERR, STDOUT

_RFC3339 = re.compile(
    r"(?P<base>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(?P<frac>\d+))?(?P<zone>Z|[+-]\d\d:\d\d)$"
)
_STREAMS = {0: STDOUT, 1: STDOUT, 2: STDERR}
HEADER = struct.Struct(">BxxxL")


def parse_time(text: str) -> float | None:
    """Unix seconds from the engine's RFC 3339 time; None for its zero time
    (``0001-01-01T00:00:00Z``: the thing has not happened) or an empty string."""
    match = _RFC3339.match(text.strip())
    if match is None or text.startswith("0001-01-01"):
        return None
    zone = "+00:00" if match["zone"] == "Z" else match["zone"]
    seconds = datetime.fromisoformat(match["base"] + zone).timestamp()
    if match["frac"]:
        seconds += int(match["frac"]) / 10 ** len(match["frac"])
    return seconds


def format_time(seconds: float) -> str:
    """The engine's ``since``/``until`` form: seconds.nanoseconds."""
    whole = int(seconds)
    return f"{whole}.{round((seconds - whole) * 1e9):09d}"


def utc_now() -> float:
    return datetime.now(UTC).timestamp()


ReadExactly = Callable[[int], Awaitable[bytes]]


async def frames(read_exactly: ReadExactly) -> AsyncIterator[tuple[str, bytes]]:
    """``(stream, payload)`` per frame until the stream ends."""
    while True:
        try:
            header = await read_exactly(HEADER.size)
        except asyncio.IncompleteReadError:
            return
        kind, size = HEADER.unpack(header)
        try:
            payload = await read_exactly(size)
        except asyncio.IncompleteReadError as err:
            payload = err.partial
        yield _STREAMS.get(kind, STDOUT), payload
        if len(payload) < size:
            return


async def raw_chunks(read: Callable[[int], Awaitable[bytes]]) -> AsyncIterator[tuple[str, bytes]]:
    """A TTY's single stream, as ``(STDOUT, chunk)``."""
    while chunk := await read(65536):
        yield STDOUT, chunk
