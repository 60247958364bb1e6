"""Server-side apply: field sets (``fieldset``), the structured merge (``merge``), the
field manager that keeps ``metadata.managedFields`` (``managers``, which states the
rules), and its place in the request path (``writes``)."""

from navarch.apiserver.apply.managers import (
    APPLY,
    UPDATE,
    Manager,
    apply,
    check_options,
    conflict_error,
    manager_name,
    record_update,
)
from navarch.apiserver.apply.writes import CONTENT_TYPE

__all__ = [
    "APPLY",
    "CONTENT_TYPE",
    "UPDATE",
    "Manager",
    "apply",
    "check_options",
    "conflict_error",
    "manager_name",
    "record_update",
]
