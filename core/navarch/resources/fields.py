"""Selectable fields (Kubernetes' ``GetAttrs``/``ToSelectableFields``): how a kind names
the fields a ``?fieldSelector=`` may use, each read from the wire dict as Kubernetes
renders it (a missing field is ``""``, booleans are ``"true"``/``"false"``).

A kind lists its own in its resource spec (``Resource.field_selectors``);
``metadata.name`` and ``metadata.namespace`` are selectable on every kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Getter = Callable[[dict[str, Any]], str]


def path(*keys: str) -> Getter:
    """A getter for a nested string field; absent (or null) is ``""``."""

    def get(obj: dict[str, Any]) -> str:
        value: Any = obj
        for key in keys:
            if not isinstance(value, dict):
                return ""
            value = value.get(key)
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return get


def flag(*keys: str) -> Getter:
    """A boolean field as Kubernetes selects it: absent is ``false``."""
    inner = path(*keys)
    return lambda obj: inner(obj) or "false"


def dotted(*names: str) -> dict[str, Getter]:
    """``{"spec.x": path("spec", "x"), …}`` for plain fields named by their dotted path."""
    return {name: path(*name.split(".")) for name in names}


COMMON: Mapping[str, Getter] = dotted("metadata.name", "metadata.namespace")
