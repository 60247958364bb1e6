"""The connection to a CRI runtime: one grpc.aio channel to its endpoint (a unix
socket), each call's deadline, and failures mapped to runtime errors (errors.py).

No service code is generated: each method is called by its full path
(``/runtime.v1.RuntimeService/Version``) with the message classes of
``cri_subset.proto``.
"""

from __future__ import annotations

from typing import Any

import grpc

from navarch.runtime.errors import RuntimeFault
from navarch_runtime_cri.defaults import DEFAULT_TIMEOUT
from navarch_runtime_cri.errors import map_error

RUNTIME_SERVICE = "/runtime.v1.RuntimeService/"
IMAGE_SERVICE = "/runtime.v1.ImageService/"

_CHANNEL_OPTIONS = [
    # the kubelet's limit: a ListContainers of a busy node is large
    ("grpc.max_receive_message_length", 16 << 20),
    ("grpc.max_send_message_length", 16 << 20),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    # A unix socket's authority is meaningless; CRI runtimes check nothing.
    ("grpc.default_authority", "localhost"),
]


def socket_path(endpoint: str) -> str:
    """``unix:///run/x.sock`` or ``/run/x.sock`` -> ``/run/x.sock``."""
    return endpoint.removeprefix("unix://")


class CriConnection:
    """One channel to the CRI runtime at ``endpoint``; ``timeout`` is each call's
    deadline in seconds (a pull's is given by its caller)."""

    def __init__(self, endpoint: str, *, timeout: float = DEFAULT_TIMEOUT):
        self.endpoint = endpoint
        self.timeout = timeout
        self._channel: grpc.aio.Channel | None = None

    async def close(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            await channel.close()

    def _channel_for(self) -> grpc.aio.Channel:
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(
                f"unix://{socket_path(self.endpoint)}", options=_CHANNEL_OPTIONS
            )
        return self._channel

    async def raw(
        self, path: str, request: Any, response_type: Any, timeout: float | None = None
    ) -> Any:
        """One unary call; a gRPC failure is raised as it is (for callers that decide
        what it means)."""
        call = self._channel_for().unary_unary(
            path,
            request_serializer=type(request).SerializeToString,
            response_deserializer=response_type.FromString,
        )
        # a socket not there fails at once rather than at the deadline
        return await call(request, timeout=timeout or self.timeout, wait_for_ready=False)

    async def call(
        self,
        path: str,
        request: Any,
        response_type: Any,
        kind: str = "",
        ident: str = "",
        *,
        timeout: float | None = None,
    ) -> Any:
        """One unary call, its failure mapped to a runtime error about ``kind``
        ``ident``."""
        try:
            return await self.raw(path, request, response_type, timeout)
        except grpc.aio.AioRpcError as exc:
            raise self.error(exc, path, kind, ident) from None

    def error(self, exc: grpc.aio.AioRpcError, path: str, kind: str, ident: str) -> RuntimeFault:
        return map_error(exc, endpoint=self.endpoint, what=_short(path), kind=kind, ident=ident)


def _short(path: str) -> str:
    """``/runtime.v1.RuntimeService/Version`` -> ``RuntimeService.Version``."""
    service, _, method = path.rpartition("/")
    return f"{service.rsplit('.', 1)[-1]}.{method}"
