"""A custom object checked against its structural schema, as Kubernetes checks it
(kube-openapi's validator behind apiextensions-apiserver), every error at once.

Messages are Kubernetes' own, with the field's path both in front and "in body"::

    >>> from navarch.apiextensions.structural import structural
    >>> schema = structural({"type": "object", "properties": {"spec": {
    ...     "type": "object", "required": ["cronSpec"], "properties": {
    ...         "cronSpec": {"type": "string", "pattern": "^[0-9*/ ]+$"},
    ...         "replicas": {"type": "integer", "minimum": 1, "maximum": 10}}}}})
    >>> for e in validate({"spec": {"replicas": "three"}}, schema):
    ...     print(e.describe())
    spec.cronSpec: Required value
    spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"

The errors are :class:`navarch.api.errors.FieldError` s, which the API server turns
into a 422 Invalid naming each field. Paths are ``spec.list[0].name`` for array items
and ``spec.labels.key`` for map entries.

What is checked, per node: ``type`` (an integral float such as ``3.0`` is an integer,
as JSON has one number type), ``nullable`` (``null`` is refused otherwise),
``x-kubernetes-int-or-string``, ``enum``, ``maximum``/``minimum`` (and ``exclusive*``),
``multipleOf``, ``maxLength``/``minLength`` (in characters), ``pattern``, ``format``
(:mod:`navarch.apiextensions.formats`), ``maxItems``/``minItems``, ``uniqueItems``,
``maxProperties``/``minProperties``, ``required``, ``properties``,
``additionalProperties`` (a schema, or ``false``: no fields), ``items``, and the value
validations ``allOf``/``anyOf``/``oneOf``/``not``. ``x-kubernetes-preserve-unknown-fields``
lets any value through where no ``type`` is given (its known fields are still checked).
"""

from __future__ import annotations

import json
import math
from typing import Any

from navarch.api import errors
from navarch.api.errors import FieldError
from navarch.api.field_checks import Errors
from navarch.apiextensions.formats import format_problem
from navarch.apiextensions.structural import Structural

TOO_MANY = "FieldValueTooMany"  # Kubernetes' cause type; navarch.api.errors has no helper


def validate(value: Any, schema: Structural, path: str = "") -> Errors:
    """Every error of ``value`` against ``schema`` (empty when valid); ``path`` is where
    ``value`` sits (empty for a whole object)."""
    errs: Errors = []
    _validate(value, schema, path, errs)
    return errs


def json_type(value: Any) -> str:
    """The JSON type of a decoded value, in the words of the schema's ``type``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _validate(value: Any, s: Structural, path: str, errs: Errors) -> None:
    actual = json_type(value)
    if value is None:
        if not s.nullable and (s.type or s.int_or_string):
            errs.append(_type_error(path, s.type or "integer-or-string", actual))
        return
    if s.int_or_string:
        if actual not in ("integer", "string"):
            errs.append(_type_error(path, "integer-or-string", actual))
            return
    elif s.type and not _type_matches(s.type, actual):
        errs.append(_type_error(path, s.type, actual))
        return
    if s.enum is not None and not any(_json_equal(value, allowed) for allowed in s.enum):
        errs.append(errors.not_supported(path, value, s.enum))
    if actual in ("integer", "number"):
        _number(value, s, path, errs)
    elif actual == "string":
        _string(value, s, path, errs)
    elif actual == "array":
        _array(value, s, path, errs)
    elif actual == "object":
        _object(value, s, path, errs)
    _value_validations(value, s, path, errs)


def _type_matches(expected: str, actual: str) -> bool:
    return expected == actual or (expected == "number" and actual == "integer")


def _type_error(path: str, expected: str, actual: str) -> FieldError:
    return errors.invalid(path, actual, f'{_body(path)} must be of type {expected}: "{actual}"')


def _body(path: str) -> str:
    return f"{path or 'body'} in body"


def _number(value: int | float, s: Structural, path: str, errs: Errors) -> None:
    if s.maximum is not None:
        if s.exclusive_maximum and value >= s.maximum:
            errs.append(_bound(path, value, f"should be less than {_num(s.maximum)}"))
        elif value > s.maximum:
            errs.append(_bound(path, value, f"should be less than or equal to {_num(s.maximum)}"))
    if s.minimum is not None:
        if s.exclusive_minimum and value <= s.minimum:
            errs.append(_bound(path, value, f"should be greater than {_num(s.minimum)}"))
        elif value < s.minimum:
            errs.append(
                _bound(path, value, f"should be greater than or equal to {_num(s.minimum)}")
            )
    if s.multiple_of and not _is_multiple(value, s.multiple_of):
        errs.append(_bound(path, value, f"should be a multiple of {_num(s.multiple_of)}"))
    problem = format_problem(s.format, value)
    if problem:
        errs.append(errors.invalid(path, value, f"{_body(path)} {problem}"))


def _bound(path: str, value: Any, detail: str) -> FieldError:
    return errors.invalid(path, value, f"{_body(path)} {detail}")


def _is_multiple(value: int | float, factor: int | float) -> bool:
    if isinstance(value, int) and isinstance(factor, int):
        return value % factor == 0
    quotient = value / factor
    return math.isclose(quotient, round(quotient), rel_tol=0, abs_tol=1e-9)


def _num(value: int | float) -> str:
    # Go prints a float64 bound without a trailing ".0"; so does Kubernetes' message.
    return str(int(value)) if float(value).is_integer() else repr(value)


def _string(value: str, s: Structural, path: str, errs: Errors) -> None:
    length = len(value)  # characters, as JSON schema counts them (Go counts runes)
    if s.max_length is not None and length > s.max_length:
        errs.append(
            FieldError(
                path, errors.TOO_LONG, f"Too long: may not be more than {s.max_length} characters"
            )
        )
    if s.min_length is not None and length < s.min_length:
        errs.append(_bound(path, value, f"should be at least {s.min_length} chars long"))
    if s.regex is not None and not s.regex.search(value):
        errs.append(_bound(path, value, f"should match '{s.pattern}'"))
    problem = format_problem(s.format, value)
    if problem:
        errs.append(errors.invalid(path, value, f"{_body(path)} {problem}"))


def _array(value: list[Any], s: Structural, path: str, errs: Errors) -> None:
    if s.max_items is not None and len(value) > s.max_items:
        errs.append(
            FieldError(
                path, TOO_MANY, f"Too many: {len(value)}: must have at most {s.max_items} items"
            )
        )
    if s.min_items is not None and len(value) < s.min_items:
        errs.append(_bound(path, len(value), f"should have at least {s.min_items} items"))
    if s.unique_items:
        seen: list[str] = []
        for i, item in enumerate(value):
            canonical = _canonical(item)
            if canonical in seen:
                errs.append(errors.duplicate(f"{path}[{i}]", item))
            seen.append(canonical)
    if s.items is not None:
        for i, item in enumerate(value):
            _validate(item, s.items, f"{path}[{i}]", errs)


def _object(value: dict[str, Any], s: Structural, path: str, errs: Errors) -> None:
    if s.max_properties is not None and len(value) > s.max_properties:
        errs.append(
            FieldError(
                path,
                TOO_MANY,
                f"Too many: {len(value)}: must have at most {s.max_properties} items",
            )
        )
    if s.min_properties is not None and len(value) < s.min_properties:
        errs.append(_bound(path, len(value), f"should have at least {s.min_properties} properties"))
    for name in s.required:
        if name not in value:
            errs.append(errors.required(_child(path, name)))
    for name, item in value.items():
        here = _child(path, name)
        prop = s.properties.get(name)
        if prop is not None:
            _validate(item, prop, here, errs)
        elif isinstance(s.additional_properties, Structural):
            _validate(item, s.additional_properties, here, errs)
        elif s.additional_properties is False and not s.preserve_unknown_fields:
            errs.append(errors.forbidden(here, f"{_body(here)} is a forbidden property"))


def _value_validations(value: Any, s: Structural, path: str, errs: Errors) -> None:
    for nested in s.all_of:
        _validate(value, nested, path, errs)
    if s.any_of and not s.int_or_string and all(validate(value, n, path) for n in s.any_of):
        errs.append(
            errors.invalid(path, value, f"{_body(path)} must validate at least one schema (anyOf)")
        )
    if s.one_of:
        passing = sum(1 for nested in s.one_of if not validate(value, nested, path))
        if passing != 1:
            errs.append(
                errors.invalid(
                    path, value, f"{_body(path)} must validate one and only one schema (oneOf)"
                )
            )
    if s.not_ is not None and not validate(value, s.not_, path):
        errs.append(
            errors.invalid(path, value, f"{_body(path)} must not validate the schema (not)")
        )


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values (``True`` is not ``1``; ``1`` is ``1.0``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b
