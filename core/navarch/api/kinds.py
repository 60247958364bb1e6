"""The kinds Navarch serves, looked up by ``apiVersion``/``kind``, and their List kinds."""

from __future__ import annotations

from typing import Any

import attrs

from navarch.api.apps_v1 import Deployment, ReplicaSet
from navarch.api.coordination_v1 import Lease
from navarch.api.core_v1 import Event, Namespace, Node, Pod
from navarch.api.meta import ListMeta, TopLevel
from navarch.api.schema import Model, wire

KINDS: tuple[type[TopLevel], ...] = (Namespace, Pod, Node, Event, ReplicaSet, Deployment, Lease)
# the kinds and, added below, their List kinds
_BY_TYPE: dict[tuple[str, str], type[Model]] = {(cls.API_VERSION, cls.KIND): cls for cls in KINDS}


class UnknownKind(LookupError):
    """``apiVersion``/``kind`` names nothing Navarch serves; the message lists what it does."""


def kind_for(api_version: Any, kind: Any) -> type[Model]:
    cls = _BY_TYPE.get((api_version, kind))
    if cls is None:
        served = ", ".join(f"{c.API_VERSION}/{c.KIND}" for c in KINDS)
        raise UnknownKind(
            f"no kind {kind!r} in apiVersion {api_version!r}; Navarch serves: {served}"
        )
    return cls


def _make_list(cls: type[TopLevel]) -> type[Model]:
    fields = {
        "api_version": wire(),
        "kind": wire(),
        "metadata": wire(),
        "items": wire(),
    }
    # made at run time: typed Any, as mypy sees no ITEM, KIND or API_VERSION on it
    list_cls: Any = attrs.make_class(
        f"{cls.KIND}List", fields, bases=(Model,), frozen=True, kw_only=True
    )
    # make_class has no annotations to resolve; give the converter the real types.
    list_cls.__annotations__ = {
        "api_version": str | None,
        "kind": str | None,
        "metadata": ListMeta | None,
        # a type made from a variable: right at run time, which is all the converter needs
        "items": tuple[cls, ...] | None,  # type: ignore[valid-type]
    }
    list_cls.ITEM = cls
    list_cls.KIND = f"{cls.KIND}List"
    list_cls.API_VERSION = cls.API_VERSION
    return list_cls


LIST_KINDS: dict[type[TopLevel], type[Model]] = {cls: _make_list(cls) for cls in KINDS}
NamespaceList, PodList, NodeList, EventList, ReplicaSetList, DeploymentList, LeaseList = (
    LIST_KINDS[c] for c in KINDS
)
_list_cls: Any  # a List class made by _make_list
for _list_cls in LIST_KINDS.values():
    _BY_TYPE[(_list_cls.API_VERSION, _list_cls.KIND)] = _list_cls
