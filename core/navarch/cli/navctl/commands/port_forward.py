"""``navctl port-forward POD|svc/NAME|deploy/NAME [LOCAL:]REMOTE...``: listen on local
ports and forward each connection to the pod's port, through the API server's ``pods/portforward``
(:mod:`navarch.apiserver.portforward`), speaking kubectl's protocol: SPDY inside one
WebSocket (``SPDY/3.1+portforward.k8s.io``), two streams per connection — ``error``
(which the server closes, with a message when the connection failed) and ``data`` —
whose headers carry ``port`` and a ``requestID`` pairing them.

A connection that fails (nothing listens on the pod's port) is reported on stderr and
the others go on (kubectl 1.32 gives up its whole connection instead); the connection
to the API server lost ends navctl with an error. ``LOCAL`` omitted or empty
(``:8080``): a free port, printed. ``svc/NAME`` forwards to one running pod of the
Service, its ports translated to the pods' (``targetPort``), as kubectl does
client-side.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from navarch.cli.navctl.arguments import split_target
from navarch.cli.navctl.commands.logs import label_selector, pod_of
from navarch.cli.navctl.failures import CliError
from navarch.cli.navctl.session import Session, add_command, find_resource, resource_path
from navarch.client.errors import ApiException

if TYPE_CHECKING:
    from navarch.spdy import SpdySession

# aiohttp is imported by the functions that use it: `navctl --help` imports this module.

TUNNEL_PROTOCOL = "SPDY/3.1+portforward.k8s.io"
READ_SIZE = 64 * 1024


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(commands, "port-forward", run, help="forward local ports to a pod's ports")
    parser.add_argument(
        "--address", default="127.0.0.1", help="the local address to listen on (127.0.0.1)"
    )
    parser.add_argument("target", metavar="POD", help="POD, pod/NAME, svc/NAME or deploy/NAME")
    parser.add_argument("ports", nargs="+", metavar="[LOCAL:]REMOTE", help="ports to forward")


def parse_ports(specs: list[str]) -> list[tuple[int, int]]:
    """``8080``, ``9000:8080`` or ``:8080`` as (local, remote); local 0: any free port."""
    pairs = []
    for spec in specs:
        local, colon, remote = spec.rpartition(":")
        try:
            remote_port = int(remote)
            local_port = int(local) if local else (0 if colon else remote_port)
        except ValueError:
            raise CliError(f"invalid port {spec!r}: use REMOTE, LOCAL:REMOTE or :REMOTE") from None
        if not 0 < remote_port < 65536 or not 0 <= local_port < 65536:
            raise CliError(f"invalid port {spec!r}: ports are 1-65535")
        pairs.append((local_port, remote_port))
    return pairs


async def run(session: Session, args: argparse.Namespace) -> int:
    import aiohttp

    from navarch.spdy import SpdySession

    pairs = parse_ports(args.ports)
    res, name = split_target([args.target], default="pods")
    if res.kind == "Service":
        name, pairs = await _service_pod(session, name, pairs)
    elif res.kind != "Pod":
        name = await pod_of(session, res.kind, name)
    pods = find_resource("pods")
    pod = await session.request("GET", resource_path(pods, session.namespace, name))
    phase = (pod.get("status") or {}).get("phase")
    if phase != "Running":
        raise CliError(f"unable to forward port because pod is not running. Current status={phase}")
    path = resource_path(pods, session.namespace, name, "portforward")
    try:
        ws = await session.client.session().ws_connect(
            path, protocols=(TUNNEL_PROTOCOL,), max_msg_size=0, autoping=True
        )
    except aiohttp.WSServerHandshakeError as exc:
        raise CliError(
            f"the API server refused the port-forward: HTTP {exc.status} {exc.message}"
        ) from None
    except (aiohttp.ClientConnectionError, OSError, TimeoutError) as exc:
        raise ApiException(
            503,
            {
                "reason": "ServiceUnavailable",
                "message": f"cannot reach {session.config.server}: {exc!r}",
            },
        ) from exc

    async def receive() -> bytes:
        while True:
            message = await ws.receive()
            if message.type == aiohttp.WSMsgType.BINARY:
                if message.data:
                    return bytes(message.data)
                continue
            if message.type == aiohttp.WSMsgType.TEXT:
                continue
            return b""

    spdy = SpdySession(receive, ws.send_bytes, client=True)
    reading = asyncio.ensure_future(spdy.run())
    servers: list[asyncio.Server] = []
    try:
        request_ids = itertools.count()
        for local, remote in pairs:
            server = await asyncio.start_server(
                _handler(spdy, remote, request_ids), args.address, local
            )
            servers.append(server)
            bound = server.sockets[0].getsockname()[1]
            print(f"Forwarding from {args.address}:{bound} -> {remote}", flush=True)
        await reading
        raise CliError(f"lost connection to pod {session.namespace}/{name}")
    finally:
        for server in servers:
            server.close()
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reading
        await ws.close()


async def _service_pod(
    session: Session, name: str, pairs: list[tuple[int, int]]
) -> tuple[str, list[tuple[int, int]]]:
    """One running pod of Service ``name`` and the ports translated to its own, as
    kubectl does client-side: a Service port's ``targetPort`` (a number, or the name
    of a container port of the pod; absent: the same number)."""
    service = await session.request(
        "GET", resource_path(find_resource("services"), session.namespace, name)
    )
    selector = (service.get("spec") or {}).get("selector") or {}
    if not selector:
        raise CliError(f"service {name} has no selector, so there is no pod to forward to")
    listed = await session.request(
        "GET",
        resource_path(find_resource("pods"), session.namespace),
        params={"labelSelector": label_selector({"matchLabels": selector})},
    )
    running = [
        p
        for p in listed.get("items") or []
        if (p.get("status") or {}).get("phase") == "Running"
        and not p["metadata"].get("deletionTimestamp")
    ]
    if not running:
        raise CliError(f"service {name} has no running pod to forward to")
    pod = min(running, key=lambda p: p["metadata"].get("creationTimestamp") or "")
    ports = (service.get("spec") or {}).get("ports") or []
    translated = []
    for local, wanted in pairs:
        entry = next((p for p in ports if p.get("port") == wanted), None)
        if entry is None:
            raise CliError(f"Service {name} does not have a service port {wanted}")
        translated.append((local, _target_port(pod, entry)))
    return pod["metadata"]["name"], translated


def _target_port(pod: dict[str, Any], entry: dict[str, Any]) -> int:
    target = entry.get("targetPort")
    if isinstance(target, int) and target:
        return target
    if isinstance(target, str) and target and not target.isdigit():
        for container in (pod.get("spec") or {}).get("containers") or []:
            for port in container.get("ports") or []:
                if port.get("name") == target:
                    return int(port["containerPort"])
        raise CliError(
            f"pod {pod['metadata']['name']} has no container port named {target!r} "
            "(the Service's targetPort)"
        )
    return int(target) if isinstance(target, str) and target else int(entry["port"])


def _handler(
    spdy: SpdySession, remote: int, request_ids: itertools.count[int]
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_id = str(next(request_ids))
        headers = {"port": str(remote), "requestID": request_id}
        try:
            error = await spdy.open_stream({"streamType": "error", **headers})
            await error.close()  # as kubectl: the client never writes on it
            data = await spdy.open_stream({"streamType": "data", **headers})
        except (ConnectionError, TimeoutError) as exc:
            print(f"error: cannot open a stream to the pod: {exc}", file=sys.stderr, flush=True)
            writer.close()
            return
        print(f"Handling connection for {remote}", flush=True)

        async def report() -> None:
            message = b""
            while chunk := await error.read():
                message += chunk
            if message:
                text = message.decode(errors="replace")
                print(
                    f"error: an error occurred forwarding {remote}: {text}",
                    file=sys.stderr,
                    flush=True,
                )

        async def upstream() -> None:
            while chunk := await reader.read(READ_SIZE):
                await data.write(chunk)
            await data.close()
            await asyncio.Event().wait()  # the pod's answer may still come

        async def downstream() -> None:
            while chunk := await data.read():
                writer.write(chunk)
                await writer.drain()

        reporting = asyncio.ensure_future(report())
        tasks = [asyncio.ensure_future(downstream()), asyncio.ensure_future(upstream())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(reporting), 10.0)
        finally:
            for task in (*tasks, reporting):
                task.cancel()
            for task in (*tasks, reporting):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            with contextlib.suppress(ConnectionError):
                await data.reset()
                await error.reset()
            writer.close()

    return handle
