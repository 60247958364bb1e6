"""Merging an applied configuration into the live object (Kubernetes' structured merge).

Objects merge field by field, keyed lists item by item (by their key fields), sets of
scalars as sets; everything else (scalars, atomic lists such as ``command`` or
``tolerations``, atomic maps such as ``selector``) is replaced by the configuration's
value. Nothing is removed here: removing what a manager stopped applying is the field
manager's job, because it depends on who else owns the field.
"""

from __future__ import annotations

import copy
from typing import Any

from navarch.apiserver.apply import fieldset, schema


def merge(live: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """A new object: ``live`` with ``config`` merged in; neither input is changed."""
    return _merge_maps(copy.deepcopy(live), config)


def _merge_maps(live: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    out = dict(live)
    for name, value in config.items():
        out[name] = _merge_value(name, live.get(name), value)
    return out


def _merge_value(field: str, live: Any, value: Any) -> Any:
    if isinstance(value, dict) and isinstance(live, dict) and field not in schema.ATOMIC_MAPS:
        return _merge_maps(live, value)
    if isinstance(value, list) and isinstance(live, list):
        if field in schema.LIST_MAP_KEYS:
            merged = _merge_keyed(field, live, value)
            if merged is not None:
                return merged
        elif field in schema.SET_LISTS:
            return list(live) + [copy.deepcopy(v) for v in value if v not in live]
    return copy.deepcopy(value)


def _merge_keyed(field: str, live: list[Any], config: list[Any]) -> list[Any] | None:
    """Items present in both merge; the configuration's new items follow the live ones,
    in its order. None when an item lacks its key (the list is then replaced whole)."""
    positions: dict[str, int] = {}
    out = list(live)
    for index, item in enumerate(live):
        key = schema.item_key(field, item)
        if key is None:
            return None
        positions[fieldset.key_element(key)] = index
    for item in config:
        key = schema.item_key(field, item)
        if key is None:
            return None
        element = fieldset.key_element(key)
        if element in positions:
            out[positions[element]] = _merge_maps(out[positions[element]], item)
        else:
            positions[element] = len(out)
            out.append(copy.deepcopy(item))
    return out
