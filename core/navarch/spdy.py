"""The part of SPDY/3.1 that Kubernetes' port-forward protocol needs, both sides, over
any byte transport (a hijacked HTTP connection after ``Upgrade: SPDY/3.1``, or the
binary messages of a WebSocket that tunnels it, as kubectl 1.31+ does with the
subprotocol ``SPDY/3.1+portforward.k8s.io``).

Frames (SPDY/3): a control frame is ``1 | version(15) | type(16) | flags(8) |
length(24) | data``, a data frame ``0 | stream id(31) | flags(8) | length(24) |
data``; FIN (0x01) ends the sender's half of a stream. SYN_STREAM opens a stream
(``stream id(32) | associated id(32) | priority(8) | slot(8) | header block``),
SYN_REPLY accepts it (``stream id(32) | header block``; Go's spdystream waits for it
before ``CreateStream`` returns), RST_STREAM drops it. A header block is ``count(32)``
then ``length(32) name length(32) value`` per header, zlib-compressed in one stream
per direction, flushed at each frame, with SPDY/3's preset dictionary (Go's framer
compresses with it, so reading its blocks needs it; blocks we write may go without,
as the zlib header says whether one is used). Flow control (WINDOW_UPDATE) is not
enforced by Go's spdystream, nor here.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import zlib
from collections.abc import Awaitable, Callable, Mapping

from loguru import logger

log = logger.bind(component="spdy")

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = (
    1,
    2,
    3,
    4,
    6,
    7,
    8,
    9,
)
FLAG_FIN = 0x01
RST_CANCEL = 5
_MAX_FRAME = 16 << 20

# SPDY/3's header-compression dictionary (draft-mbelshe-httpbis-spdy-00 section 2.6.10.1).
DICTIONARY = (
    b"\x00\x00\x00\x07options\x00\x00\x00\x04head\x00\x00\x00\x04post\x00"
    b"\x00\x00\x03put\x00\x00\x00\x06delete\x00\x00\x00\x05trace\x00\x00\x00"
    b"\x06accept\x00\x00\x00\x0eaccept-charset\x00\x00\x00"
    b"\x0faccept-encoding\x00\x00\x00\x0faccept-l"
    b"anguage\x00\x00\x00\raccept-ranges\x00\x00\x00\x03"
    b"age\x00\x00\x00\x05allow\x00\x00\x00\rauthorizatio"
    b"n\x00\x00\x00\rcache-control\x00\x00\x00\nconnec"
    b"tion\x00\x00\x00\x0ccontent-base\x00\x00\x00\x10cont"
    b"ent-encoding\x00\x00\x00\x10content-lang"
    b"uage\x00\x00\x00\x0econtent-length\x00\x00\x00\x10co"
    b"ntent-location\x00\x00\x00\x0bcontent-md"
    b"5\x00\x00\x00\rcontent-range\x00\x00\x00\x0cconten"
    b"t-type\x00\x00\x00\x04date\x00\x00\x00\x04etag\x00\x00\x00\x06ex"
    b"pect\x00\x00\x00\x07expires\x00\x00\x00\x04from\x00\x00\x00\x04h"
    b"ost\x00\x00\x00\x08if-match\x00\x00\x00\x11if-modifi"
    b"ed-since\x00\x00\x00\rif-none-match\x00\x00\x00"
    b"\x08if-range\x00\x00\x00\x13if-unmodified-s"
    b"ince\x00\x00\x00\rlast-modified\x00\x00\x00\x08loc"
    b"ation\x00\x00\x00\x0cmax-forwards\x00\x00\x00\x06pra"
    b"gma\x00\x00\x00\x12proxy-authenticate\x00\x00\x00"
    b"\x13proxy-authorization\x00\x00\x00\x05rang"
    b"e\x00\x00\x00\x07referer\x00\x00\x00\x0bretry-after\x00"
    b"\x00\x00\x06server\x00\x00\x00\x02te\x00\x00\x00\x07trailer\x00\x00"
    b"\x00\x11transfer-encoding\x00\x00\x00\x07upgra"
    b"de\x00\x00\x00\nuser-agent\x00\x00\x00\x04vary\x00\x00\x00\x03"
    b"via\x00\x00\x00\x07warning\x00\x00\x00\x10www-authen"
    b"ticate\x00\x00\x00\x06method\x00\x00\x00\x03get\x00\x00\x00\x06s"
    b"tatus\x00\x00\x00\x06200 OK\x00\x00\x00\x07version\x00\x00"
    b"\x00\x08HTTP/1.1\x00\x00\x00\x03url\x00\x00\x00\x06public\x00"
    b"\x00\x00\nset-cookie\x00\x00\x00\nkeep-alive\x00"
    b"\x00\x00\x06origin1001012012022052063"
    b"0030230330430530630740240540"
    b"6407408409410411412413414415"
    b"416417502504505203 Non-Autho"
    b"ritative Information204 No C"
    b"ontent301 Moved Permanently4"
    b"00 Bad Request401 Unauthoriz"
    b"ed403 Forbidden404 Not Found"
    b"500 Internal Server Error501"
    b" Not Implemented503 Service "
    b"UnavailableJan Feb Mar Apr M"
    b"ay Jun Jul Aug Sept Oct Nov "
    b"Dec 00:00:00 Mon, Tue, Wed, "
    b"Thu, Fri, Sat, Sun, GMTchunk"
    b"ed,text/html,image/png,image"
    b"/jpg,image/gif,application/x"
    b"ml,application/xhtml+xml,tex"
    b"t/plain,text/javascript,publ"
    b"icprivatemax-age=gzip,deflat"
    b"e,sdchcharset=utf-8charset=i"
    b"so-8859-1,utf-,*,enq=0."
)


class SpdyError(Exception):
    """The peer broke the protocol."""


def encode_headers(headers: Mapping[str, str]) -> bytes:
    block = struct.pack(">I", len(headers))
    for name, value in headers.items():
        raw_name, raw_value = name.lower().encode(), value.encode()
        block += struct.pack(">I", len(raw_name)) + raw_name
        block += struct.pack(">I", len(raw_value)) + raw_value
    return block


def decode_headers(block: bytes) -> dict[str, str]:
    try:
        (count,) = struct.unpack_from(">I", block, 0)
        offset, headers = 4, {}
        for _ in range(count):
            (size,) = struct.unpack_from(">I", block, offset)
            name = block[offset + 4 : offset + 4 + size].decode()
            offset += 4 + size
            (size,) = struct.unpack_from(">I", block, offset)
            value = block[offset + 4 : offset + 4 + size].decode()
            offset += 4 + size
            # Several values of one name are NUL-separated; the first is enough here.
            headers[name.lower()] = value.split("\x00")[0]
    except (struct.error, UnicodeDecodeError) as exc:
        raise SpdyError(f"a malformed SPDY header block: {exc}") from None
    return headers


def control_frame(kind: int, data: bytes, flags: int = 0) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(data)) + data


def data_frame(stream_id: int, data: bytes, flags: int = 0) -> bytes:
    return struct.pack(">II", stream_id & 0x7FFFFFFF, (flags << 24) | len(data)) + data


class SpdyStream:
    """One stream: ``read`` gives its data until the peer's FIN or reset (then b""),
    ``write`` sends, ``close`` ends our half, ``reset`` drops both."""

    def __init__(self, session: SpdySession, stream_id: int, headers: Mapping[str, str]):
        self.session, self.id, self.headers = session, stream_id, dict(headers)
        self._incoming: asyncio.Queue[bytes] = asyncio.Queue()
        self._remote_done = False
        self._local_done = False
        self.replied = asyncio.Event()

    async def read(self) -> bytes:
        if self._remote_done and self._incoming.empty():
            return b""
        return await self._incoming.get()

    async def write(self, data: bytes) -> None:
        if not self._local_done and data:
            await self.session.send(data_frame(self.id, data))

    async def close(self) -> None:
        if not self._local_done:
            self._local_done = True
            await self.session.send(data_frame(self.id, b"", FLAG_FIN))
            self.session.forget_if_done(self)

    async def reset(self) -> None:
        if not (self._local_done and self._remote_done):
            self._local_done = True
            self._received_end()
            await self.session.send(
                control_frame(RST_STREAM, struct.pack(">II", self.id, RST_CANCEL))
            )
        self.session.forget_if_done(self)

    def _received(self, data: bytes) -> None:
        if data and not self._remote_done:
            self._incoming.put_nowait(data)

    def _received_end(self) -> None:
        if not self._remote_done:
            self._remote_done = True
            self._incoming.put_nowait(b"")

    @property
    def done(self) -> bool:
        return self._local_done and self._remote_done


class SpdySession:
    """One SPDY connection over ``receive`` (the next bytes, b"" at the end) and
    ``transmit``. ``on_stream`` is called with each stream the peer opens, already
    replied to; ``run`` reads until the connection ends."""

    def __init__(
        self,
        receive: Callable[[], Awaitable[bytes]],
        transmit: Callable[[bytes], Awaitable[None]],
        *,
        client: bool,
        on_stream: Callable[[SpdyStream], None] | None = None,
    ):
        self._receive, self._transmit = receive, transmit
        self._on_stream = on_stream
        self._streams: dict[int, SpdyStream] = {}
        self._next_id = 1 if client else 2  # clients open odd ids, servers even
        self._compress = zlib.compressobj(zdict=DICTIONARY)
        self._decompress = zlib.decompressobj(zdict=DICTIONARY)
        self._lock = asyncio.Lock()
        self._buffer = bytearray()
        self.closed = False

    async def send(self, frame: bytes) -> None:
        if self.closed:
            raise ConnectionError("the SPDY connection is closed")
        async with self._lock:
            await self._transmit(frame)

    def _header_block(self, headers: Mapping[str, str]) -> bytes:
        block = self._compress.compress(encode_headers(headers))
        return block + self._compress.flush(zlib.Z_SYNC_FLUSH)

    async def open_stream(self, headers: Mapping[str, str], timeout: float = 30.0) -> SpdyStream:
        """Open a stream and wait for the peer's SYN_REPLY (as spdystream does)."""
        async with self._lock:  # ids and the compressor's stream stay in send order
            stream = SpdyStream(self, self._next_id, headers)
            self._next_id += 2
            self._streams[stream.id] = stream
            data = struct.pack(">IIBB", stream.id, 0, 0, 0) + self._header_block(headers)
            await self._transmit(control_frame(SYN_STREAM, data))
        await asyncio.wait_for(stream.replied.wait(), timeout)
        return stream

    def forget_if_done(self, stream: SpdyStream) -> None:
        if stream.done:
            self._streams.pop(stream.id, None)

    async def _read_exactly(self, size: int) -> bytes | None:
        while len(self._buffer) < size:
            chunk = await self._receive()
            if not chunk:
                return None
            self._buffer += chunk
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out

    async def run(self) -> None:
        """Read frames until the connection ends or the peer says GOAWAY; then every
        stream reads its end."""
        try:
            while True:
                head = await self._read_exactly(8)
                if head is None:
                    return
                first, second = struct.unpack(">II", head)
                flags, length = second >> 24, second & 0xFFFFFF
                if length > _MAX_FRAME:
                    raise SpdyError(f"a SPDY frame of {length} bytes")
                data = await self._read_exactly(length) if length else b""
                if data is None:
                    return
                if first & 0x80000000:
                    if not await self._control(first & 0xFFFF, flags, data):
                        return
                    continue
                stream = self._streams.get(first & 0x7FFFFFFF)
                if stream is None:
                    continue  # data after our reset: dropped
                stream._received(data)
                if flags & FLAG_FIN:
                    stream._received_end()
                    self.forget_if_done(stream)
        finally:
            self.closed = True
            for stream in list(self._streams.values()):
                stream._received_end()
                stream._local_done = True
            self._streams.clear()

    async def _control(self, kind: int, flags: int, data: bytes) -> bool:
        if kind == SYN_STREAM and len(data) >= 10:
            stream_id = struct.unpack(">I", data[:4])[0] & 0x7FFFFFFF
            headers = decode_headers(self._inflate(data[10:]))
            stream = SpdyStream(self, stream_id, headers)
            self._streams[stream_id] = stream
            if flags & FLAG_FIN:
                stream._received_end()
            async with self._lock:
                reply = struct.pack(">I", stream_id) + self._header_block({})
                await self._transmit(control_frame(SYN_REPLY, reply))
            stream.replied.set()
            if self._on_stream is not None:
                self._on_stream(stream)
        elif kind == SYN_REPLY and len(data) >= 4:
            stream_id = struct.unpack(">I", data[:4])[0] & 0x7FFFFFFF
            self._inflate(data[4:])  # keeps the decompressor in step
            found = self._streams.get(stream_id)
            if found is not None:
                found.replied.set()
                if flags & FLAG_FIN:
                    found._received_end()
        elif kind == HEADERS and len(data) >= 4:
            self._inflate(data[4:])
        elif kind == RST_STREAM and len(data) >= 4:
            stream_id = struct.unpack(">I", data[:4])[0] & 0x7FFFFFFF
            found = self._streams.pop(stream_id, None)
            if found is not None:
                found._received_end()
                found._local_done = True
                found.replied.set()
        elif kind == PING:
            await self.send(control_frame(PING, data))
        elif kind == GOAWAY:
            return False
        return True  # SETTINGS, WINDOW_UPDATE: nothing to do

    def _inflate(self, block: bytes) -> bytes:
        if not block:
            return struct.pack(">I", 0)
        try:
            return self._decompress.decompress(block)
        except zlib.error as exc:
            raise SpdyError(f"a SPDY header block that does not inflate: {exc}") from None

    async def close(self) -> None:
        if not self.closed:
            with contextlib.suppress(ConnectionError, OSError):
                await self.send(control_frame(GOAWAY, struct.pack(">II", 0, 0)))
        self.closed = True
