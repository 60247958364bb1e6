"""Nodes (``/api/v1/nodes``)."""

from __future__ import annotations

from typing import Any

from navarch.api.core_v1 import Node
from navarch.api.defaults import default_node
from navarch.api.errors import FieldError
from navarch.api.validation.nodes import validate_node, validate_node_update
from navarch.printers.nodes import NODE_PRINTER
from navarch.resources.fields import flag
from navarch.resources.spec import Resource
from navarch.resources.strategy import Obj, Strategy


class NodeStrategy(Strategy):
    """A node registers with its status (capacity, addresses): kept on create, as
    Kubernetes' node strategy does; later only the status subresource changes it."""

    has_status = True

    def default(self, obj: Obj) -> None:
        default_node(obj)

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_node(obj)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return validate_node_update(new, old)

    def prepare_for_create(self, obj: Obj) -> None:
        pass


NODES = Resource.for_model(
    Node,
    short_names=("no",),
    subresources=("status",),
    strategy=NodeStrategy(),
    field_selectors={"spec.unschedulable": flag("spec", "unschedulable")},
    printer=NODE_PRINTER,
    description="Node is a worker in the cluster; its agent runs the pods bound to it.",
)
