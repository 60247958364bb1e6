"""gRPC failures from containerd mapped to Navarch's runtime errors.

containerd answers with standard gRPC codes (its errdefs package): ``NOT_FOUND``,
``ALREADY_EXISTS``, ``FAILED_PRECONDITION``, ``UNAVAILABLE``… A socket that does not
answer shows as ``UNAVAILABLE`` (nothing listening) or ``DEADLINE_EXCEEDED`` (a daemon
that hangs); both mean the runtime is unavailable, which the agent reports on the Node.
"""

from __future__ import annotations

import grpc

from navarch.runtime.errors import NotFound, RuntimeFault, Unavailable


class ContainerdError(RuntimeFault):
    """containerd refused a call for a reason with no runtime error of its own;
    ``code`` is the gRPC status code's name (``FAILED_PRECONDITION``…)."""

    def __init__(self, message: str, code: str = "UNKNOWN"):
        self.code = code
        super().__init__(message)


class AlreadyExists(ContainerdError):
    """The object (a namespace, an image, a blob, a snapshot) exists already."""

    def __init__(self, message: str):
        super().__init__(message, "ALREADY_EXISTS")


_UNAVAILABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


def map_error(
    exc: grpc.aio.AioRpcError, *, address: str, what: str, kind: str, ident: str
) -> RuntimeFault:
    """The runtime error for a failed call: ``what`` names the call (``images.Get``),
    ``kind`` and ``ident`` the object it was about (for :class:`NotFound`)."""
    code = exc.code()
    details = exc.details() or code.name
    if code in _UNAVAILABLE:
        return Unavailable(
            f"containerd at {address} does not answer ({code.name} on {what}: {details}); "
            "is containerd running and is the socket path right?"
        )
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFound(kind, ident)
    if code == grpc.StatusCode.ALREADY_EXISTS:
        return AlreadyExists(f"{kind} {ident!r} already exists ({what}: {details})")
    return ContainerdError(f"containerd {what} failed for {kind} {ident!r}: {details}", code.name)
