"""``pods/log``, ``pods/exec``, ``pods/attach`` and ``pods/portforward``: the API server
checks the pod and the container, then proxies the request to the agent of the pod's
node (kubelet's role), which serves them on its own HTTPS port (:mod:`navarch.agent.streaming`):

    GET  /api/v1/namespaces/ns/pods/web/log?container=c&follow=true
      -> GET  https://<node address>:<port>/containerLogs/ns/web/c?follow=true
    GET  /api/v1/namespaces/ns/pods/web/exec?command=sh&stdin=true...   (WebSocket)
      -> GET  https://<node address>:<port>/exec/ns/web/c?command=sh...   (WebSocket)
    GET  /api/v1/namespaces/ns/pods/web/attach?container=c&stdin=true...  (WebSocket)
      -> GET  https://<node address>:<port>/attach/ns/web/c?stdin=true...   (WebSocket)
    GET  /api/v1/namespaces/ns/pods/web/portforward        (SPDY, or SPDY in a WebSocket)
      -> GET  https://<node address>:<port>/portForward/ns/web?port=8080    (a WebSocket
              per connection; :mod:`navarch.apiserver.portforward`)

The node's address is its Node's ``status.addresses`` (InternalIP, else Hostname) and
the port its ``status.daemonEndpoints.kubeletEndpoint.Port``, which the agent
publishes. The API server authenticates to the agent with its own token (user
``system:apiserver``, an admin); the agent asks back whether that token may do it.

Like kube-apiserver started without ``--kubelet-certificate-authority``, the API
server does **not** verify the agent's serving certificate (each agent generates a
self-signed one): the connection is encrypted but an attacker who can impersonate a
node's address could read what is proxied to it. Keep nodes on a trusted network.

Exec and attach speak the WebSocket remote-command protocol only (``v5.channel.k8s.io``,
``v4.channel.k8s.io``: what kubectl 1.30+ uses by default). kubectl falls back to
SPDY when a WebSocket upgrade fails; that attempt is answered with the same checks
first (so a bad container name still reads as such), then a 400 saying WebSocket is
required. Failures after the client's upgrade (the agent unreachable, say) arrive
in-band as a Status on the error channel, which kubectl prints, rather than as an
HTTP error that would send it to the SPDY fallback and hide the cause.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import orjson
from aiohttp import web
from loguru import logger

from navarch.apiserver import egress, errors, portforward
from navarch.apiserver.requestinfo import RequestInfo
from navarch.apiserver.storage import Storage
from navarch.resources.core import NODES, PODS

log = logger.bind(component="podproxy")

SUBRESOURCES = frozenset({"log", "exec", "attach", "portforward"})
# Long-running: never counted against the in-flight limit (as watches).
LONG_RUNNING = SUBRESOURCES
EXEC_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
ERROR_CHANNEL = 3
_LOG_QUERY = ("follow", "previous", "timestamps")
_LOG_INT_QUERY = {"sinceSeconds": 1, "tailLines": 0, "limitBytes": 1}  # name -> minimum
_CONNECT_TIMEOUT = 10.0


class PodProxy:
    """The subresources; ``token`` gives the API server's own token (None when the
    token file lacks the ``system:apiserver`` user)."""

    def __init__(self, storage: Storage, token: Callable[[], str | None]):
        self.storage = storage
        self._token = token
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def handle(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        if info.subresource == "portforward":
            return await self._port_forward(request, info)
        if info.subresource == "log":
            if request.method != "GET":
                raise errors.method_not_allowed(request.method, request.path)
            target = await self._target(info, request.query.get("container", ""), "log")
            return await self._logs(request, target)
        if request.method not in ("GET", "POST"):
            raise errors.method_not_allowed(request.method, request.path)
        target = await self._target(info, request.query.get("container", ""), info.subresource)
        _check_stream_query(request, command=info.subresource == "exec")
        upgrade = request.headers.get("Upgrade", "").lower()
        if "websocket" in upgrade and request.method == "GET":
            return await self._stream(request, target, info.subresource)
        if upgrade.startswith("spdy"):
            raise errors.bad_request(
                "this server speaks the WebSocket remote-command protocol only "
                f"({', '.join(EXEC_PROTOCOLS)}), not SPDY: use kubectl 1.30 or newer and "
                "leave KUBECTL_REMOTE_COMMAND_WEBSOCKETS unset (or true)"
            )
        raise errors.bad_request("Upgrade request required")

    # --- the pod, its node and the agent's endpoint ---------------------------------------

    async def _target(self, info: RequestInfo, container: str | None, sub: str) -> _Target:
        """The agent's URL for ``sub``; ``container`` None: the pod's (port-forward)."""
        pods, nodes = PODS, NODES
        pod = await self.storage.get(pods, info.namespace, info.name)
        spec = pod.get("spec") or {}
        if container is not None:
            container = _container(info.name, spec, container)
        node_name = spec.get("nodeName")
        if not node_name:
            raise errors.bad_request(f"pod {info.name} does not have a host assigned")
        try:
            node = await self.storage.get(nodes, "", node_name)
        except errors.ApiError as exc:
            if exc.reason != "NotFound":
                raise
            raise errors.unavailable(
                f"pod {info.name} is bound to node {node_name}, which is not registered; "
                "is its agent running?"
            ) from None
        address, port = _endpoint(node)
        if not address or not port:
            raise errors.unavailable(
                f"node {node_name} does not publish its agent's address and port "
                "(status.addresses, status.daemonEndpoints.kubeletEndpoint.Port); is its "
                "agent running?"
            )
        host = f"[{address}]" if ":" in address else address
        path = {"log": "containerLogs", "portforward": "portForward"}.get(sub, sub)
        url = f"https://{host}:{port}/{path}/{quote(info.namespace)}/{quote(info.name)}"
        if container is not None:
            url = f"{url}/{quote(container)}"
        return _Target(node_name, url, f"{host}:{port}")

    def _headers(self) -> dict[str, str]:
        token = self._token()
        if not token:
            raise errors.unavailable(
                "the API server has no token of its own for node agents (user "
                "system:apiserver is missing from its token file); restart it to add one"
            )
        return {"Authorization": f"Bearer {token}"}

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # ssl=False: agents serve self-signed certificates (see the module doc).
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=False, socket_factory=egress.cluster_sockets()),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=_CONNECT_TIMEOUT),
            )
        return self._session

    # --- logs -------------------------------------------------------------------------

    async def _logs(self, request: web.Request, target: _Target) -> web.StreamResponse:
        query = _log_query(request)
        url = f"{target.url}?{urlencode(query)}" if query else target.url
        headers = self._headers()
        try:
            upstream = await self._client().get(url, headers=headers)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise _unreachable(target, exc) from None
        async with upstream:
            if upstream.status != 200:
                return await _relay_error(upstream, target)
            response = web.StreamResponse(
                headers={"Content-Type": "text/plain", "Cache-Control": "no-cache"}
            )
            await response.prepare(request)
            copying = asyncio.ensure_future(_copy(upstream, response, target))
            leaving = asyncio.ensure_future(_client_gone(request))
            try:
                await asyncio.wait([copying, leaving], return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (copying, leaving):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if leaving.done() and not leaving.cancelled():
                # Close the agent's stream now, not when the container next writes.
                upstream.close()
                return response
            with contextlib.suppress(ConnectionError):
                await response.write_eof()
            return response

    # --- port-forward -------------------------------------------------------------------

    async def _port_forward(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        if request.method not in ("GET", "POST"):
            raise errors.method_not_allowed(request.method, request.path)
        target = await self._target(info, None, "portforward")
        headers = self._headers()
        pod = f"{info.namespace}/{info.name}"

        async def dial(port: int) -> aiohttp.ClientWebSocketResponse:
            try:
                return await self._client().ws_connect(
                    f"{target.url}?port={port}",
                    protocols=[portforward.AGENT_PROTOCOL],
                    headers=headers,
                    max_msg_size=0,
                )
            except aiohttp.WSServerHandshakeError as exc:
                raise errors.ApiError(
                    502,
                    "BadGateway",
                    f"the agent of node {target.node} at {target.address} refused "
                    f"(HTTP {exc.status} {exc.message})",
                ) from None

        if portforward.wants_tunnel(request) and request.method == "GET":
            return await portforward.serve_tunnel(request, dial, pod)
        if portforward.wants_channels(request) and request.method == "GET":
            return await portforward.serve_channels(request, dial, pod, _ports(request))
        if portforward.wants_spdy(request):
            return await portforward.serve_spdy(request, dial, pod)
        raise errors.bad_request(
            "Upgrade request required: port-forward speaks SPDY/3.1 "
            f"({portforward.SPDY_PROTOCOL}), directly or through a WebSocket "
            f"({portforward.TUNNEL_PROTOCOL})"
        )

    # --- exec ---------------------------------------------------------------------------

    async def _stream(self, request: web.Request, target: _Target, sub: str) -> web.StreamResponse:
        wanted = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
        protocols = [p for p in wanted if p in EXEC_PROTOCOLS]
        if not protocols:
            raise errors.bad_request(
                "none of the WebSocket subprotocols requested "
                f"({', '.join(p for p in wanted if p) or 'none'}) is supported; "
                f"this server speaks {', '.join(EXEC_PROTOCOLS)}"
            )
        url = f"{target.url}?{request.query_string}"
        failure: errors.ApiError | None = None
        upstream: aiohttp.ClientWebSocketResponse | None = None
        try:
            upstream = await self._client().ws_connect(
                url, protocols=protocols, headers=self._headers(), max_msg_size=0
            )
        except aiohttp.WSServerHandshakeError as exc:
            failure = errors.ApiError(
                502 if exc.status < 500 else exc.status,
                "BadGateway" if exc.status < 500 else "ServiceUnavailable",
                f"the agent of node {target.node} at {target.address} refused the {sub} "
                f"(HTTP {exc.status} {exc.message})",
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            failure = _unreachable(target, exc)
        chosen = upstream.protocol if upstream is not None and upstream.protocol else None
        downstream = web.WebSocketResponse(protocols=[chosen or protocols[0]], max_msg_size=0)
        try:
            await downstream.prepare(request)
            if upstream is None:
                assert failure is not None
                status = failure.to_status()
                await downstream.send_bytes(bytes([ERROR_CHANNEL]) + orjson.dumps(status))
                return downstream
            await _relay(upstream, downstream)
        finally:
            if upstream is not None:
                await upstream.close()
            await downstream.close()
        return downstream


async def _copy(
    upstream: aiohttp.ClientResponse, response: web.StreamResponse, target: _Target
) -> None:
    try:
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
    except (aiohttp.ClientError, OSError) as exc:
        # Headers are sent: the stream just ends, as when the agent stops.
        log.bind(node=target.node, error=str(exc)).info("log stream from agent ended")


async def _client_gone(request: web.Request, every: float = 0.5) -> None:
    """Return once the client's connection is gone. The server does not cancel a
    handler when its client leaves, and a followed log of a quiet container would
    otherwise keep its stream to the agent open until the container writes again."""
    while request.transport is not None and not request.transport.is_closing():
        await asyncio.sleep(every)


class _Target:
    __slots__ = ("address", "node", "url")

    def __init__(self, node: str, url: str, address: str):
        self.node, self.url, self.address = node, url, address


async def _relay(upstream: aiohttp.ClientWebSocketResponse, downstream: web.WebSocketResponse):
    """Copy messages both ways until either side closes, then close the other (the
    agent closes after the exit status; kubectl reads that close as the end)."""

    async def pump(source: Any, sink: Any) -> None:
        async for message in source:
            if message.type == aiohttp.WSMsgType.BINARY:
                await sink.send_bytes(message.data)
            elif message.type == aiohttp.WSMsgType.TEXT:
                await sink.send_str(message.data)
            else:
                break

    tasks = [
        asyncio.ensure_future(pump(upstream, downstream)),
        asyncio.ensure_future(pump(downstream, upstream)),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


# --- checks, as Kubernetes makes them ------------------------------------------------------


def _container(pod_name: str, spec: dict[str, Any], wanted: str) -> str:
    names = [c.get("name", "") for c in spec.get("containers") or []]
    init_names = [c.get("name", "") for c in spec.get("initContainers") or []]
    # kubectl debug's container is exec'd into and attached to like any other.
    ephemeral_names = [c.get("name", "") for c in spec.get("ephemeralContainers") or []]
    if not wanted:
        if len(names) == 1:
            return names[0]
        message = (
            f"a container name must be specified for pod {pod_name}, "
            f"choose one of: [{' '.join(names)}]"
        )
        if init_names:
            message += f" or one of the init containers: [{' '.join(init_names)}]"
        if ephemeral_names:
            message += f" or one of the ephemeral containers: [{' '.join(ephemeral_names)}]"
        raise errors.bad_request(message)
    if wanted not in (*names, *init_names, *ephemeral_names):
        raise errors.bad_request(f"container {wanted} is not valid for pod {pod_name}")
    return wanted


def _endpoint(node: dict[str, Any]) -> tuple[str, int]:
    status = node.get("status") or {}
    addresses = {
        a.get("type"): a.get("address") for a in status.get("addresses") or [] if a.get("address")
    }
    address = addresses.get("InternalIP") or addresses.get("Hostname") or ""
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    return address, port if isinstance(port, int) and not isinstance(port, bool) else 0


def _log_query(request: web.Request) -> dict[str, str]:
    query = request.query
    out: dict[str, str] = {}
    causes = []
    for name in _LOG_QUERY:
        value = query.get(name)
        if value is not None:
            if value not in ("true", "false", "1", "0", "True", "False", ""):
                causes.append((name, f"Invalid value: {value!r}: must be true or false"))
            elif value in ("true", "1", "True", ""):
                out[name] = "true"
    for name, minimum in _LOG_INT_QUERY.items():
        value = query.get(name)
        if value is None:
            continue
        try:
            number = int(value)
        except ValueError:
            causes.append((name, f"Invalid value: {value!r}: must be an integer"))
            continue
        if number < minimum:
            causes.append((name, f"Invalid value: {number}: must be greater than {minimum - 1}"))
        out[name] = str(number)
    if "sinceTime" in query:
        if "sinceSeconds" in query:
            causes.append(("sinceTime", "Forbidden: at most one of sinceTime or sinceSeconds"))
        out["sinceTime"] = query["sinceTime"]
    if causes:
        raise errors.invalid(
            "PodLogOptions",
            "",
            "",
            [{"reason": "FieldValueInvalid", "message": m, "field": f} for f, m in causes],
        )
    return out


def _check_stream_query(request: web.Request, *, command: bool) -> None:
    query = request.query
    if command and not query.getall("command", []):
        raise errors.bad_request("you must specify at least one command for the container")
    streams = [query.get(s, "") in ("true", "1", "True") for s in ("stdin", "stdout", "stderr")]
    if not any(streams):
        raise errors.bad_request("you must specify at least 1 of stdin, stdout, stderr")


def _ports(request: web.Request) -> list[int]:
    """``?ports=8080,9090`` (or repeated), as the kubelet's WebSocket port-forward reads it."""
    ports: list[int] = []
    for value in request.query.getall("ports", []):
        for raw in value.split(","):
            try:
                port = int(raw)
            except ValueError:
                raise errors.bad_request(f"invalid port {raw!r}: must be 1-65535") from None
            if not 0 < port < 65536:
                raise errors.bad_request(f"invalid port {port}: must be 1-65535")
            ports.append(port)
    if not ports:
        raise errors.bad_request('query parameter "ports" is required (e.g. ?ports=8080)')
    return ports


def _unreachable(target: _Target, exc: BaseException) -> errors.ApiError:
    return errors.unavailable(
        f"cannot reach the agent of node {target.node} at {target.address}: "
        f"{exc or type(exc).__name__}"
    )


async def _relay_error(upstream: aiohttp.ClientResponse, target: _Target) -> web.Response:
    """The agent's own Status when it sent one (a container not found, say); else one
    naming the node."""
    body = await upstream.read()
    try:
        status = orjson.loads(body)
    except orjson.JSONDecodeError:
        status = None
    if isinstance(status, dict) and status.get("kind") == "Status":
        return web.Response(body=body, status=upstream.status, content_type="application/json")
    raise errors.ApiError(
        502,
        "BadGateway",
        f"the agent of node {target.node} at {target.address} answered HTTP "
        f"{upstream.status}: {body[:200].decode(errors='replace')}",
    )
