"""TCP relays between the host's namespace and the cluster's node namespaces.

A socket belongs to the network namespace its creating thread was in when it was
made, for its whole life. So a short-lived thread enters a namespace (``setns``),
makes a socket and ends; the ``up`` process's event loop then listens or connects
with that socket as with any other. Nothing changes in either namespace: no route,
no rule, no address — the host reaches into the cluster (and the nodes out to the
API server) only through sockets of the ``up`` process.

    host 127.0.0.1:6443  <-  node ns 127.0.0.1:6443     (agents reach the API server)
    API server           ->  LAN ns -> 10.250.0.k:10250 (logs, exec: :func:`lan_sockets`)
    host 127.0.0.1:30080 ->  LAN ns -> 10.250.0.k:30080 (NodePort, LoadBalancer)
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ipaddress
import os
import socket
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from loguru import logger

CLONE_NEWNET = 0x40000000
CONNECT_SECONDS = 10.0
CHUNK = 64 * 1024

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
Connect = Callable[[], Awaitable[Streams]]

_libc = ctypes.CDLL(None, use_errno=True)
log = logger.bind(component="up-forward")


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


def enter(netns_path: str) -> None:
    """Move the calling thread into the namespace at ``netns_path`` (``navarch join``
    does so with its main thread before anything runs: what it starts later, threads
    and processes, is made there too)."""
    target = os.open(netns_path, os.O_RDONLY)
    try:
        _setns(target)
    finally:
        os.close(target)


def socket_in(netns_path: str | None, family: int = socket.AF_INET) -> socket.socket:
    """A TCP socket of the namespace at ``netns_path`` (None: this thread's own)."""
    if netns_path is None:
        return socket.socket(family, socket.SOCK_STREAM)
    made: list[socket.socket] = []
    failed: list[BaseException] = []

    def make() -> None:
        # a thread of its own: if returning to the host's namespace failed, only this
        # thread, which ends here, would be left in the wrong one
        try:
            own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
            try:
                target = os.open(netns_path, os.O_RDONLY)
                try:
                    _setns(target)
                    try:
                        made.append(socket.socket(family, socket.SOCK_STREAM))
                    finally:
                        _setns(own)
                finally:
                    os.close(target)
            finally:
                os.close(own)
        except BaseException as exc:  # handed to the caller's thread
            failed.append(exc)

    thread = threading.Thread(target=make, name="netns-socket", daemon=True)
    thread.start()
    thread.join()
    if failed:
        for sock in made:
            sock.close()
        raise failed[0]
    return made[0]


def lan_sockets(netns_path: str, cidr: str) -> Callable[[tuple[Any, ...]], socket.socket]:
    """A socket factory (aiohttp's ``socket_factory``, given the address to connect to)
    making the sockets for addresses in ``cidr`` inside the namespace at ``netns_path``,
    and every other one as usual: the API server's way to the nodes' agents
    (:mod:`navarch.apiserver.egress`)."""
    lan = ipaddress.ip_network(cidr)

    def make(addr_info: tuple[Any, ...]) -> socket.socket:
        family, kind, proto, _, address = addr_info
        try:
            inside = ipaddress.ip_address(address[0]) in lan
        except ValueError:
            inside = False
        if inside and kind == socket.SOCK_STREAM:
            return socket_in(netns_path, family)
        return socket.socket(family, kind, proto)

    return make


async def listen_in(
    netns_path: str | None,
    host: str,
    port: int,
    handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> asyncio.Server:
    """A server on ``host:port`` inside the namespace at ``netns_path``."""
    sock = await asyncio.to_thread(socket_in, netns_path)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
        return await asyncio.start_server(handle, sock=sock)
    except BaseException:
        sock.close()
        raise


async def connect_in(netns_path: str | None, host: str, port: int) -> Streams:
    """A connection to ``host:port`` made from inside the namespace at ``netns_path``."""
    sock = await asyncio.to_thread(socket_in, netns_path)
    try:
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.sock_connect(sock, (host, port)), CONNECT_SECONDS)
        return await asyncio.open_connection(sock=sock)
    except BaseException:
        sock.close()
        raise


def to_first(targets: Callable[[], Sequence[tuple[str | None, str, int]]]) -> Connect:
    """Connect to the first of ``targets()`` (namespace path, host, port) that accepts:
    a node that is down is passed over for the next."""

    async def connect() -> Streams:
        errors: list[str] = []
        for netns_path, host, port in targets():
            try:
                return await connect_in(netns_path, host, port)
            except (OSError, TimeoutError) as exc:
                errors.append(f"{host}:{port}: {exc}")
        raise ConnectionError("; ".join(errors) or "no target")

    return connect


def relay_to(connect: Connect, **bound: object) -> Callable[..., Awaitable[None]]:
    """A connection handler relaying each accepted connection to what ``connect`` opens."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await connect()
        except (OSError, TimeoutError) as exc:
            log.bind(error=str(exc), **bound).warning("nothing to relay the connection to")
            writer.transport.abort()
            return
        await relay((reader, writer), (upstream_reader, upstream_writer))

    return handle


async def relay(one: Streams, other: Streams) -> None:
    """Copy both ways until both sides have finished; an end of stream is passed on as
    a half-close, a reset of either side aborts both."""
    try:
        await asyncio.gather(_pump(one[0], other[1]), _pump(other[0], one[1]))
    except (OSError, asyncio.IncompleteReadError):
        one[1].transport.abort()
        other[1].transport.abort()
    finally:
        for writer in (one[1], other[1]):
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(CHUNK):
        writer.write(data)
        await writer.drain()
    if writer.can_write_eof() and not writer.is_closing():
        writer.write_eof()
