"""Validation of the workload kinds, ReplicaSet and Deployment: replicas, selector that
matches the template's labels, the pod template (restart policy Always), and a
Deployment's history, deadline and rollout strategy.
"""

from __future__ import annotations

from navarch.api import errors
from navarch.api.apps_v1 import Deployment, ReplicaSet
from navarch.api.core_v1 import PodTemplateSpec
from navarch.api.field_checks import (
    Errors,
    enum,
    non_negative,
    validate_label_selector,
    validate_labels,
)
from navarch.api.meta import LabelSelector
from navarch.api.validation.pods import validate_pod_spec

STRATEGIES = ("RollingUpdate", "Recreate")


def validate_replica_set(rs: ReplicaSet) -> Errors:
    if rs.spec is None:
        return [errors.required("spec")]
    return _validate_workload(
        rs.spec.replicas, rs.spec.selector, rs.spec.template, rs.spec.min_ready_seconds
    )


def validate_deployment(deployment: Deployment) -> Errors:
    spec = deployment.spec
    if spec is None:
        return [errors.required("spec")]
    errs = _validate_workload(spec.replicas, spec.selector, spec.template, spec.min_ready_seconds)
    errs += non_negative(spec.revision_history_limit, "spec.revisionHistoryLimit")
    deadline = spec.progress_deadline_seconds
    if deadline is not None and deadline <= (spec.min_ready_seconds or 0):
        errs.append(
            errors.invalid(
                "spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"
            )
        )
    strategy = spec.strategy
    if strategy is not None:
        errs += enum(strategy.type, "spec.strategy.type", STRATEGIES)
        rolling = strategy.rolling_update
        if rolling is not None and strategy.type == "Recreate":
            errs.append(
                errors.forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                )
            )
        elif rolling is not None:
            surge = _int_or_percent(rolling.max_surge, "spec.strategy.rollingUpdate.maxSurge", errs)
            unavailable = _int_or_percent(
                rolling.max_unavailable, "spec.strategy.rollingUpdate.maxUnavailable", errs
            )
            if surge == 0 and unavailable == 0:
                errs.append(
                    errors.invalid(
                        "spec.strategy.rollingUpdate.maxUnavailable",
                        rolling.max_unavailable,
                        "may not be 0 when `maxSurge` is 0",
                    )
                )
            if (
                isinstance(rolling.max_unavailable, str)
                and unavailable is not None
                and unavailable > 100
            ):
                errs.append(
                    errors.invalid(
                        "spec.strategy.rollingUpdate.maxUnavailable",
                        rolling.max_unavailable,
                        "must not be greater than 100%",
                    )
                )
    return errs


def _validate_workload(
    replicas: int | None,
    selector: LabelSelector | None,
    template: PodTemplateSpec | None,
    min_ready_seconds: int | None,
) -> Errors:
    errs: Errors = non_negative(replicas, "spec.replicas")
    errs += non_negative(min_ready_seconds, "spec.minReadySeconds")
    parsed = None
    if selector is None:
        errs.append(errors.required("spec.selector"))
    else:
        selector_errs, parsed = validate_label_selector(selector, "spec.selector")
        errs += selector_errs
        if parsed is not None and parsed.is_empty():
            errs.append(
                errors.invalid("spec.selector", {}, "empty selector is invalid for deployment")
            )
    if template is None:
        errs.append(errors.required("spec.template"))
        return errs
    template_labels = (template.metadata.labels if template.metadata else None) or {}
    errs += validate_labels(template_labels, "spec.template.metadata.labels")
    if parsed is not None and not parsed.is_empty() and not parsed.matches(template_labels):
        errs.append(
            errors.invalid(
                "spec.template.metadata.labels",
                template_labels,
                "`selector` does not match template `labels`",
            )
        )
    errs += validate_pod_spec(template.spec, "spec.template.spec", template=True)
    if template.spec is not None and template.spec.restart_policy not in (None, "Always"):
        errs.append(
            errors.not_supported(
                "spec.template.spec.restartPolicy", template.spec.restart_policy, ["Always"]
            )
        )
    return errs


def _int_or_percent(value: int | str | None, path: str, errs: Errors) -> int | None:
    """The number in an int-or-percent ("25%" -> 25, 3 -> 3); records a bad value."""
    if value is None:
        return None
    if isinstance(value, int):
        if value < 0:
            errs.append(errors.invalid(path, value, "must be greater than or equal to 0"))
        return value
    if value.endswith("%") and value[:-1].isdigit():
        return int(value[:-1])
    errs.append(errors.invalid(path, value, "must be an integer or percentage (e.g '5%')"))
    return None
