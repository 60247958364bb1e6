"""Validation of DaemonSets as Kubernetes' ValidateDaemonSet does it: a non-empty
selector that matches the template's labels, the pod template (restart policy
Always, no activeDeadlineSeconds), the update strategy (RollingUpdate with exactly
one of maxUnavailable and maxSurge above zero, or OnDelete), and on update a selector
that stays as it was.
"""

from __future__ import annotations

from navarch.api import errors
from navarch.api.apps_v1 import DaemonSet, RollingUpdateDaemonSet
from navarch.api.field_checks import (
    Errors,
    enum,
    non_negative,
    validate_label_selector,
    validate_labels,
)
from navarch.api.schema import IntOrString
from navarch.api.validation.pods import validate_pod_spec

UPDATE_STRATEGIES = ("RollingUpdate", "OnDelete")


def validate_daemon_set(ds: DaemonSet) -> Errors:
    spec = ds.spec
    if spec is None:
        return [errors.required("spec")]
    errs: Errors = non_negative(spec.min_ready_seconds, "spec.minReadySeconds")
    errs += non_negative(spec.revision_history_limit, "spec.revisionHistoryLimit")
    parsed = None
    if spec.selector is None:
        errs.append(errors.required("spec.selector"))
    else:
        selector_errs, parsed = validate_label_selector(spec.selector, "spec.selector")
        errs += selector_errs
        if parsed is not None and parsed.is_empty():
            errs.append(
                errors.invalid("spec.selector", {}, "empty selector is invalid for daemonset")
            )
    template = spec.template
    if template is None:
        errs.append(errors.required("spec.template"))
    else:
        labels = (template.metadata.labels if template.metadata else None) or {}
        errs += validate_labels(labels, "spec.template.metadata.labels")
        if parsed is not None and not parsed.is_empty() and not parsed.matches(labels):
            errs.append(
                errors.invalid(
                    "spec.template.metadata.labels",
                    labels,
                    "`selector` does not match template `labels`",
                )
            )
        errs += validate_pod_spec(template.spec, "spec.template.spec", template=True)
        pod_spec = template.spec
        if pod_spec is not None and pod_spec.restart_policy not in (None, "Always"):
            errs.append(
                errors.not_supported(
                    "spec.template.spec.restartPolicy", pod_spec.restart_policy, ["Always"]
                )
            )
        if pod_spec is not None and pod_spec.active_deadline_seconds is not None:
            errs.append(
                errors.forbidden(
                    "spec.template.spec.activeDeadlineSeconds",
                    "activeDeadlineSeconds in DaemonSet is not Supported",
                )
            )
    strategy = spec.update_strategy
    if strategy is None or strategy.type is None:
        errs.append(errors.required("spec.updateStrategy.type"))
    else:
        errs += enum(strategy.type, "spec.updateStrategy.type", UPDATE_STRATEGIES)
        if strategy.type == "RollingUpdate":
            if strategy.rolling_update is None:
                errs.append(errors.required("spec.updateStrategy.rollingUpdate"))
            else:
                errs += _validate_rolling_update(strategy.rolling_update)
    return errs


def validate_daemon_set_update(new: DaemonSet, old: DaemonSet) -> Errors:
    """An update: the selector is fixed once the DaemonSet exists (apps/v1)."""
    new_selector = new.spec.selector if new.spec else None
    old_selector = old.spec.selector if old.spec else None
    if new_selector != old_selector:
        return [errors.invalid("spec.selector", "<selector>", "field is immutable")]
    return []


def _validate_rolling_update(rolling: RollingUpdateDaemonSet) -> Errors:
    path = "spec.updateStrategy.rollingUpdate"
    errs: Errors = []
    unavailable = _int_or_percent(rolling.max_unavailable, f"{path}.maxUnavailable", errs)
    surge = _int_or_percent(rolling.max_surge, f"{path}.maxSurge", errs)
    if unavailable and surge:
        errs.append(
            errors.invalid(
                f"{path}.maxSurge",
                rolling.max_surge,
                "may not be set when maxUnavailable is non-zero",
            )
        )
    elif unavailable == 0 and not surge:
        errs.append(errors.required(f"{path}.maxUnavailable", "cannot be 0 when maxSurge is 0"))
    return errs


def _int_or_percent(value: IntOrString | None, path: str, errs: Errors) -> int | None:
    """The number in an int-or-percent (0 when unset), recording a negative, malformed
    or above-100% value (Kubernetes' ValidatePositiveIntOrPercent and
    IsNotMoreThan100Percent)."""
    if value is None:
        return 0
    if isinstance(value, int):
        if value < 0:
            errs.append(errors.invalid(path, value, "must be greater than or equal to 0"))
            return None
        return value
    if value.endswith("%") and value[:-1].isdigit():
        percent = int(value[:-1])
        if percent > 100:
            errs.append(errors.invalid(path, value, "must not be greater than 100%"))
            return None
        return percent
    errs.append(errors.invalid(path, value, "must be an integer or percentage (e.g '5%')"))
    return None
