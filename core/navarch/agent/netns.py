"""Connecting into a pod's private network namespace from the agent.

A pod without ``hostNetwork`` has a namespace holding only loopback, which the
agent's own namespace cannot reach. A socket belongs to the namespace it was created
in, whatever thread uses it later, so the agent creates it in a short-lived thread
that enters the pod's namespace (``setns`` changes only the calling thread) and
returns, then uses it from the event loop like any other (needs root, as the
kubelet does)."""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket
import ssl

CLONE_NEWNET = 0x40000000


def _socket_in(netns_path: str) -> socket.socket:
    libc = ctypes.CDLL(None, use_errno=True)
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(netns_path, os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"cannot enter network namespace {netns_path}: {os.strerror(err)}")
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        finally:
            if libc.setns(own, CLONE_NEWNET) != 0:  # never leave a pool thread inside
                os._exit(70)
        sock.setblocking(False)
        return sock
    finally:
        os.close(own)
        os.close(target)


async def open_connection(
    host: str, port: int, netns_path: str = "", tls: ssl.SSLContext | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``asyncio.open_connection`` from inside ``netns_path`` (the agent's own namespace
    when empty), with TLS when ``tls`` is given."""
    if not netns_path:
        return await asyncio.open_connection(host, port, ssl=tls)
    sock = await asyncio.to_thread(_socket_in, netns_path)
    try:
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    return await asyncio.open_connection(sock=sock, ssl=tls, server_hostname=host if tls else None)
