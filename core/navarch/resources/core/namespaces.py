"""Namespaces (``/api/v1/namespaces``), with their ``finalize`` subresource."""

from __future__ import annotations

import copy

from navarch.api import names
from navarch.api.core_v1 import Namespace
from navarch.api.defaults import default_namespace
from navarch.printers.simple import NAMESPACE_PRINTER
from navarch.resources.fields import dotted
from navarch.resources.spec import Resource
from navarch.resources.strategy import Obj, Strategy

NAMESPACE_FINALIZER = "kubernetes"


class NamespaceStrategy(Strategy):
    """A deleted namespace turns Terminating and stays until the namespace controller
    (:mod:`navarch.controllers.namespace`) has emptied it and removed the
    ``kubernetes`` finalizer from its spec."""

    has_status = True
    initial_status: Obj = {"phase": "Active"}

    def default(self, obj: Obj) -> None:
        default_namespace(obj)

    def validate_name(self, name: str) -> list[str]:
        return names.dns1123_label(name)  # a namespace name is a DNS label

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        spec = obj.setdefault("spec", {}) or {}
        obj["spec"] = spec
        if NAMESPACE_FINALIZER not in (spec.get("finalizers") or []):
            spec["finalizers"] = [*(spec.get("finalizers") or []), NAMESPACE_FINALIZER]

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        new["spec"] = copy.deepcopy(old.get("spec"))  # changed only through finalize
        if new["spec"] is None:
            new.pop("spec")

    def finalizers(self, obj: Obj) -> list[str]:
        return [*super().finalizers(obj), *((obj.get("spec") or {}).get("finalizers") or [])]

    def mark_terminating(self, obj: Obj) -> None:
        obj["status"] = {**(obj.get("status") or {}), "phase": "Terminating"}


NAMESPACES = Resource.for_model(
    Namespace,
    short_names=("ns",),
    subresources=("status", "finalize"),
    strategy=NamespaceStrategy(),
    field_selectors=dotted("status.phase"),
    printer=NAMESPACE_PRINTER,
    description="Namespace provides a scope for names.",
)
