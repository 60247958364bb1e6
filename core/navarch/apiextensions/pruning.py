"""Pruning: the fields a custom object's schema does not specify are dropped, as
Kubernetes drops them (apiextensions ``pkg/apiserver/schema/pruning``) on every write
and on every read from storage.

Worked example, with the CronTab schema (``spec.cronSpec``, ``spec.image``,
``spec.replicas``)::

    >>> from navarch.apiextensions.structural import structural
    >>> schema = structural({"type": "object", "properties": {"spec": {
    ...     "type": "object", "properties": {"cronSpec": {"type": "string"}}}}})
    >>> removed = []
    >>> pruned = prune({"apiVersion": "stable.example.com/v1", "kind": "CronTab",
    ...                 "metadata": {"name": "a", "bogus": 1},
    ...                 "spec": {"cronSpec": "* * * * */5", "someRandomField": 42}},
    ...                schema, removed=removed)
    >>> pruned["metadata"], pruned["spec"]
    ({'name': 'a'}, {'cronSpec': '* * * * */5'})
    >>> removed
    ['metadata.bogus', 'spec.someRandomField']

The rules: below ``x-kubernetes-preserve-unknown-fields: true`` nothing unknown is
dropped (the fields the schema does specify are still pruned inside); an
``additionalProperties`` schema covers every key of a map; at the root, and in every
``x-kubernetes-embedded-resource``, ``apiVersion``, ``kind`` and ``metadata`` stay, and
``metadata`` keeps only ObjectMeta's own fields (:data:`OBJECT_META_FIELDS`).
"""

from __future__ import annotations

import copy
from typing import Any

from navarch.api.meta import OBJECT_META_FIELDS
from navarch.apiextensions.structural import Structural

_TYPE_META = ("apiVersion", "kind")


def prune(
    obj: dict[str, Any],
    schema: Structural | None,
    *,
    resource_root: bool = True,
    removed: list[str] | None = None,
) -> dict[str, Any]:
    """A pruned deep copy of ``obj``; the path of every dropped field is appended to
    ``removed`` when given (the API server warns ``unknown field "spec.foo"``).
    ``resource_root=False`` prunes a value that is not a whole object (e.g. a default)."""
    out = copy.deepcopy(obj)
    paths = removed if removed is not None else []
    if resource_root:
        _prune_resource(out, schema, "", paths)
    else:
        _prune(out, schema, "", paths)
    return out


def _prune_resource(
    obj: dict[str, Any], schema: Structural | None, path: str, removed: list[str]
) -> None:
    """An object with apiVersion/kind/metadata: the root, or an embedded resource."""
    for key in list(obj):
        here = _child(path, key)
        if key in _TYPE_META:
            continue
        if key == "metadata":
            _prune_metadata(obj[key], here, removed)
            continue
        _prune_field(obj, key, schema, here, removed)


def _prune_metadata(metadata: Any, path: str, removed: list[str]) -> None:
    if not isinstance(metadata, dict):
        return  # left for metadata validation to refuse
    for key in list(metadata):
        if key not in OBJECT_META_FIELDS:
            removed.append(_child(path, key))
            del metadata[key]


def _prune(value: Any, schema: Structural | None, path: str, removed: list[str]) -> None:
    if schema is not None and schema.preserve_unknown_fields:
        _prune_known_only(value, schema, path, removed)
        return
    if isinstance(value, dict):
        if schema is not None and schema.embedded_resource:
            _prune_resource(value, schema, path, removed)
            return
        for key in list(value):
            _prune_field(value, key, schema, _child(path, key), removed)
    elif isinstance(value, list):
        items = schema.items if schema is not None else None
        for i, item in enumerate(value):
            _prune(item, items, f"{path}[{i}]", removed)


def _prune_field(
    obj: dict[str, Any], key: str, schema: Structural | None, path: str, removed: list[str]
) -> None:
    prop = schema.properties.get(key) if schema is not None else None
    if prop is not None:
        _prune(obj[key], prop, path, removed)
    elif schema is not None and schema.additional_properties not in (None, False):
        # ``additionalProperties: true`` has no schema: Kubernetes keeps the entry and
        # prunes what is inside it as specified by nothing.
        additional = schema.additional_properties
        _prune(obj[key], additional if isinstance(additional, Structural) else None, path, removed)
    else:
        removed.append(path)
        del obj[key]


def _prune_known_only(value: Any, schema: Structural, path: str, removed: list[str]) -> None:
    """Below ``x-kubernetes-preserve-unknown-fields``: unknown fields stay; the fields
    the schema specifies are pruned by their own schemas."""
    if isinstance(value, dict):
        for key, item in value.items():
            if schema.embedded_resource and (key in _TYPE_META or key == "metadata"):
                continue
            here = _child(path, key)
            prop = schema.properties.get(key)
            if prop is not None:
                _prune(item, prop, here, removed)
            elif isinstance(schema.additional_properties, Structural):
                _prune(item, schema.additional_properties, here, removed)
    elif isinstance(value, list) and schema.items is not None:
        for i, item in enumerate(value):
            _prune_known_only(item, schema.items, f"{path}[{i}]", removed)


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
