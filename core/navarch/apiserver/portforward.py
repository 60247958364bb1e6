"""``pods/portforward``: Kubernetes' port-forward protocol towards the client, one
WebSocket per forwarded connection towards the pod's agent
(:mod:`navarch.agent.portforward`).

kubectl 1.31+ opens a WebSocket with the subprotocol ``SPDY/3.1+portforward.k8s.io``
and runs SPDY inside its binary messages; older kubectl (or
``KUBECTL_PORT_FORWARD_WEBSOCKETS=false``) upgrades the HTTP connection itself
(``Upgrade: SPDY/3.1``, ``X-Stream-Protocol-Version: portforward.k8s.io``). Either
way (:mod:`navarch.spdy`), for each local connection the client opens two streams
whose headers carry ``streamType`` (``error``, then ``data``), ``port`` and
``requestID`` (kubelet's server/portforward/httpstream.go pairs them by it). Once
both are there the API server connects to the agent; the connection's bytes flow
on the data stream; a failure (nothing listens on the port, the pod gone) is written
on the error stream as text, which kubectl prints ("an error occurred forwarding
8080 -> 9999: ...").

The kubelet's own WebSocket protocol (``v4.channel.k8s.io``, ``?ports=8080,9090``: one
connection per port, channels ``2i``/``2i+1``), which the official Python client's
``portforward`` speaks, is served too (:func:`serve_channels`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from loguru import logger

from navarch.apiserver import errors
from navarch.spdy import SpdySession, SpdyStream

log = logger.bind(component="portforward")

SPDY_PROTOCOL = "portforward.k8s.io"
CHANNEL_PROTOCOL = "v4.channel.k8s.io"
TUNNEL_PROTOCOL = "SPDY/3.1+" + SPDY_PROTOCOL
AGENT_PROTOCOL = "portforward.navarch.io"
# How long the second stream of a connection may take (kubelet's stream creation timeout).
PAIR_SECONDS = 30.0

# Opens the agent's socket for one connection to ``port``.
AgentDialer = Callable[[int], Awaitable[aiohttp.ClientWebSocketResponse]]


def wants_tunnel(request: web.Request) -> bool:
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    return TUNNEL_PROTOCOL in offered and "websocket" in request.headers.get("Upgrade", "").lower()


def wants_channels(request: web.Request) -> bool:
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    return CHANNEL_PROTOCOL in offered and "websocket" in request.headers.get("Upgrade", "").lower()


def wants_spdy(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower().startswith("spdy/3.1")


async def serve_tunnel(request: web.Request, dial: AgentDialer, pod: str) -> web.StreamResponse:
    """SPDY inside the binary messages of a WebSocket (kubectl's default)."""
    ws = web.WebSocketResponse(protocols=[TUNNEL_PROTOCOL], max_msg_size=0)
    await ws.prepare(request)

    async def receive() -> bytes:
        while True:
            message = await ws.receive()
            if message.type == aiohttp.WSMsgType.BINARY:
                if message.data:
                    return bytes(message.data)
                continue
            if message.type in (aiohttp.WSMsgType.TEXT,):
                continue
            return b""  # close, error

    await _serve(receive, ws.send_bytes, dial, pod)
    await ws.close()
    return ws


async def serve_spdy(request: web.Request, dial: AgentDialer, pod: str) -> web.StreamResponse:
    """SPDY on the upgraded HTTP connection itself (older kubectl, or its fallback)."""
    response = web.StreamResponse(
        status=101,
        headers={
            "Connection": "Upgrade",
            "Upgrade": "SPDY/3.1",
            "X-Stream-Protocol-Version": SPDY_PROTOCOL,
        },
    )
    await response.prepare(request)
    transport = request.transport
    protocol = request.protocol
    if transport is None:
        return response
    incoming: asyncio.Queue[bytes] = asyncio.Queue()
    # From here on the connection's bytes are SPDY frames, not HTTP: hand them to us
    # (what aiohttp's own WebSocketResponse does with its reader).
    protocol.set_parser(_Feed(incoming))  # type: ignore[arg-type]

    async def transmit(data: bytes) -> None:
        if transport.is_closing():
            raise ConnectionError("the client's connection is closed")
        transport.write(data)

    await _serve(incoming.get, transmit, dial, pod)
    transport.close()
    return response


async def serve_channels(
    request: web.Request, dial: AgentDialer, pod: str, ports: list[int]
) -> web.StreamResponse:
    """The kubelet's WebSocket port-forward (what the official Python client speaks):
    one connection per port in ``?ports=``, opened at once; port ``i`` has data channel
    ``2i`` and error channel ``2i+1``, each first announced by a message of the port
    as two little-endian bytes; every message is ``[channel] + bytes``."""
    ws = web.WebSocketResponse(protocols=[CHANNEL_PROTOCOL], max_msg_size=0)
    await ws.prepare(request)
    upstreams: dict[int, aiohttp.ClientWebSocketResponse] = {}
    pumps = []
    for index, port in enumerate(ports):
        for channel in (2 * index, 2 * index + 1):
            await ws.send_bytes(bytes([channel]) + port.to_bytes(2, "little"))
        try:
            upstreams[index] = await dial(port)
        except (errors.ApiError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            reason = exc.message if isinstance(exc, errors.ApiError) else str(exc)
            message = f"error forwarding port {port} to pod {pod}: {reason}"
            await ws.send_bytes(bytes([2 * index + 1]) + message.encode())
            continue
        pumps.append(asyncio.ensure_future(_from_agent(upstreams[index], ws, index)))
    to_agents = asyncio.ensure_future(_to_agents(ws, upstreams))
    try:
        if pumps:  # until the client leaves or every port's connection has ended
            every: asyncio.Future[Any] = asyncio.gather(*pumps)
            waiters: list[asyncio.Future[Any]] = [to_agents, every]
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (*pumps, to_agents):
            task.cancel()
        for task in (*pumps, to_agents):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for upstream in upstreams.values():
            await upstream.close()
        await ws.close()
    return ws


async def _from_agent(
    upstream: aiohttp.ClientWebSocketResponse, ws: web.WebSocketResponse, index: int
) -> None:
    async for message in upstream:
        if message.type == aiohttp.WSMsgType.BINARY:
            await ws.send_bytes(bytes([2 * index]) + message.data)
        elif message.type == aiohttp.WSMsgType.TEXT:
            await ws.send_bytes(bytes([2 * index + 1]) + str(message.data).encode())
        else:
            break


async def _to_agents(
    ws: web.WebSocketResponse, upstreams: dict[int, aiohttp.ClientWebSocketResponse]
) -> None:
    async for message in ws:
        if message.type != aiohttp.WSMsgType.BINARY or len(message.data) < 2:
            continue
        channel, data = message.data[0], message.data[1:]
        upstream = upstreams.get(channel // 2)
        if channel % 2 == 0 and upstream is not None and not upstream.closed:
            await upstream.send_bytes(bytes(data))


class _Feed:
    """The parser aiohttp's protocol feeds once the connection is upgraded."""

    def __init__(self, queue: asyncio.Queue[bytes]):
        self.queue = queue

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.queue.put_nowait(bytes(data))
        return False, b""

    def feed_eof(self) -> None:
        self.queue.put_nowait(b"")


async def _serve(
    receive: Callable[[], Awaitable[bytes]],
    transmit: Callable[[bytes], Awaitable[None]],
    dial: AgentDialer,
    pod: str,
    pair_seconds: float = PAIR_SECONDS,
) -> None:
    pairs: dict[str, dict[str, SpdyStream]] = {}
    tasks: set[asyncio.Task[None]] = set()

    def start(work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def expire(request_id: str) -> None:
        """The kubelet's rule: a pair not complete in time is dropped, saying so."""
        await asyncio.sleep(pair_seconds)
        pair = pairs.pop(request_id, None)
        if pair is None:
            return
        with contextlib.suppress(ConnectionError):
            if "error" in pair:
                message = f"timed out waiting for the data stream of request {request_id}"
                await pair["error"].write(message.encode())
                await pair["error"].close()
            for stream in pair.values():
                await stream.reset()

    def on_stream(stream: SpdyStream) -> None:
        kind = stream.headers.get("streamtype", "")
        if kind not in ("error", "data"):
            start(stream.reset())
            return
        request_id = stream.headers.get("requestid") or f"port-{stream.headers.get('port')}"
        pair = pairs.setdefault(request_id, {})
        if not pair:
            start(expire(request_id))
        pair[kind] = stream
        if "error" in pair and "data" in pair:
            del pairs[request_id]
            start(_forward(pair["data"], pair["error"], dial, pod))

    session = SpdySession(receive, transmit, client=False, on_stream=on_stream)
    try:
        await session.run()
    except Exception as exc:  # a broken peer: end its connection, not the server
        log.bind(pod=pod, error=str(exc)).info("port-forward connection failed")
    finally:
        for task in list(tasks):
            task.cancel()
        for task in list(tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def _forward(data: SpdyStream, error: SpdyStream, dial: AgentDialer, pod: str) -> None:
    raw_port = data.headers.get("port", "")
    try:
        port = int(raw_port)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        await _fail(data, error, f"invalid port {raw_port!r}: must be 1-65535")
        return
    try:
        upstream = await dial(port)
    except errors.ApiError as exc:
        await _fail(data, error, f"error forwarding port {port} to pod {pod}: {exc.message}")
        return
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        await _fail(
            data, error, f"error forwarding port {port} to pod {pod}: cannot reach its agent: {exc}"
        )
        return
    try:
        await _pump(data, error, upstream)
    finally:
        await upstream.close()
        with contextlib.suppress(ConnectionError):  # the client's connection went
            await data.close()
            await error.close()


async def _fail(data: SpdyStream, error: SpdyStream, message: str) -> None:
    with contextlib.suppress(ConnectionError):
        await error.write(message.encode())
        await error.close()
        await data.close()


async def _pump(data: SpdyStream, error: SpdyStream, upstream: Any) -> None:
    async def to_agent() -> None:
        while chunk := await data.read():
            await upstream.send_bytes(chunk)
        await upstream.send_bytes(b"")  # the client's FIN: the agent half-closes
        await asyncio.Event().wait()  # the answer may still come

    async def from_agent() -> None:
        async for message in upstream:
            if message.type == aiohttp.WSMsgType.BINARY:
                await data.write(message.data)
            elif message.type == aiohttp.WSMsgType.TEXT:
                await error.write(str(message.data).encode())
            else:
                break

    tasks = [asyncio.ensure_future(from_agent()), asyncio.ensure_future(to_agent())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
