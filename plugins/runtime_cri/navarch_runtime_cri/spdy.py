"""The little of SPDY/3.1 that Kubernetes' remote command protocol needs, over one
connection to a CRI runtime's streaming server (the kubelet's way in).

After an HTTP/1.1 upgrade (``Upgrade: SPDY/3.1``, ``X-Stream-Protocol-Version:
v4.channel.k8s.io``), the client opens one SPDY stream per channel with a SYN_STREAM
whose header ``streamtype`` names it — ``error`` (the exit status, a Kubernetes
``Status`` as JSON), ``stdin``, ``stdout``, ``stderr``, ``resize`` (JSON sizes) —
and the server starts the process once every stream it expects is there. Unlike the
websocket protocol v4, a SPDY stream closes one way: a data frame with FIN on stdin
is the end of the process's input.

Frames (SPDY/3): a control frame is ``1 | version(15) | type(16) | flags(8) |
length(24) | data``, a data frame ``0 | stream id(31) | flags(8) | length(24) |
data``; FIN is flag 0x01 on both. A SYN_STREAM's data is ``stream id(32) | associated
id(32) | priority(3) unused(5) | slot(8) | header block``, the header block
``count(32)`` then ``length(32) name length(32) value`` per header, zlib-compressed in
one stream per direction (flushed at each frame). Compressing without SPDY's preset
dictionary is allowed (the zlib header says whether one is used); the server's
header blocks (its SYN_REPLYs) are not read, so neither is its dictionary needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import zlib
from collections.abc import Mapping
from urllib.parse import urlsplit

from navarch.runtime.errors import RuntimeFault

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY = 1, 2, 3, 4, 6, 7
FLAG_FIN = 0x01
PROTOCOL = "v4.channel.k8s.io"
_MAX_HEAD = 64 * 1024


class SpdyError(RuntimeFault):
    """The streaming server broke the protocol or the connection."""


def encode_headers(headers: Mapping[str, str]) -> bytes:
    block = struct.pack(">I", len(headers))
    for name, value in headers.items():
        raw_name, raw_value = name.lower().encode(), value.encode()
        block += struct.pack(">I", len(raw_name)) + raw_name
        block += struct.pack(">I", len(raw_value)) + raw_value
    return block


def control_frame(kind: int, data: bytes, flags: int = 0) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(data)) + data


def data_frame(stream_id: int, data: bytes, flags: int = 0) -> bytes:
    return struct.pack(">II", stream_id & 0x7FFFFFFF, (flags << 24) | len(data)) + data


class SpdyConnection:
    """A client connection: streams opened by :meth:`open_stream`, data frames read
    with :meth:`read_frame`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self._reader, self._writer = reader, writer
        self._compress = zlib.compressobj()
        self._next_id = 1  # a client's streams have odd ids
        self._write_lock = asyncio.Lock()

    @classmethod
    async def upgrade(cls, url: str, timeout: float = 30.0) -> SpdyConnection:
        """Connect to ``url`` (``http://HOST:PORT/exec/TOKEN``) and upgrade to SPDY."""
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise SpdyError(f"exec: streaming URL {url!r} is not plain http://HOST:PORT/…")
        port = parts.port or 80
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(parts.hostname, port), timeout
            )
        except (OSError, TimeoutError) as exc:
            raise SpdyError(f"exec: the runtime's streaming server at {url}: {exc}") from exc
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
            f"X-Stream-Protocol-Version: {PROTOCOL}\r\nContent-Length: 0\r\n\r\n"
        )
        writer.write(request.encode())
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
            writer.close()
            raise SpdyError(f"exec: no upgrade from the streaming server at {url}") from exc
        status_line, *lines = head.decode(errors="replace").split("\r\n")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines if line)
        }
        if " 101 " not in f"{status_line} ":
            writer.close()
            raise SpdyError(f"exec: the streaming server at {url} answered {status_line!r}")
        if headers.get("x-stream-protocol-version", PROTOCOL) != PROTOCOL:
            writer.close()
            raise SpdyError(
                f"exec: the streaming server at {url} speaks "
                f"{headers['x-stream-protocol-version']}, not {PROTOCOL}"
            )
        return cls(reader, writer)

    async def _send(self, frame: bytes) -> None:
        async with self._write_lock:
            self._writer.write(frame)
            await self._writer.drain()

    async def open_stream(self, headers: Mapping[str, str]) -> int:
        stream_id, self._next_id = self._next_id, self._next_id + 2
        block = self._compress.compress(encode_headers(headers))
        block += self._compress.flush(zlib.Z_SYNC_FLUSH)
        # priority 0, slot 0; the associated stream 0 (none)
        data = struct.pack(">IIBB", stream_id, 0, 0, 0) + block
        await self._send(control_frame(SYN_STREAM, data))
        return stream_id

    async def send(self, stream_id: int, data: bytes, *, fin: bool = False) -> None:
        await self._send(data_frame(stream_id, data, FLAG_FIN if fin else 0))

    async def read_frame(self) -> tuple[int, bytes, bool] | None:
        """The next data frame as (stream id, data, FIN), or a stream's reset as
        (stream id, b"", True); control frames in between are answered (PING) or
        passed over. None once the connection ends."""
        while True:
            try:
                head = await self._reader.readexactly(8)
                first, second = struct.unpack(">II", head)
                length = second & 0xFFFFFF
                if length > 16 << 20:
                    raise SpdyError(f"exec: a SPDY frame of {length} bytes")
                data = await self._reader.readexactly(length)
            except (asyncio.IncompleteReadError, ConnectionError):
                return None
            flags = second >> 24
            if not first & 0x80000000:
                return first & 0x7FFFFFFF, data, bool(flags & FLAG_FIN)
            kind = first & 0xFFFF
            if kind == PING:
                await self._send(control_frame(PING, data))
            elif kind == RST_STREAM and len(data) >= 4:
                return struct.unpack(">I", data[:4])[0] & 0x7FFFFFFF, b"", True
            elif kind == GOAWAY:
                return None
            elif kind == SYN_REPLY and flags & FLAG_FIN and len(data) >= 4:
                return struct.unpack(">I", data[:4])[0] & 0x7FFFFFFF, b"", True
            # SYN_REPLY, SETTINGS, WINDOW_UPDATE, a server's SYN_STREAM: nothing to do

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()
