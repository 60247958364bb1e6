"""The agent's end of ``pods/portforward`` (kubelet's ``/portForward``): one WebSocket
per forwarded connection, to ``127.0.0.1:PORT`` inside the pod's network namespace
(the node's own loopback for a hostNetwork pod), as the CRI runtimes connect for the
kubelet (they enter the sandbox's namespace; so does :mod:`navarch.agent.netns`)::

    GET /portForward/{namespace}/{pod}?port=8080        (WebSocket, subprotocol
        portforward.navarch.io)

The API server speaks Kubernetes' protocols (SPDY, or SPDY tunnelled through a
WebSocket) to kubectl and turns each of kubectl's stream pairs into one of these
(:mod:`navarch.apiserver.portforward`). On the socket: binary messages carry the
connection's bytes both ways; an empty binary message from the API server ends the
pod's input (a half-close: kubectl's FIN on its data stream); a text message from
the agent is the error kubectl prints (the port refused, the pod not here), after
which the agent closes; the agent closes when the pod's side of the connection ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

import aiohttp
from aiohttp import web
from loguru import logger

from navarch.agent import netns
from navarch.agent.access import AccessChecker
from navarch.apiserver import errors
from navarch.runtime import Runtime, RuntimeFault, SandboxState, labels

log = logger.bind(component="agent-portforward")

PROTOCOL = "portforward.navarch.io"
_CONNECT_SECONDS = 10.0
_CHUNK = 64 * 1024


class PortForwarder:
    def __init__(self, runtime: Runtime, node: str, access: AccessChecker):
        self.runtime, self.node, self.access = runtime, node, access

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/portForward/{namespace}/{pod}", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        namespace, pod = request.match_info["namespace"], request.match_info["pod"]
        await self.access.check(
            request.headers.get("Authorization"), "create", "portforward", namespace, pod
        )
        port = _port(request.query.get("port", ""))
        if "websocket" not in request.headers.get("Upgrade", "").lower():
            raise errors.bad_request(f"Upgrade request required: port-forward speaks {PROTOCOL}")
        ws = web.WebSocketResponse(protocols=[PROTOCOL], max_msg_size=0)
        await ws.prepare(request)
        forward_log = log.bind(namespace=namespace, pod=pod, port=port)
        try:
            reader, writer = await self._connect(namespace, pod, port)
        except _Refused as exc:
            forward_log.bind(error=str(exc)).info("port-forward refused")
            with contextlib.suppress(ConnectionError):
                await ws.send_str(f"error forwarding port {port} to pod {namespace}/{pod}: {exc}")
            await ws.close()
            return ws
        forward_log.debug("port-forward connected")
        try:
            await _pump(ws, reader, writer)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
            await ws.close()
        return ws

    async def _connect(
        self, namespace: str, pod: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        wanted = {
            labels.NODE: self.node,
            labels.POD_NAMESPACE: namespace,
            labels.POD_NAME: pod,
            labels.KIND: labels.SANDBOX,
        }
        try:
            sandboxes = await self.runtime.list_sandboxes(labels=wanted)
        except RuntimeFault as exc:
            raise _Refused(f"the container runtime does not answer: {exc.message}") from None
        ready = [s for s in sandboxes if s.state == SandboxState.READY]
        if not ready:
            raise _Refused(f"pod {namespace}/{pod} has no running sandbox on node {self.node}")
        sandbox = max(ready, key=lambda s: s.created_at or 0.0)
        if not sandbox.host_network and not sandbox.netns_path:
            raise _Refused(
                "the container runtime reports no network namespace for the pod's sandbox "
                f"{sandbox.id}, so there is nowhere to connect"
            )
        path = "" if sandbox.host_network else sandbox.netns_path
        where = "the node" if not path else f"network namespace {path}"
        try:
            return await asyncio.wait_for(
                netns.open_connection("127.0.0.1", port, path), _CONNECT_SECONDS
            )
        except (OSError, TimeoutError) as exc:
            # uvloop's message names no reason ("Connect call failed"); the errno does.
            number = exc.errno if isinstance(exc, OSError) else None
            reason = os.strerror(number).lower() if number else str(exc)
            raise _Refused(
                f"failed to connect to 127.0.0.1:{port} inside {where}: {reason or 'timed out'}"
            ) from None


class _Refused(Exception):
    pass


def _port(raw: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        raise errors.bad_request(f"port {raw!r} is not a number (1-65535)") from None
    if not 0 < port < 65536:
        raise errors.bad_request(f"port {port} is out of range (1-65535)")
    return port


async def _pump(
    ws: web.WebSocketResponse, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Copy both ways until the pod's side ends or the API server leaves."""

    async def to_pod() -> None:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.BINARY:
                continue
            if not message.data:  # the client's half-close
                # write_eof, not the socket's shutdown: what is still buffered goes first.
                if writer.can_write_eof():
                    with contextlib.suppress(OSError):
                        writer.write_eof()
                continue
            writer.write(message.data)
            await writer.drain()

    async def from_pod() -> None:
        while chunk := await reader.read(_CHUNK):
            await ws.send_bytes(chunk)

    tasks = [asyncio.ensure_future(from_pod()), asyncio.ensure_future(to_pod())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
