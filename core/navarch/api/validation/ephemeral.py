"""Ephemeral containers (``spec.ephemeralContainers``), Kubernetes' rules.

An ephemeral container is a container added to a running pod, through the
``pods/ephemeralcontainers`` subresource only (``kubectl debug``), to look inside it:
it is run once and never restarted, and it has no guarantees of its own. So, as in
Kubernetes:

- a pod may not be created with one (``cannot be set on create``);
- it may not have ports, probes, lifecycle hooks, resources, a resize or restart
  policy (``cannot be set for an Ephemeral Container``);
- its ``targetContainerName`` names one of the pod's containers or init containers
  (the one whose process namespace it joins);
- its name is unique among all the pod's containers (checked with the others in
  :func:`navarch.api.validation.pods.validate_pod_spec`);
- once added it may not be changed or removed.
"""

from __future__ import annotations

from typing import Any

from navarch.api import errors
from navarch.api.core_v1 import EphemeralContainer, Pod, PodSpec
from navarch.api.field_checks import Errors
from navarch.api.schema import Model, join

# Container fields an ephemeral container may not set (Kubernetes' allow-list is the
# other fields), by attribute and wire name.
_NOT_ALLOWED = (
    ("ports", "ports"),
    ("resources", "resources"),
    ("resize_policy", "resizePolicy"),
    ("liveness_probe", "livenessProbe"),
    ("readiness_probe", "readinessProbe"),
    ("startup_probe", "startupProbe"),
    ("lifecycle", "lifecycle"),
    ("restart_policy", "restartPolicy"),
)
_NOT_ALLOWED_UNMODELED = ("restartPolicyRules",)


def validate_ephemeral_containers(spec: PodSpec, path: str) -> Errors:
    """The per-container rules of a pod's ephemeral containers."""
    errs: Errors = []
    targets = {c.name for c in (*(spec.containers or ()), *(spec.init_containers or ())) if c.name}
    for i, container in enumerate(spec.ephemeral_containers or ()):
        item = f"{join(path, 'ephemeralContainers')}[{i}]"
        errs += _not_allowed(container, item)
        target = container.target_container_name
        if target and target not in targets:
            errs.append(errors.not_found(join(item, "targetContainerName"), target))
    return errs


def _not_allowed(container: EphemeralContainer, path: str) -> Errors:
    set_fields = [wire for attr, wire in _NOT_ALLOWED if _is_set(getattr(container, attr))]
    set_fields += [wire for wire in _NOT_ALLOWED_UNMODELED if wire in container.unmodeled]
    return [
        errors.forbidden(join(path, wire), "cannot be set for an Ephemeral Container")
        for wire in set_fields
    ]


def _is_set(value: Any) -> bool:
    """Set to something: an empty value (``resources: {}``, as defaulting leaves it) is
    Kubernetes' zero value, which its allow-list accepts."""
    if value is None or value in ((), {}):
        return False
    if isinstance(value, Model):
        return value != type(value)()
    return True


def forbidden_on_create(pod: Pod) -> Errors:
    """A pod is created without ephemeral containers: they are added to a running one."""
    if pod.spec is not None and pod.spec.ephemeral_containers:
        return [errors.forbidden("spec.ephemeralContainers", "cannot be set on create")]
    return []


def ephemeral_update_errors(old: Pod, new: Pod) -> Errors:
    """What makes a write to ``pods/ephemeralcontainers`` one Kubernetes refuses: an
    existing ephemeral container changed or removed (new ones may be added)."""
    old_spec, new_spec = old.spec or PodSpec(), new.spec or PodSpec()
    kept = {c.name: c for c in new_spec.ephemeral_containers or ()}
    errs: Errors = []
    for i, container in enumerate(old_spec.ephemeral_containers or ()):
        path = f"spec.ephemeralContainers[{i}]"
        now = kept.get(container.name)
        if now is None:
            errs.append(
                errors.forbidden(
                    path, f'existing ephemeral containers "{container.name}" may not be removed'
                )
            )
        elif now != container:
            errs.append(
                errors.forbidden(
                    path, f'existing ephemeral containers "{container.name}" may not be changed'
                )
            )
    return errs
