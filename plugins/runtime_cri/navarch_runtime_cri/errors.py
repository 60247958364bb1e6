"""gRPC failures from a CRI runtime mapped to Navarch's runtime errors.

CRI runtimes answer with standard gRPC codes: ``NOT_FOUND`` for an unknown sandbox,
container or image, ``UNAVAILABLE`` when nothing listens on the endpoint,
``DEADLINE_EXCEEDED`` for a runtime that hangs; anything else (most failures arrive
as ``UNKNOWN`` with the runtime's own words) is the runtime refusing the call. Which
runtime error a refusal becomes depends on the call (a failed CreateContainer is a
CreateError, a failed StartContainer a StartError …): the callers decide, with
:func:`refusal_message`.
"""

from __future__ import annotations

import grpc

from navarch.runtime.errors import NotFound, RuntimeFault, Unavailable


class CriError(RuntimeFault):
    """The CRI runtime refused a call for a reason with no runtime error of its own;
    ``code`` is the gRPC status code's name (``UNKNOWN``, ``INVALID_ARGUMENT`` …)."""

    def __init__(self, message: str, code: str = "UNKNOWN"):
        self.code = code
        super().__init__(message)


_UNAVAILABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


def is_not_found(exc: grpc.aio.AioRpcError) -> bool:
    return exc.code() == grpc.StatusCode.NOT_FOUND


def refusal_message(exc: grpc.aio.AioRpcError) -> str:
    """The runtime's own words for a failed call."""
    return exc.details() or exc.code().name


def map_error(
    exc: grpc.aio.AioRpcError, *, endpoint: str, what: str, kind: str, ident: str
) -> RuntimeFault:
    """The runtime error for a failed call: ``what`` names the call
    (``RuntimeService.StartContainer``), ``kind`` and ``ident`` the object it was about
    (for :class:`NotFound`)."""
    code = exc.code()
    details = refusal_message(exc)
    if code in _UNAVAILABLE:
        return Unavailable(
            f"the CRI runtime at {endpoint} does not answer ({code.name} on {what}: "
            f"{details}); is it running, and is runtime.options.endpoint right?"
        )
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFound(kind, ident)
    return CriError(f"{what} failed for {kind} {ident!r}: {details}", code.name)
