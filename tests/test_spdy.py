"""navarch.spdy: two sessions joined in memory, as kubectl and the API server use
them for port-forward — streams opened and replied to, data both ways, FIN as a
half-close, resets, pings, and header blocks compressed with SPDY/3's dictionary
across several frames (one zlib stream per direction)."""

from __future__ import annotations

import asyncio
import struct
import zlib
from typing import Any

import pytest

from navarch.spdy import (
    DICTIONARY,
    PING,
    SpdySession,
    SpdyStream,
    control_frame,
    decode_headers,
    encode_headers,
)


async def joined(
    to_server: asyncio.Queue[bytes] | None = None,
) -> tuple[SpdySession, SpdySession, asyncio.Queue[SpdyStream], list[bytes]]:
    if to_server is None:
        to_server = asyncio.Queue()
    to_client: asyncio.Queue[bytes] = asyncio.Queue()
    accepted: asyncio.Queue[SpdyStream] = asyncio.Queue()
    sent_by_server: list[bytes] = []

    async def server_transmit(data: bytes) -> None:
        sent_by_server.append(data)
        to_client.put_nowait(data)

    async def client_transmit(data: bytes) -> None:
        # One byte at a time: frames split anywhere must still be read whole.
        for i in range(len(data)):
            to_server.put_nowait(data[i : i + 1])

    server = SpdySession(
        to_server.get, server_transmit, client=False, on_stream=accepted.put_nowait
    )
    client = SpdySession(to_client.get, client_transmit, client=True)
    return server, client, accepted, sent_by_server


async def test_streams_carry_data_both_ways_with_headers_and_half_close() -> None:
    server, client, accepted, _ = await joined()
    tasks = [asyncio.ensure_future(server.run()), asyncio.ensure_future(client.run())]
    try:
        streams = []
        for request_id in range(3):  # the header compressor's state spans frames
            headers = {"streamType": "data", "port": "8080", "requestID": str(request_id)}
            streams.append(await asyncio.wait_for(client.open_stream(headers), 10))
        assert [s.id for s in streams] == [1, 3, 5]
        seen = [await asyncio.wait_for(accepted.get(), 10) for _ in streams]
        assert [s.headers for s in seen] == [
            {"streamtype": "data", "port": "8080", "requestid": str(i)} for i in range(3)
        ]
        await streams[1].write(b"GET / HTTP/1.0\r\n\r\n")
        await streams[1].close()
        received = b""
        while chunk := await asyncio.wait_for(seen[1].read(), 10):
            received += chunk
        assert received == b"GET / HTTP/1.0\r\n\r\n"
        await seen[1].write(b"x" * 200_000)
        await seen[1].close()
        answer = b""
        while chunk := await asyncio.wait_for(streams[1].read(), 10):
            answer += chunk
        assert answer == b"x" * 200_000
        await seen[2].reset()
        assert await asyncio.wait_for(streams[2].read(), 10) == b""
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_ping_is_answered_and_the_connection_ending_ends_every_stream() -> None:
    to_server: asyncio.Queue[bytes] = asyncio.Queue()
    server, client, accepted, sent_by_server = await joined(to_server)
    running = asyncio.ensure_future(server.run())
    client_reading = asyncio.ensure_future(client.run())
    try:
        await asyncio.wait_for(client.open_stream({"streamType": "error"}), 10)
        accepted_stream = await asyncio.wait_for(accepted.get(), 10)
        ping = control_frame(PING, struct.pack(">I", 7))
        await client.send(ping)
        for _ in range(1000):
            if ping in sent_by_server:
                break
            await asyncio.sleep(0.01)
        assert ping in sent_by_server
        to_server.put_nowait(b"")  # the client's connection ends
        await asyncio.wait_for(running, 10)
        assert await asyncio.wait_for(accepted_stream.read(), 10) == b""
        assert server.closed
    finally:
        for task in (running, client_reading):
            task.cancel()
        await asyncio.gather(running, client_reading, return_exceptions=True)


def test_header_blocks_use_spdy3_dictionary() -> None:
    # What Go's framer sends: a zlib stream primed with the dictionary.
    compressor = zlib.compressobj(zdict=DICTIONARY)
    block = compressor.compress(encode_headers({"streamType": "error", "port": "80"}))
    block += compressor.flush(zlib.Z_SYNC_FLUSH)
    assert zlib.adler32(DICTIONARY) == 0xE3C6A7C2  # the id SPDY/3 peers check
    plain = zlib.decompressobj(zdict=DICTIONARY).decompress(block)
    assert decode_headers(plain) == {"streamtype": "error", "port": "80"}
    with pytest.raises(zlib.error):
        zlib.decompressobj().decompress(block)  # without it the block cannot be read


async def test_port_forward_drops_a_pair_whose_data_stream_never_comes() -> None:
    """The API server's port-forward (kubelet's rule): an error stream whose data
    stream does not follow is answered with a timeout message and reset; the agent
    is never dialled for it."""
    from navarch.apiserver.portforward import _serve

    to_server: asyncio.Queue[bytes] = asyncio.Queue()
    to_client: asyncio.Queue[bytes] = asyncio.Queue()
    dialled: list[int] = []

    async def dial(port: int) -> Any:
        dialled.append(port)
        raise OSError("not in this test")

    async def to_server_put(data: bytes) -> None:
        to_server.put_nowait(data)

    async def to_client_put(data: bytes) -> None:
        to_client.put_nowait(data)

    serving = asyncio.ensure_future(
        _serve(to_server.get, to_client_put, dial, "default/web", pair_seconds=0.1)
    )
    client = SpdySession(to_client.get, to_server_put, client=True)
    reading = asyncio.ensure_future(client.run())
    try:
        error = await asyncio.wait_for(
            client.open_stream({"streamType": "error", "port": "80", "requestID": "0"}), 10
        )
        message = b""
        while chunk := await asyncio.wait_for(error.read(), 10):
            message += chunk
        assert message == b"timed out waiting for the data stream of request 0"
        assert dialled == []
    finally:
        to_server.put_nowait(b"")
        await asyncio.wait_for(serving, 10)
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)
