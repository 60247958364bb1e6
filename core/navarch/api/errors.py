"""Field errors and the 422 Invalid ``Status`` they turn into.

Reasons are Kubernetes' ``StatusCause`` types, so clients that inspect
``details.causes[].reason`` behave the same against Navarch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence, Set
from typing import Any

import attrs

REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
DUPLICATE = "FieldValueDuplicate"
TOO_LONG = "FieldValueTooLong"
FORBIDDEN = "FieldValueForbidden"
TYPE_INVALID = "FieldValueTypeInvalid"
NOT_FOUND = "FieldValueNotFound"
# Not a Kubernetes cause type: Kubernetes reports strict-decoding failures as a
# plain message; Navarch reports them per field like every other error.
UNKNOWN = "FieldValueUnknown"


@attrs.frozen
class FieldError:
    """One field's problem; ``path`` is in Kubernetes notation (``spec.containers[0].image``)."""

    path: str
    reason: str
    message: str

    def describe(self) -> str:
        return f"{self.path}: {self.message}"

    def to_cause(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "field": self.path}


def required(path: str, detail: str = "") -> FieldError:
    return FieldError(path, REQUIRED, _with_detail("Required value", detail))


def invalid(path: str, value: Any, detail: str) -> FieldError:
    return FieldError(path, INVALID, f"Invalid value: {show(value)}: {detail}")


def not_supported(path: str, value: Any, allowed: Sequence[str]) -> FieldError:
    choices = ", ".join(show(a) for a in allowed)
    return FieldError(
        path, NOT_SUPPORTED, f"Unsupported value: {show(value)}: supported values: {choices}"
    )


def duplicate(path: str, value: Any) -> FieldError:
    return FieldError(path, DUPLICATE, f"Duplicate value: {show(value)}")


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError(path, FORBIDDEN, f"Forbidden: {detail}")


def not_found(path: str, value: Any) -> FieldError:
    return FieldError(path, NOT_FOUND, f"Not found: {show(value)}")


def type_invalid(path: str, value: Any, expected: str) -> FieldError:
    return FieldError(path, TYPE_INVALID, f"Invalid value: {show(value)}: must be {expected}")


def unknown(path: str) -> FieldError:
    name = path.rsplit(".", 1)[-1]
    return FieldError(
        path,
        UNKNOWN,
        f'unknown field "{name}": Kubernetes has no such field here; check its spelling '
        "and indentation",
    )


class InvalidObject(ValueError):
    """Raised with every field error of one object at once (the API answers 422)."""

    def __init__(self, kind: str, name: str | None, errors: Sequence[FieldError]):
        self.kind = kind
        self.name = name or ""
        self.errors = tuple(errors)
        super().__init__(self.message())

    def message(self) -> str:
        details = ", ".join(e.describe() for e in self.errors)
        return f'{self.kind} "{self.name}" is invalid: [{details}]'


def _with_detail(summary: str, detail: str) -> str:
    return f"{summary}: {detail}" if detail else summary


class Preview(str):
    """An already shortened rendering of a long value, shown as it is."""


def show(value: Any) -> str:
    """A value as a user reads it in a message: JSON (``{"app":"other"}``, ``["a","b"]``,
    ``"text"``, ``3``, ``true``, ``null``).

    Kubernetes prints these in Go syntax; JSON is what the user wrote in the manifest (or
    its YAML twin), and never Python's ``repr`` (``{'app': 'other'}``, ``True``, ``None``).
    """
    if isinstance(value, Preview):
        return str(value)
    return json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"))


def _plain(value: Any) -> Any:
    """``value`` with everything JSON cannot encode turned into what it stands for."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Set):
        return [_plain(v) for v in sorted(value, key=str)]
    if isinstance(value, Sequence):
        return [_plain(v) for v in value]
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):  # a model object: its wire form
        return _plain(to_dict())
    return str(value)  # a Quantity, say: its canonical text
