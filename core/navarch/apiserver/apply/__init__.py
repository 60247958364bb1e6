"""Server-side apply: field sets, the structured merge, and the field manager that keeps
``metadata.managedFields`` (see ``managers`` for the rules)."""

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

CONTENT_TYPE = "application/apply-patch+yaml"

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
