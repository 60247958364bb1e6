"""Defaulting: a custom object's missing fields set from the schema's ``default``
values, as Kubernetes sets them (apiextensions ``pkg/apiserver/schema/defaulting``).

Kubernetes defaults on every write (the request's object) and on every read from
storage (so a default added to the CRD later shows in old objects, without rewriting
them), before validation. Each default is deep-copied: two objects never share one.

Worked example::

    >>> from navarch.apiextensions.structural import structural
    >>> schema = structural({"type": "object", "properties": {"spec": {
    ...     "type": "object", "default": {},
    ...     "properties": {"replicas": {"type": "integer", "default": 1},
    ...                    "image": {"type": "string"}}}}})
    >>> default({"kind": "CronTab"}, schema)
    {'kind': 'CronTab', 'spec': {'replicas': 1}}
    >>> default({"spec": {"replicas": None, "image": None}}, schema)
    {'spec': {'replicas': 1}}

The second call shows nulls: a ``null`` in a field that is not ``nullable`` counts as
absent — defaulted when there is a default, dropped otherwise (Kubernetes'
``PruneNonNullableNullsWithoutDefaults``). A ``nullable`` field keeps its ``null``.
Defaults apply inside defaults (``spec: {default: {}}`` then ``replicas: 1`` in it),
inside array items, and inside maps under an ``additionalProperties`` schema.
"""

from __future__ import annotations

import copy
from typing import Any

from navarch.apiextensions.structural import Structural


def default(obj: dict[str, Any], schema: Structural) -> dict[str, Any]:
    """A deep copy of ``obj`` with ``schema``'s defaults applied."""
    out = copy.deepcopy(obj)
    _default(out, schema)
    return out


def _default(value: Any, schema: Structural | None) -> None:
    if schema is None:
        return
    if isinstance(value, dict):
        for key in list(value):
            field = schema.field_schema(key)
            if value[key] is None and field and not field.nullable and not field.has_default:
                del value[key]
        for key, prop in schema.properties.items():
            if prop.has_default and (
                key not in value or (value[key] is None and not prop.nullable)
            ):
                value[key] = copy.deepcopy(prop.default)
        for key, item in value.items():
            _default(item, schema.field_schema(key))
    elif isinstance(value, list) and schema.items is not None:
        items = schema.items
        for i, item in enumerate(value):
            if item is None and items.has_default and not items.nullable:
                value[i] = copy.deepcopy(items.default)
            _default(value[i], items)
