"""The ``Status`` kind: every error answer of the API, and some successes (delete)."""

from __future__ import annotations

from typing import Any, ClassVar

from navarch.api.meta import ListMeta
from navarch.api.schema import Model, model, wire


@model()
class StatusCause(Model):
    reason: str | None = wire()
    message: str | None = wire()
    field: str | None = wire()


@model()
class StatusDetails(Model):
    name: str | None = wire()
    group: str | None = wire()
    kind: str | None = wire()
    uid: str | None = wire()
    causes: tuple[StatusCause, ...] | None = wire()
    retry_after_seconds: int | None = wire()


@model()
class Status(Model):
    API_VERSION: ClassVar[str] = "v1"
    KIND: ClassVar[str] = "Status"

    api_version: str | None = wire()
    kind: str | None = wire()
    metadata: ListMeta | None = wire()
    status: str | None = wire()
    message: str | None = wire()
    reason: str | None = wire()
    details: StatusDetails | None = wire()
    code: int | None = wire()

    @classmethod
    def failure(cls, code: int, reason: str, message: str, **details: Any) -> Status:
        """A failure answer, e.g. ``Status.failure(404, "NotFound", 'pods "x" not found')``."""
        return cls(
            api_version="v1",
            kind="Status",
            metadata=ListMeta(),
            status="Failure",
            message=message,
            reason=reason,
            details=StatusDetails(**details) if details else None,
            code=code,
        )
