"""The JSONPath subset CRDs use in ``additionalPrinterColumns[].jsonPath`` and the
scale subresource's paths: fields, array indexes and wildcards.

::

    >>> obj = {"spec": {"cronSpec": "*/5 * * * *", "ports": [{"port": 80}, {"port": 443}]},
    ...        "metadata": {"labels": {"app.kubernetes.io/name": "web"}}}
    >>> find(obj, ".spec.cronSpec")
    ['*/5 * * * *']
    >>> find(obj, ".spec.ports[*].port"), find(obj, ".spec.ports[-1].port")
    ([80, 443], [443])
    >>> find(obj, ".metadata.labels['app.kubernetes.io/name']")
    ['web']
    >>> find(obj, ".status.replicas")
    []

A path starts with ``.`` (kubectl's ``{...}`` braces are accepted around it). A field
that is missing, or an index past the end, yields nothing rather than an error, as
client-go's JSONPath does with ``allowMissingKeys``. Filters (``[?(...)]``), slices and
recursive descent (``..``) are refused by :func:`parse` with :class:`JSONPathError`.
"""

from __future__ import annotations

import re
from typing import Any

import attrs


class JSONPathError(ValueError):
    """A path outside the subset; the message says where."""


@attrs.frozen
class Step:
    """``field`` (a key), ``index`` (an array position; negative from the end) or
    ``all`` (every element or value)."""

    kind: str
    key: str = ""
    index: int = 0


_FIELD = re.compile(r"\.([^.\[\]'\"]+)")
_BRACKET = re.compile(r"\[(?:(-?\d+)|(\*)|'([^']*)'|\"([^\"]*)\")\]")


def parse(path: str) -> tuple[Step, ...]:
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if not text.startswith("."):
        raise JSONPathError(f"{path!r}: must be a simple json path starting with .")
    if text == ".":
        return ()
    steps: list[Step] = []
    at = 0
    while at < len(text):
        if text.startswith("..", at):
            raise JSONPathError(f"{path!r}: recursive descent (..) is not supported")
        field = _FIELD.match(text, at)
        if field:
            name = field.group(1)
            steps.append(Step("all") if name == "*" else Step("field", key=name))
            at = field.end()
            continue
        bracket = _BRACKET.match(text, at)
        if bracket:
            index, star, single, double = bracket.groups()
            if index is not None:
                steps.append(Step("index", index=int(index)))
            elif star:
                steps.append(Step("all"))
            else:
                steps.append(Step("field", key=single if single is not None else double))
            at = bracket.end()
            continue
        raise JSONPathError(
            f"{path!r}: unsupported syntax at {text[at:]!r}; use .field, [index], [*] or ['key']"
        )
    return tuple(steps)


def find(obj: Any, path: str | tuple[Step, ...]) -> list[Any]:
    """Every value ``path`` reaches in ``obj`` (a JSON value), in document order."""
    steps = parse(path) if isinstance(path, str) else path
    values = [obj]
    for step in steps:
        values = [found for value in values for found in _apply(step, value)]
    return values


def _apply(step: Step, value: Any) -> list[Any]:
    if step.kind == "field":
        return [value[step.key]] if isinstance(value, dict) and step.key in value else []
    if step.kind == "index":
        if isinstance(value, list) and -len(value) <= step.index < len(value):
            return [value[step.index]]
        return []
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return list(value.values())
    return []
