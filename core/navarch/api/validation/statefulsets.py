"""Validation of StatefulSets as Kubernetes' ValidateStatefulSet does it: the selector
that matches the template's labels, the pod template (restart policy Always, no
activeDeadlineSeconds), the pod management policy, the update strategy and its
partition, the claim templates, the retention policy and the first ordinal; and on
update, which parts of the spec may change at all.
"""

from __future__ import annotations

from typing import Any

import attrs

from navarch.api import errors, names
from navarch.api.apps_v1 import StatefulSet, StatefulSetSpec
from navarch.api.core_v1 import PodSpec
from navarch.api.core_v1_storage import PersistentVolumeClaim
from navarch.api.field_checks import (
    Errors,
    enum,
    named,
    non_negative,
    required_name,
    validate_label_selector,
    validate_labels,
)
from navarch.api.pod_kept.volumes import PersistentVolumeClaimVolumeSource, Volume
from navarch.api.validation.pods import validate_pod_spec
from navarch.api.validation.storage import validate_persistent_volume_claim

POD_MANAGEMENT_POLICIES = ("OrderedReady", "Parallel")
UPDATE_STRATEGIES = ("RollingUpdate", "OnDelete")
RETENTION_POLICIES = ("Retain", "Delete")
# What an update may change; the rest of the spec is fixed once the set exists.
MUTABLE_SPEC_FIELDS = (
    "replicas",
    "ordinals",
    "template",
    "update_strategy",
    "revision_history_limit",
    "persistent_volume_claim_retention_policy",
    "min_ready_seconds",
)
IMMUTABLE_SPEC_MESSAGE = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
    "'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and "
    "'minReadySeconds' are forbidden"
)


def validate_stateful_set(sts: StatefulSet) -> Errors:
    spec = sts.spec
    if spec is None:
        return [errors.required("spec")]
    errs: Errors = non_negative(spec.replicas, "spec.replicas")
    errs += non_negative(spec.min_ready_seconds, "spec.minReadySeconds")
    errs += non_negative(spec.revision_history_limit, "spec.revisionHistoryLimit")
    errs += named(spec.service_name, "spec.serviceName", names.dns1123_label)
    errs += enum(spec.pod_management_policy, "spec.podManagementPolicy", POD_MANAGEMENT_POLICIES)
    errs += _update_strategy(spec)
    policy = spec.persistent_volume_claim_retention_policy
    if policy is not None:
        path = "spec.persistentVolumeClaimRetentionPolicy"
        errs += enum(policy.when_deleted, f"{path}.whenDeleted", RETENTION_POLICIES)
        errs += enum(policy.when_scaled, f"{path}.whenScaled", RETENTION_POLICIES)
    if spec.ordinals is not None:
        errs += non_negative(spec.ordinals.start, "spec.ordinals.start")
    errs += _claim_templates(spec.volume_claim_templates or ())
    errs += _selector_and_template(spec)
    return errs


def validate_stateful_set_update(new: StatefulSet, old: StatefulSet) -> Errors:
    """Kubernetes' ValidateStatefulSetUpdate: only the fields it names may change."""
    new_spec, old_spec = new.spec or StatefulSetSpec(), old.spec or StatefulSetSpec()
    fixed: dict[str, Any] = {f: None for f in MUTABLE_SPEC_FIELDS}
    if attrs.evolve(new_spec, **fixed) != attrs.evolve(old_spec, **fixed):
        return [errors.forbidden("spec", IMMUTABLE_SPEC_MESSAGE)]
    return []


def _update_strategy(spec: StatefulSetSpec) -> Errors:
    strategy = spec.update_strategy
    if strategy is None:
        return []
    path = "spec.updateStrategy"
    errs = enum(strategy.type, f"{path}.type", UPDATE_STRATEGIES)
    rolling = strategy.rolling_update
    if rolling is None:
        return errs
    if strategy.type == "OnDelete":
        errs.append(
            errors.invalid(
                f"{path}.rollingUpdate",
                "<rollingUpdate>",
                "only allowed for updateStrategy 'RollingUpdate'",
            )
        )
        return errs
    errs += non_negative(rolling.partition, f"{path}.rollingUpdate.partition")
    unavailable = rolling.max_unavailable
    unavailable_path = f"{path}.rollingUpdate.maxUnavailable"
    if isinstance(unavailable, int) and unavailable <= 0:
        errs.append(errors.invalid(unavailable_path, unavailable, "must be greater than 0"))
    elif isinstance(unavailable, str):
        number = unavailable[:-1]
        if not (unavailable.endswith("%") and number.isdigit()):
            errs.append(
                errors.invalid(
                    unavailable_path, unavailable, "must be an integer or percentage (e.g '5%')"
                )
            )
        elif not 0 < int(number) <= 100:
            errs.append(
                errors.invalid(unavailable_path, unavailable, "must be between 1% and 100%")
            )
    return errs


def _claim_templates(templates: tuple[PersistentVolumeClaim, ...]) -> Errors:
    """Each template a valid claim (Kubernetes' rules for a claim's spec), named."""
    errs: Errors = []
    seen: set[str] = set()
    for i, template in enumerate(templates):
        path = f"spec.volumeClaimTemplates[{i}]"
        name = template.metadata.name if template.metadata else None
        errs += required_name(name, f"{path}.metadata.name", names.dns1123_subdomain)
        if name in seen:
            errs.append(errors.duplicate(f"{path}.metadata.name", name))
        if name:
            seen.add(name)
        errs += [
            attrs.evolve(e, path=f"{path}.{e.path}")
            for e in validate_persistent_volume_claim(template)
        ]
    return errs


def _selector_and_template(spec: StatefulSetSpec) -> Errors:
    errs: Errors = []
    parsed = None
    if spec.selector is None:
        errs.append(errors.required("spec.selector"))
    else:
        selector_errs, parsed = validate_label_selector(spec.selector, "spec.selector")
        errs += selector_errs
        if parsed is not None and parsed.is_empty():
            errs.append(
                errors.invalid("spec.selector", {}, "empty selector is invalid for statefulset")
            )
    template = spec.template
    if template is None:
        errs.append(errors.required("spec.template"))
        return errs
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
    pod_spec = template.spec
    if pod_spec is not None:
        # the pods get a volume per claim template (replacing one of the same name), so
        # their mounts are checked against those too
        pod_spec = with_claim_volumes(pod_spec, claim_template_names(spec))
    errs += validate_pod_spec(pod_spec, "spec.template.spec", template=True)
    if pod_spec is not None:
        if pod_spec.restart_policy not in (None, "Always"):
            errs.append(
                errors.not_supported(
                    "spec.template.spec.restartPolicy", pod_spec.restart_policy, ["Always"]
                )
            )
        if pod_spec.active_deadline_seconds is not None:
            errs.append(
                errors.forbidden(
                    "spec.template.spec.activeDeadlineSeconds",
                    "activeDeadlineSeconds in StatefulSet is not Supported",
                )
            )
    return errs


def claim_template_names(spec: StatefulSetSpec) -> list[str]:
    """The names of the claim templates (each also the name of the pods' volume)."""
    return [
        t.metadata.name for t in spec.volume_claim_templates or () if t.metadata and t.metadata.name
    ]


def with_claim_volumes(spec: PodSpec, claims: list[str]) -> PodSpec:
    """``spec`` with a persistentVolumeClaim volume per claim template name (its claim
    named after the template: a placeholder for the per-ordinal claim)."""
    if not claims:
        return spec
    kept = [v for v in spec.volumes or () if v.name not in claims]
    added = [
        Volume(
            name=name, persistent_volume_claim=PersistentVolumeClaimVolumeSource(claim_name=name)
        )
        for name in claims
    ]
    return attrs.evolve(spec, volumes=(*kept, *added))
