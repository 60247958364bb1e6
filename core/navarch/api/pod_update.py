"""Kubernetes' pod update rule, on decoded and defaulted pods.

A pod's spec is fixed once created, except for what Kubernetes lets an update change:

- ``spec.containers[*].image`` and ``spec.initContainers[*].image``;
- ``spec.activeDeadlineSeconds``: set when unset, or lowered; never unset;
- ``spec.tolerations``: only additions (an existing toleration may change only its
  ``tolerationSeconds``);
- ``spec.terminationGracePeriodSeconds``: only to 1 when it was negative;
- ``spec.schedulingGates``: only removals; while the pod is still gated,
  ``spec.nodeSelector`` may gain entries (none changed or removed).

The comparison is semantic because it is made on typed objects: quantities compare by
value ("0.5" == "500m", 3 == "3") and the defaults are already applied to both sides,
so re-applying an unchanged manifest never counts as a change.
"""

from __future__ import annotations

from typing import Any

import attrs

from navarch.api import errors
from navarch.api.core_v1 import Container, Pod, PodSpec
from navarch.api.errors import FieldError
from navarch.api.field_checks import INT32_MAX
from navarch.api.schema import unstructure

MUTABLE_FIELDS = (
    "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
    "`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously "
    "negative)"
)
_MAX_CHANGES_LISTED = 5


def pod_update_errors(old: Pod, new: Pod) -> list[FieldError]:
    """The errors that make ``new`` an update Kubernetes refuses for ``old``; empty when
    allowed. Both are decoded and defaulted (``api.decode(obj).obj``)."""
    old_spec, new_spec = old.spec or PodSpec(), new.spec or PodSpec()
    errs = _active_deadline(old_spec.active_deadline_seconds, new_spec.active_deadline_seconds)
    if errs:
        return errs
    errs += _only_added_tolerations(old_spec, new_spec)
    errs += _only_deleted_scheduling_gates(old_spec, new_spec)
    gated = bool(old_spec.scheduling_gates)
    if gated:
        errs += _only_added_node_selector(old_spec, new_spec)
    munged = attrs.evolve(
        new_spec,
        containers=_with_images_of(new_spec.containers, old_spec.containers),
        init_containers=_with_images_of(new_spec.init_containers, old_spec.init_containers),
        active_deadline_seconds=old_spec.active_deadline_seconds,
        tolerations=old_spec.tolerations,
        scheduling_gates=old_spec.scheduling_gates,
        node_selector=old_spec.node_selector if gated else new_spec.node_selector,
        termination_grace_period_seconds=_grace_period(old_spec, new_spec),
    )
    if munged != old_spec:
        changed = _changed_paths(unstructure(old_spec), unstructure(munged), "spec")
        listed = ", ".join(changed[:_MAX_CHANGES_LISTED])
        if len(changed) > _MAX_CHANGES_LISTED:
            listed += f" and {len(changed) - _MAX_CHANGES_LISTED} more"
        errs.append(
            errors.forbidden(
                "spec",
                f"pod updates may not change fields other than {MUTABLE_FIELDS}; "
                f"changed: {listed or 'spec'}",
            )
        )
    return errs


def _with_images_of(
    new: tuple[Container, ...] | None, old: tuple[Container, ...] | None
) -> tuple[Container, ...] | None:
    if new is None or old is None or len(new) != len(old):
        return new  # a different number of containers is a change in itself
    return tuple(attrs.evolve(n, image=o.image) for n, o in zip(new, old, strict=True))


def _active_deadline(old: int | None, new: int | None) -> list[FieldError]:
    path = "spec.activeDeadlineSeconds"
    if new is not None:
        if not 0 <= new <= INT32_MAX:
            return [errors.invalid(path, new, f"must be between 0 and {INT32_MAX}, inclusive")]
        if old is not None and new > old:
            return [errors.invalid(path, new, "must be less than or equal to previous value")]
    elif old is not None:
        return [errors.invalid(path, new, "must not update from a positive integer to nil value")]
    return []


def _only_added_tolerations(old: PodSpec, new: PodSpec) -> list[FieldError]:
    new_tolerations = new.tolerations or ()
    for existing in old.tolerations or ():
        # tolerationSeconds is the one part of an existing toleration that may change.
        if not any(
            attrs.evolve(existing, toleration_seconds=t.toleration_seconds) == t
            for t in new_tolerations
        ):
            return [
                errors.forbidden(
                    "spec.tolerations",
                    "existing toleration can not be modified except its tolerationSeconds",
                )
            ]
    return []


def _only_deleted_scheduling_gates(old: PodSpec, new: PodSpec) -> list[FieldError]:
    old_names = {gate.name for gate in old.scheduling_gates or ()}
    return [
        errors.forbidden(
            f"spec.schedulingGates[{i}]",
            f"only deletion is allowed, but found new scheduling gate '{gate.name}'",
        )
        for i, gate in enumerate(new.scheduling_gates or ())
        if gate.name not in old_names
    ]


def _only_added_node_selector(old: PodSpec, new: PodSpec) -> list[FieldError]:
    new_selector = new.node_selector or {}
    return [
        errors.invalid(
            f"spec.nodeSelector[{key}]",
            new_selector.get(key),
            "only additions to spec.nodeSelector are allowed (no mutations or deletions)",
        )
        for key, value in (old.node_selector or {}).items()
        if new_selector.get(key) != value
    ]


def _grace_period(old: PodSpec, new: PodSpec) -> int | None:
    before, after = old.termination_grace_period_seconds, new.termination_grace_period_seconds
    if before is not None and before < 0 and after == 1:
        return before
    return after


def _changed_paths(old: Any, new: Any, path: str) -> list[str]:
    """The wire paths where ``old`` and ``new`` differ, deepest first found, for the
    message (Kubernetes prints a diff of the specs)."""
    if isinstance(old, dict) and isinstance(new, dict):
        found: list[str] = []
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                found += _changed_paths(old.get(key), new.get(key), f"{path}.{key}")
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        found = []
        for i, (before, after) in enumerate(zip(old, new, strict=True)):
            if before != after:
                found += _changed_paths(before, after, f"{path}[{i}]")
        return found
    return [path]
