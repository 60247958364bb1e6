"""The connection to containerd: one grpc.aio channel to its unix socket, the
namespace and lease headers every call carries, each call's deadline, and the
mapping of gRPC failures to Navarch's runtime errors (errors.py).

Every call carries the client's namespace in the ``containerd-namespace`` header (all
of containerd's objects live in a namespace; Navarch keeps its own apart from
Docker's ``moby`` and Kubernetes' ``k8s.io``) and, when given one, a lease in the
``containerd-lease`` header: what is written under a lease survives garbage collection
until the lease is deleted, and is collected afterwards unless something (an image
record, a label) references it.

No service code is generated: each method is called by its full path with the
message classes of ``containerd_subset.proto``. The per-service calls build on
:class:`ContainerdConnection` in their own modules (namespaces, content, images,
snapshots, containers, tasks); client.py puts them together.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Self

import grpc
from loguru import logger

from navarch.runtime.errors import RuntimeFault
from navarch_runtime_containerd.defaults import (
    DEFAULT_NAMESPACE,
    DEFAULT_SNAPSHOTTER,
    DEFAULT_TIMEOUT,
)
from navarch_runtime_containerd.errors import map_error

# Streams of content and layer unpacking move whole blobs: a longer deadline.
TRANSFER_TIMEOUT = 300.0
# Below containerd's default 16 MiB message limit, with room for the envelope.
CHUNK_SIZE = 1 << 20

NAMESPACE_HEADER = "containerd-namespace"
LEASE_HEADER = "containerd-lease"
# A lease with this label expires on its own: an importer that dies mid-way (killed,
# its machine rebooted) leaves nothing behind for longer than this.
LEASE_EXPIRE_LABEL = "containerd.io/gc.expire"

_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 16 << 20),
    ("grpc.max_send_message_length", 16 << 20),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    # A unix socket's authority is meaningless; containerd's Go server checks nothing.
    ("grpc.default_authority", "localhost"),
]


class ContainerdConnection:
    """One channel to containerd at ``address`` (a socket path, or ``unix:///path``),
    in one namespace. ``timeout`` is each call's deadline in seconds; transfers
    (content writes and reads, diff apply) get ``transfer_timeout``."""

    def __init__(
        self,
        address: str | Path,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        timeout: float = DEFAULT_TIMEOUT,
        transfer_timeout: float = TRANSFER_TIMEOUT,
        snapshotter: str = DEFAULT_SNAPSHOTTER,
    ):
        path = str(address).removeprefix("unix://")
        self.address = path
        self.namespace = namespace
        self.timeout = timeout
        self.transfer_timeout = transfer_timeout
        self.snapshotter = snapshotter
        self._channel: grpc.aio.Channel | None = None
        self._log = logger.bind(containerd=path, namespace=namespace)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            await channel.close()

    def _channel_for(self) -> grpc.aio.Channel:
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(
                f"unix://{self.address}", options=_CHANNEL_OPTIONS
            )
        return self._channel

    def _metadata(self, lease: str | None = None) -> tuple[tuple[str, str], ...]:
        headers = ((NAMESPACE_HEADER, self.namespace),)
        return (*headers, (LEASE_HEADER, lease)) if lease else headers

    async def _call(
        self,
        path: str,
        request: Any,
        response_type: Any,
        *,
        lease: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """One unary call with the headers and deadline; gRPC errors are left to the
        caller (:meth:`_unary` maps them; a few calls read them first)."""
        call = self._channel_for().unary_unary(
            path,
            request_serializer=type(request).SerializeToString,
            response_deserializer=response_type.FromString,
        )
        return await call(
            request,
            timeout=timeout or self.timeout,
            metadata=self._metadata(lease),
            # a socket not there yet fails at once rather than at the deadline
            wait_for_ready=False,
        )

    async def _unary(
        self,
        path: str,
        request: Any,
        response_type: Any,
        kind: str,
        ident: str,
        *,
        lease: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """One unary call, its failure mapped to a runtime error about ``kind``
        ``ident``."""
        try:
            return await self._call(path, request, response_type, lease=lease, timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            raise self._error(exc, _short(path), kind, ident) from None

    async def _unary_stream(
        self, path: str, request: Any, response_type: Any, kind: str, ident: str
    ) -> AsyncIterator[Any]:
        call = self._channel_for().unary_stream(
            path,
            request_serializer=type(request).SerializeToString,
            response_deserializer=response_type.FromString,
        )(request, timeout=self.transfer_timeout, metadata=self._metadata())
        try:
            async for response in call:
                yield response
        except grpc.aio.AioRpcError as exc:
            raise self._error(exc, _short(path), kind, ident) from None

    def _error(self, exc: grpc.aio.AioRpcError, what: str, kind: str, ident: str) -> RuntimeFault:
        return map_error(exc, address=self.address, what=what, kind=kind, ident=ident)


def _short(path: str) -> str:
    """``/containerd.services.images.v1.Images/Get`` -> ``images.Get``."""
    service, _, method = path.rpartition("/")
    return f"{service.split('.')[2]}.{method}"
