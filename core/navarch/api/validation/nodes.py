"""Validation of a Node: its taints and the quantities of its capacity and allocatable."""

from __future__ import annotations

from navarch.api import errors, names
from navarch.api.core_v1 import Node
from navarch.api.field_checks import Errors, enum
from navarch.api.schema import join
from navarch.api.validation.scheduling import TAINT_EFFECTS


def validate_node(node: Node) -> Errors:
    errs: Errors = []
    for i, taint in enumerate((node.spec.taints if node.spec else None) or ()):
        path = f"spec.taints[{i}]"
        if not taint.key:
            errs.append(errors.required(join(path, "key")))
        else:
            errs += [
                errors.invalid(join(path, "key"), taint.key, p)
                for p in names.qualified_name(taint.key)
            ]
        if taint.value:
            errs += [
                errors.invalid(join(path, "value"), taint.value, p)
                for p in names.label_value(taint.value)
            ]
        if not taint.effect:
            errs.append(errors.required(join(path, "effect")))
        else:
            errs += enum(taint.effect, join(path, "effect"), TAINT_EFFECTS)
    status = node.status
    for section in ("capacity", "allocatable"):
        for name, quantity in ((getattr(status, section) if status else None) or {}).items():
            if quantity.value < 0:
                errs.append(
                    errors.invalid(
                        f"status.{section}[{name}]",
                        quantity.text,
                        "must be greater than or equal to 0",
                    )
                )
    return errs
