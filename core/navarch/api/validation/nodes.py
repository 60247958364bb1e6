"""Validation of a Node: its pod CIDRs, its taints and the quantities of its capacity
and allocatable (Kubernetes' ValidateNode and ValidateNodeUpdate)."""

from __future__ import annotations

import ipaddress

from navarch.api import errors, names
from navarch.api.core_v1 import Node, NodeSpec
from navarch.api.field_checks import Errors, enum
from navarch.api.schema import join
from navarch.api.validation.scheduling import TAINT_EFFECTS

CIDR_MESSAGE = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
POD_CIDR_CHANGE_MESSAGE = 'node updates may not change podCIDR except from "" to valid'


def validate_node(node: Node) -> Errors:
    errs: Errors = _validate_pod_cidrs(node.spec or NodeSpec())
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


def _validate_pod_cidrs(spec: NodeSpec) -> Errors:
    cidrs: tuple[str, ...] = spec.pod_cidrs or ()
    errs: Errors = []
    families = []
    for i, cidr in enumerate(cidrs):
        try:  # as Kubernetes' ParseCIDRSloppy: host bits may be set
            families.append(ipaddress.ip_network(cidr, strict=False).version)
        except ValueError:
            errs.append(errors.invalid(f"spec.podCIDRs[{i}]", cidr, CIDR_MESSAGE))
    if len(cidrs) > 1 and not errs and (len(cidrs) > 2 or len(set(families)) != 2):
        errs.append(
            errors.invalid(
                "spec.podCIDRs", list(cidrs), "may specify no more than one CIDR for each IP family"
            )
        )
    if spec.pod_cidr and cidrs and spec.pod_cidr != cidrs[0]:
        errs.append(
            errors.invalid("spec.podCIDR", spec.pod_cidr, "must match the first entry of podCIDRs")
        )
    return errs


def validate_node_update(new: Node, old: Node) -> Errors:
    """Kubernetes' rule: a pod CIDR is given once (from none to one) and then stays."""
    old_cidrs: tuple[str, ...] = (old.spec.pod_cidrs if old.spec else None) or ()
    new_cidrs: tuple[str, ...] = (new.spec.pod_cidrs if new.spec else None) or ()
    if old_cidrs and old_cidrs != new_cidrs:
        return [errors.forbidden("spec.podCIDRs", POD_CIDR_CHANGE_MESSAGE)]
    return []
