"""Small checks shared by the validators: enumerations, ranges, names, labels and label
selectors, each returning field errors at the path it is given."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from navarch.api import errors, names, selectors
from navarch.api.errors import FieldError
from navarch.api.meta import LabelSelector
from navarch.api.schema import join

Errors = list[FieldError]

INT32_MAX = 2**31 - 1


def enum(value: str | None, path: str, allowed: tuple[str, ...]) -> Errors:
    if value is None or value in allowed:
        return []
    return [errors.not_supported(path, value, allowed)]


def non_negative(value: int | None, path: str) -> Errors:
    if value is not None and value < 0:
        return [errors.invalid(path, value, "must be greater than or equal to 0")]
    return []


def positive(value: int | None, path: str) -> Errors:
    if value is not None and value <= 0:
        return [errors.invalid(path, value, "must be greater than 0")]
    return []


def in_range(value: int | None, path: str, low: int, high: int) -> Errors:
    if value is not None and not low <= value <= high:
        return [errors.invalid(path, value, f"must be between {low} and {high}, inclusive")]
    return []


def named(value: str | None, path: str, rule: Callable[[str], list[str]]) -> Errors:
    """``rule``'s problems with a non-empty ``value`` (e.g. ``names.dns1123_label``)."""
    if not value:
        return []
    return [errors.invalid(path, value, problem) for problem in rule(value)]


def required_name(value: str | None, path: str, rule: Callable[[str], list[str]]) -> Errors:
    if not value:
        return [errors.required(path)]
    return named(value, path, rule)


def validate_labels(labels: Mapping[str, str] | None, path: str) -> Errors:
    errs: Errors = []
    for key, value in (labels or {}).items():
        errs += [errors.invalid(path, key, p) for p in names.qualified_name(key)]
        errs += [errors.invalid(path, value, p) for p in names.label_value(value)]
    return errs


def validate_label_selector(
    selector: LabelSelector, path: str
) -> tuple[Errors, selectors.Selector | None]:
    """Errors of a structured selector, and the parsed selector when it is valid."""
    errs = validate_labels(selector.match_labels, join(path, "matchLabels"))
    expressions = []
    for i, expr in enumerate(selector.match_expressions or ()):
        expr_path = f"{join(path, 'matchExpressions')}[{i}]"
        if expr.operator not in selectors.LABEL_OPERATORS:
            errs.append(
                errors.not_supported(
                    join(expr_path, "operator"), expr.operator, selectors.LABEL_OPERATORS
                )
            )
            continue
        requirement = selectors.Requirement(expr.key or "", expr.operator, tuple(expr.values or ()))
        for problem in selectors.validate_requirement(requirement):
            errs.append(errors.invalid(expr_path, str(requirement), problem))
        expressions.append((requirement.key, requirement.operator, requirement.values))
    if errs:
        return errs, None
    return errs, selectors.from_match(selector.match_labels, expressions)
