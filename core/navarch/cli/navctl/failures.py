"""Errors navctl reports: one line on stderr naming the resource and the reason,
exit status 1 (as kubectl)."""

from __future__ import annotations

from navarch.client import ApiException


class CliError(Exception):
    """A problem the user can act on; ``str(exc)`` is the whole message."""


def describe_api_error(exc: ApiException) -> str:
    """kubectl's wording: ``Error from server (NotFound): pods "web" not found``."""
    reason = exc.status.get("reason") or "Unknown"
    message = exc.status.get("message") or f"HTTP {exc.code}"
    if exc.code == 503 and str(message).startswith("cannot reach "):
        return f"{message}\n{UNREACHABLE_HINT}"
    return f"Error from server ({reason}): {message}"


UNREACHABLE_HINT = (
    "Is a cluster running? Start one with `navarch up` (everything on this machine) or "
    "`navarch server`, and point navctl at its kubeconfig (--kubeconfig FILE or "
    "$KUBECONFIG; `navarch up` prints where it wrote it)."
)
