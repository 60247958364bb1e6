"""The agent's streaming port (kubelet's ``:10250``): container logs, exec and attach,
over HTTPS with a self-signed certificate, for callers whose token the API server
allows (:mod:`navarch.agent.access`). The API server proxies ``pods/log``,
``pods/exec`` and ``pods/attach`` here (:mod:`navarch.apiserver.podproxy`); kubelet's
paths::

    GET /containerLogs/{namespace}/{pod}/{container}?follow=true&tailLines=10&...
        -> text/plain, the container's output (one runtime line after another)
    GET /exec/{namespace}/{pod}/{container}?command=sh&command=-c&command=..&stdin=true
        -> WebSocket, subprotocol v5.channel.k8s.io (or v4.channel.k8s.io)
    GET /attach/{namespace}/{pod}/{container}?stdin=true&stdout=true&tty=true
        -> WebSocket, the same protocol, to the container's own process
    GET /portForward/{namespace}/{pod}?port=8080
        -> WebSocket, one forwarded connection (:mod:`navarch.agent.portforward`)

The remote-command protocol: every message (binary, or text as the official Python
client sends stdin) starts with a channel byte —
0 stdin, 1 stdout, 2 stderr (client <- agent), 3 error, 4 resize (JSON
``{"Width": w, "Height": h}``); v5 adds 255 close (``[255, 0]``: the client's stdin
ended). When the command ends the agent sends a ``Status`` on channel 3 —
``Success``, or ``Failure`` with reason ``NonZeroExitCode`` and the exit code in
``details.causes[{"reason": "ExitCode", "message": "<code>"}]`` (what kubectl turns
into its own exit code) — then closes the socket normally. Errors found after the
upgrade (no such container, the runtime refusing) arrive the same way, as a
``Failure`` Status with the message. An attach ends when the container exits, with
``Success`` whatever its exit code (the kubelet's ``ServeAttach``); the client
leaving only detaches, the container runs on.

The container is found by the runtime's labels (node, pod namespace and name,
container name; :mod:`navarch.runtime.labels`), not from the pod spec: the newest
instance (highest restart count), or with ``previous`` the one before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import orjson
from aiohttp import web
from loguru import logger

from navarch.agent.access import AccessChecker
from navarch.agent.instances import Reported, find_container
from navarch.agent.portforward import PortForwarder
from navarch.agent.servingcert import serving_context
from navarch.apiserver import errors
from navarch.client.kubeconfig import KubeConfig
from navarch.runtime import (
    STDERR,
    ContainerState,
    ContainerStatus,
    LogOptions,
    Runtime,
    RuntimeFault,
)
from navarch.runtime import NotFound as RuntimeNotFound

log = logger.bind(component="agent-streaming")

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDIN, STDOUT_CH, STDERR_CH, ERROR_CH, RESIZE_CH, CLOSE_CH = 0, 1, 2, 3, 4, 255
_TRUE = ("true", "1", "True", "")
# How long close() lets open streams (a followed log, an exec) finish before dropping them.
_SHUTDOWN_SECONDS = 2.0


@attrs.define
class StreamingServer:
    """A running streaming server; ``port`` is the bound port (the Node publishes it
    as ``status.daemonEndpoints.kubeletEndpoint.Port``)."""

    port: int
    address: str
    _runner: web.AppRunner
    _access: AccessChecker

    async def close(self) -> None:
        await self._runner.cleanup()
        await self._access.close()


async def serve_streaming(
    runtime: Runtime,
    node_name: str,
    api: KubeConfig,
    address: str,
    port: int,
    data_dir: Path,
    extra_routes: Callable[[web.Application, AccessChecker], None] | None = None,
    reported: Reported | None = None,
) -> StreamingServer:
    """Start serving logs and exec for ``node_name``'s containers on ``address:port``
    (port 0: any free port) over HTTPS; the certificate lives in ``data_dir/pki``.
    ``api`` is the agent's kubeconfig: where to ask whether a caller's token is
    allowed (its own token is not used for that). ``reported`` gives the pod status the
    agent last reported, by pod uid: ``logs --previous`` reads its ``lastState``."""
    hosts = [address] if address not in ("", "0.0.0.0", "::") else []
    context = await asyncio.to_thread(serving_context, data_dir, node_name, hosts)
    access = AccessChecker(api)
    handlers = _Handlers(runtime, node_name, access, reported)
    app = web.Application(middlewares=[_errors])
    app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", handlers.logs)
    app.router.add_get("/containerLogs/{namespace}/{pod}", handlers.logs)
    app.router.add_route("*", "/exec/{namespace}/{pod}/{container}", handlers.exec)
    app.router.add_route("*", "/exec/{namespace}/{pod}", handlers.exec)
    app.router.add_route("*", "/attach/{namespace}/{pod}/{container}", handlers.attach)
    app.router.add_route("*", "/attach/{namespace}/{pod}", handlers.attach)
    PortForwarder(runtime, node_name, access).routes(app)
    app.router.add_get("/healthz", handlers.healthz)
    if extra_routes is not None:  # the agent's /metrics (navarch.agent.metrics)
        extra_routes(app, access)
    # handler_cancellation: a client that goes away stops a followed log at once,
    # rather than at the container's next line.
    runner = web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        handler_cancellation=True,
        shutdown_timeout=_SHUTDOWN_SECONDS,
    )
    await runner.setup()
    site = web.TCPSite(runner, address or None, port, ssl_context=context)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        await access.close()
        raise
    bound = _bound_port(runner) or port
    log.bind(node=node_name, address=address, port=bound).info("streaming server ready")
    return StreamingServer(bound, address, runner, access)


def _bound_port(runner: web.AppRunner) -> int:
    for server in runner.sites:
        sockets = getattr(getattr(server, "_server", None), "sockets", None) or []
        for sock in sockets:
            return int(sock.getsockname()[1])
    return 0


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except errors.ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        return errors.ApiError(exc.status, exc.reason.replace(" ", ""), exc.text or "").response()


class _Handlers:
    def __init__(
        self, runtime: Runtime, node: str, access: AccessChecker, reported: Reported | None
    ):
        self.runtime, self.node, self.access = runtime, node, access
        self.reported = reported

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    # --- logs ---------------------------------------------------------------------------

    async def logs(self, request: web.Request) -> web.StreamResponse:
        namespace, pod = request.match_info["namespace"], request.match_info["pod"]
        await self.access.check(request.headers.get("Authorization"), "get", "log", namespace, pod)
        query = request.query
        options, limit = _log_options(query)
        found = await find_container(
            self.runtime,
            self.node,
            namespace,
            pod,
            request.match_info.get("container", ""),
            previous=_flag(query, "previous"),
            reported=self.reported,
        )
        lines = self.runtime.logs(found.id, options).__aiter__()
        try:
            first = await anext(lines, None)  # NotFound comes before the first line
        except RuntimeNotFound:
            raise _gone(found, pod) from None
        except RuntimeFault as exc:
            raise errors.internal(f"the runtime cannot read the logs: {exc.message}") from None
        response = web.StreamResponse(
            headers={"Content-Type": "text/plain", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        sent = 0
        line = first
        try:
            while line is not None:
                data = _render(line.time, line.data) if options.timestamps else line.data
                if limit is not None and sent + len(data) >= limit:
                    await response.write(data[: limit - sent])
                    break
                sent += len(data)
                await response.write(data)
                line = await anext(lines, None)
        except RuntimeFault as exc:  # the headers are sent: end the stream, say why in the log
            log.bind(container=found.id, error=exc.message).warning("log stream ended early")
        finally:
            closing = getattr(lines, "aclose", None)
            if closing is not None:
                with contextlib.suppress(Exception):
                    await closing()
        await response.write_eof()
        return response

    # --- exec and attach -------------------------------------------------------------------

    async def exec(self, request: web.Request) -> web.StreamResponse:
        namespace, pod = request.match_info["namespace"], request.match_info["pod"]
        await self.access.check(
            request.headers.get("Authorization"), "create", "exec", namespace, pod
        )
        command = request.query.getall("command", [])
        if not command:
            raise errors.bad_request("you must specify at least one command for the container")
        want = _streams(request)

        async def session(found: ContainerStatus) -> Any:
            return await self.runtime.exec(found.id, command, stdin=want["stdin"], tty=want["tty"])

        return await self._stream(request, want, session, command)

    async def attach(self, request: web.Request) -> web.StreamResponse:
        """The container's own process (``kubectl attach``, ``kubectl debug -it``): its
        output from now on and, with ``stdin``, its input. The socket ends when the
        container exits, with a ``Success`` Status whatever its exit code (kubelet's
        ServeAttach); a client that leaves only detaches."""
        namespace, pod = request.match_info["namespace"], request.match_info["pod"]
        await self.access.check(
            request.headers.get("Authorization"), "create", "attach", namespace, pod
        )
        want = _streams(request)

        async def session(found: ContainerStatus) -> Any:
            return await self.runtime.attach(found.id, stdin=want["stdin"], tty=want["tty"])

        return await self._stream(request, want, session, None)

    async def _stream(
        self,
        request: web.Request,
        want: dict[str, bool],
        open_session: Callable[[ContainerStatus], Awaitable[Any]],
        command: Sequence[str] | None,
    ) -> web.StreamResponse:
        """Upgrade to the remote-command protocol and pump the session ``open_session``
        starts in the container (``command`` None: an attach)."""
        namespace, pod = request.match_info["namespace"], request.match_info["pod"]
        what = "exec" if command is not None else "attach"
        if request.method != "GET" or "websocket" not in request.headers.get("Upgrade", "").lower():
            raise errors.bad_request(
                f"Upgrade request required: {what} speaks the WebSocket remote-command "
                f"protocol ({', '.join(PROTOCOLS)})"
            )
        wanted = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
        chosen = next((p for p in wanted if p in PROTOCOLS), None)
        if chosen is None:
            raise errors.bad_request(
                f"none of the WebSocket subprotocols requested ({', '.join(filter(None, wanted))}"
                f") is supported; this agent speaks {', '.join(PROTOCOLS)}"
            )
        ws = web.WebSocketResponse(protocols=[chosen], max_msg_size=0)
        await ws.prepare(request)
        session_log = log.bind(namespace=namespace, pod=pod, command=command, what=what)
        try:
            found = await find_container(
                self.runtime, self.node, namespace, pod, request.match_info.get("container", "")
            )
            if found.state != ContainerState.RUNNING:
                raise errors.bad_request(
                    f'container "{found.name}" in pod "{pod}" is not running '
                    f"(state {found.state.value})"
                )
            try:
                session = await open_session(found)
            except RuntimeNotFound:
                raise _gone(found, pod) from None
            except RuntimeFault as exc:
                raise errors.internal(f"cannot {what} in the container: {exc.message}") from None
            code = await _run_session(ws, session, want)
            status = _exit_status(command, code) if command is not None else _SUCCESS
            session_log.bind(exit_code=code).info(f"{what} ended")
        except errors.ApiError as exc:
            status = exc.to_status()
        except RuntimeFault as exc:  # the session failed midway (stdin, wait)
            session_log.bind(error=exc.message).warning(f"{what} failed")
            status = errors.internal(f"the {what} failed: {exc.message}").to_status()
        except ConnectionError:  # the client went away
            return ws
        if not ws.closed:
            with contextlib.suppress(ConnectionError):
                await ws.send_bytes(bytes([ERROR_CH]) + orjson.dumps(status))
        await ws.close()
        return ws


_SUCCESS: dict[str, Any] = {"metadata": {}, "status": "Success"}


def _streams(request: web.Request) -> dict[str, bool]:
    query = request.query
    want = {s: _flag(query, s, default=False) for s in ("stdin", "stdout", "stderr", "tty")}
    if not (want["stdin"] or want["stdout"] or want["stderr"]):
        raise errors.bad_request("you must specify at least 1 of stdin, stdout, stderr")
    return want


async def _run_session(ws: web.WebSocketResponse, session: Any, want: dict[str, bool]) -> int:
    """Pump the session's output to the socket and the socket's stdin and resizes to the
    session, until the output ends; then the exit code. A client that closes the
    socket first ends the session."""

    async def output() -> None:
        async for stream, data in session.output():
            channel = STDERR_CH if stream == STDERR and not want["tty"] else STDOUT_CH
            if (channel == STDOUT_CH and want["stdout"]) or (
                channel == STDERR_CH and want["stderr"]
            ):
                await ws.send_bytes(bytes([channel]) + data)

    async def input() -> None:
        async for message in ws:
            payload = _frame_bytes(message)
            if not payload:
                continue
            channel, data = payload[0], payload[1:]
            if channel == STDIN and want["stdin"]:
                if data:
                    await session.write_stdin(data)
            elif channel == RESIZE_CH:
                size = _size(data)
                if size is not None:
                    await session.resize(*size)
            elif channel == CLOSE_CH and data[:1] == bytes([STDIN]) and want["stdin"]:
                await session.close_stdin()

    pump_out = asyncio.ensure_future(output())
    pump_in = asyncio.ensure_future(input())
    try:
        await asyncio.wait([pump_out, pump_in], return_when=asyncio.FIRST_COMPLETED)
        if not pump_out.done():
            failed = pump_in.exception()
            if failed is not None:  # the session refused stdin or a resize
                raise failed
            raise ConnectionError("the client closed the exec stream before the command ended")
        pump_out.result()
        return await session.wait()
    finally:
        for task in (pump_out, pump_in):
            task.cancel()
        for task in (pump_out, pump_in):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await session.close()


def _frame_bytes(message: aiohttp.WSMessage) -> bytes:
    """A client message's bytes, channel byte first. Text frames carry channels too: the
    official Python client's ``write_stdin`` sends a ``str`` as a TEXT frame
    (``chr(0) + data``), and Kubernetes' channel protocol reads a text frame's UTF-8
    bytes exactly as a binary frame's. Anything else (ping, close) carries none."""
    if message.type == aiohttp.WSMsgType.BINARY:
        return bytes(message.data)
    if message.type == aiohttp.WSMsgType.TEXT:
        return str(message.data).encode()
    return b""


def _size(data: bytes) -> tuple[int, int] | None:
    try:
        size = orjson.loads(data)
        return int(size["Width"]), int(size["Height"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def _exit_status(command: Sequence[str], code: int) -> dict[str, Any]:
    if code == 0:
        return _SUCCESS
    return {
        "metadata": {},
        "status": "Failure",
        "message": (
            f"command terminated with non-zero exit code: error executing command "
            f"[{' '.join(command)}], exit code {code}"
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def _gone(found: ContainerStatus, pod: str) -> errors.ApiError:
    return errors.ApiError(
        404, "NotFound", f'container "{found.name}" of pod "{pod}" was removed ({found.id})'
    )


# --- log options ------------------------------------------------------------------------------


def _flag(query: Any, name: str, default: bool = False) -> bool:
    if name not in query:
        return default
    return query.get(name) in _TRUE


def _log_options(query: Any) -> tuple[LogOptions, int | None]:
    tail = _int(query, "tailLines", 0)
    limit = _int(query, "limitBytes", 1)
    since: float | None = None
    seconds = _int(query, "sinceSeconds", 1)
    if seconds is not None:
        since = time.time() - seconds
    if query.get("sinceTime"):
        try:
            moment = datetime.fromisoformat(query["sinceTime"].replace("Z", "+00:00"))
        except ValueError:
            raise errors.bad_request(
                f"sinceTime {query['sinceTime']!r} is not an RFC 3339 time "
                "(e.g. 2024-05-01T12:00:00Z)"
            ) from None
        since = moment.timestamp() if moment.tzinfo else moment.replace(tzinfo=UTC).timestamp()
    options = LogOptions(
        tail=tail,
        since=since,
        follow=_flag(query, "follow"),
        timestamps=_flag(query, "timestamps"),
    )
    return options, limit


def _int(query: Any, name: str, minimum: int) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise errors.bad_request(f"{name} {raw!r} is not an integer") from None
    if value < minimum:
        raise errors.bad_request(f"{name} must be at least {minimum}, not {value}")
    return value


def _render(when: float, data: bytes) -> bytes:
    """kubelet's ``--timestamps`` prefix: RFC 3339 with nanoseconds, UTC, then a space."""
    moment = datetime.fromtimestamp(when, UTC)
    nanos = round((when - int(when)) * 1e9) % 1_000_000_000
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{nanos:09d}Z ".encode() + data
