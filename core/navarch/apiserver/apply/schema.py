"""How server-side apply sees the shape of the built-in kinds: which lists are maps keyed
by some of their items' fields, which are sets of scalars, which maps are atomic.

Kubernetes reads this from the OpenAPI extensions (``x-kubernetes-list-type``,
``x-kubernetes-list-map-keys``, ``x-kubernetes-map-type``). Within the kinds Navarch
serves, a field's name alone tells them apart, as it does for the strategic merge patch,
so both start from one table (``patch.MERGE_KEYS``). Apply differs where Kubernetes'
``+listType`` differs from its ``patchStrategy``: container ports are keyed by port *and*
protocol (defaulting to TCP), which is how their items are named in ``managedFields``;
topology spread constraints by key and ``whenUnsatisfiable``; a pod's ``hostIPs`` is
atomic, a container's ``resources.claims`` a map keyed by name. Every other list (a
Node's ``taints``, ``tolerations``, ``command``) is atomic: one field, replaced whole.
"""

from __future__ import annotations

from typing import Any

from navarch.apiserver import patch

_ATOMIC_IN_APPLY = frozenset({"hostIPs"})  # +patchStrategy=merge but +listType=atomic
LIST_MAP_KEYS: dict[str, tuple[str, ...]] = {
    **{field: (key,) for field, key in patch.MERGE_KEYS.items() if field not in _ATOMIC_IN_APPLY},
    "ports": ("containerPort", "protocol"),
    "topologySpreadConstraints": ("topologyKey", "whenUnsatisfiable"),
    "claims": ("name",),  # +listType=map without a patch strategy
}
# A key field an item may leave out, and the value it then has (Kubernetes defaults it).
KEY_DEFAULTS: dict[str, Any] = {"protocol": "TCP"}
# Lists of scalars whose items are owned one by one ("v:<value>" in managedFields).
SET_LISTS = frozenset(patch.MERGED_SCALAR_LISTS)
# Maps replaced whole, never merged key by key: a LabelSelector is atomic in Kubernetes,
# so two managers never end up with half a selector each.
ATOMIC_MAPS = frozenset({"selector"})


def item_key(field: str, item: Any) -> dict[str, Any] | None:
    """The key of one item of the keyed list ``field``, or None when it has none."""
    if not isinstance(item, dict):
        return None
    key: dict[str, Any] = {}
    for name in LIST_MAP_KEYS[field]:
        if name in item:
            key[name] = item[name]
        elif name in KEY_DEFAULTS:
            key[name] = KEY_DEFAULTS[name]
        else:
            return None
    return key
