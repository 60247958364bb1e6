"""Validation of Jobs and CronJobs, as Kubernetes' ``pkg/apis/batch/validation``: the
counts, the selector the Job's create generated (or a manual one) matching the
template, restartPolicy OnFailure or Never, the completion mode, the pod failure
policy, and a CronJob's schedule, time zone and policies; what an update may change.
"""

from __future__ import annotations

import attrs

from navarch.api import errors, names
from navarch.api.batch_v1 import CONTROLLER_UID_LABEL, CronJob, Job, JobSpec, PodFailurePolicy
from navarch.api.core_v1 import Affinity, PodTemplateSpec
from navarch.api.cron import ScheduleError, standard_expression, time_zone
from navarch.api.field_checks import (
    Errors,
    enum,
    non_negative,
    positive,
    validate_label_selector,
    validate_labels,
)
from navarch.api.meta import ObjectMeta
from navarch.api.validation.pods import validate_pod_spec

JOB_RESTART_POLICIES = ("OnFailure", "Never")
COMPLETION_MODES = ("NonIndexed", "Indexed")
POD_REPLACEMENT_POLICIES = ("TerminatingOrFailed", "Failed")
POD_FAILURE_ACTIONS = ("FailJob", "FailIndex", "Ignore", "Count")
EXIT_CODE_OPERATORS = ("In", "NotIn")
CONDITION_STATUSES = ("True", "False", "Unknown")
CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")
# A CronJob's Jobs are named <cronjob>-<minutes since the epoch, 8+ digits> and must
# stay valid label values (63): Kubernetes refuses a CronJob name over 52.
CRONJOB_NAME_MAX = 52
MAX_INDEXED_COMPLETIONS = 100_000
# Kubernetes' maxParallelismForIndexedJob: caps the length of completedIndexes
MAX_INDEXED_PARALLELISM = 100_000


def validate_job(job: Job) -> Errors:
    if job.spec is None:
        return [errors.required("spec")]
    uid = job.metadata.uid if job.metadata else None
    errs = validate_job_spec(job.spec, "spec", generated_uid=uid)
    completions = job.spec.completions
    if job.spec.completion_mode == "Indexed" and completions:
        # an Indexed Job's pods are given the hostname <job>-<index> (job_pods): refused
        # here, as Kubernetes does, rather than each pod refused at every sync
        hostname = f"{job.name}-{completions - 1}"
        if names.dns1123_label(hostname):
            errs.append(
                errors.invalid(
                    "metadata.name",
                    job.name,
                    f"will not able to create pod with invalid DNS label: {hostname}",
                )
            )
    return errs


def validate_job_spec(spec: JobSpec, path: str, *, generated_uid: str | None = None) -> Errors:
    """``generated_uid``: a Job's (not a CronJob's template): its selector must be
    there, and be the generated one unless ``manualSelector``."""
    errs: Errors = non_negative(spec.parallelism, f"{path}.parallelism")
    errs += non_negative(spec.completions, f"{path}.completions")
    errs += positive(spec.active_deadline_seconds, f"{path}.activeDeadlineSeconds")
    errs += non_negative(spec.backoff_limit, f"{path}.backoffLimit")
    errs += non_negative(spec.ttl_seconds_after_finished, f"{path}.ttlSecondsAfterFinished")
    errs += enum(spec.completion_mode, f"{path}.completionMode", COMPLETION_MODES)
    errs += enum(
        spec.pod_replacement_policy, f"{path}.podReplacementPolicy", POD_REPLACEMENT_POLICIES
    )
    if spec.completion_mode == "Indexed":
        if spec.completions is None:
            errs.append(errors.required(f"{path}.completions", "when completion mode is Indexed"))
        elif spec.completions > MAX_INDEXED_COMPLETIONS:
            errs.append(
                errors.invalid(
                    f"{path}.completions",
                    spec.completions,
                    f"must be less than or equal to {MAX_INDEXED_COMPLETIONS} "
                    "when completion mode is Indexed",
                )
            )
        if spec.parallelism is not None and spec.parallelism > MAX_INDEXED_PARALLELISM:
            errs.append(
                errors.invalid(
                    f"{path}.parallelism",
                    spec.parallelism,
                    f"must be less than or equal to {MAX_INDEXED_PARALLELISM} "
                    "when completion mode is Indexed",
                )
            )
    errs += _selector_and_template(spec, path, generated_uid)
    restart = spec.template.spec.restart_policy if spec.template and spec.template.spec else None
    if spec.pod_failure_policy is not None:
        errs += _pod_failure_policy(spec.pod_failure_policy, f"{path}.podFailurePolicy", spec)
        if restart != "Never":
            errs.append(
                errors.invalid(
                    f"{path}.template.spec.restartPolicy",
                    restart,
                    'only "Never" is supported when podFailurePolicy is specified',
                )
            )
        if spec.pod_replacement_policy == "TerminatingOrFailed":
            errs.append(
                errors.not_supported(
                    f"{path}.podReplacementPolicy", spec.pod_replacement_policy, ["Failed"]
                )
            )
    return errs


def _selector_and_template(spec: JobSpec, path: str, generated_uid: str | None) -> Errors:
    errs: Errors = []
    template: PodTemplateSpec | None = spec.template
    labels = dict((template.metadata.labels if template and template.metadata else None) or {})
    parsed = None
    if spec.selector is not None:
        selector_errs, parsed = validate_label_selector(spec.selector, f"{path}.selector")
        errs += selector_errs
    elif generated_uid is not None:
        errs.append(errors.required(f"{path}.selector"))
    if generated_uid is not None and spec.manual_selector is not True and parsed is not None:
        wanted = (spec.selector.match_labels or {}) if spec.selector else {}
        if wanted.get(CONTROLLER_UID_LABEL) != generated_uid:
            errs.append(
                errors.invalid(
                    f"{path}.selector",
                    wanted,
                    "`selector` not auto-generated (set manualSelector: true to choose one)",
                )
            )
    if template is None:
        errs.append(errors.required(f"{path}.template"))
        return errs
    errs += validate_labels(labels, f"{path}.template.metadata.labels")
    if parsed is not None and not parsed.is_empty() and not parsed.matches(labels):
        errs.append(
            errors.invalid(
                f"{path}.template.metadata.labels",
                labels,
                "`selector` does not match template `labels`",
            )
        )
    errs += validate_pod_spec(template.spec, f"{path}.template.spec", template=True)
    restart = template.spec.restart_policy if template.spec else None
    if restart not in JOB_RESTART_POLICIES:
        if restart is None:
            errs.append(
                errors.required(
                    f"{path}.template.spec.restartPolicy", 'valid values: "OnFailure", "Never"'
                )
            )
        else:
            errs.append(
                errors.not_supported(
                    f"{path}.template.spec.restartPolicy", restart, list(JOB_RESTART_POLICIES)
                )
            )
    return errs


def _pod_failure_policy(policy: PodFailurePolicy, path: str, spec: JobSpec) -> Errors:
    errs: Errors = []
    for i, rule in enumerate(policy.rules or ()):
        at = f"{path}.rules[{i}]"
        if rule.action is None:
            errs.append(errors.required(f"{at}.action"))
        else:
            errs += enum(rule.action, f"{at}.action", POD_FAILURE_ACTIONS)
        if rule.action == "FailIndex" and spec.backoff_limit_per_index is None:
            errs.append(
                errors.invalid(
                    f"{at}.action",
                    rule.action,
                    "requires the backoffLimitPerIndex to be set (not supported by Navarch)",
                )
            )
        codes, conditions = rule.on_exit_codes, rule.on_pod_conditions
        if (codes is None) == (conditions is None):
            errs.append(
                errors.invalid(
                    at, "", "specifying one of OnExitCodes and OnPodConditions is required"
                )
            )
        if codes is not None:
            errs += enum(codes.operator, f"{at}.onExitCodes.operator", EXIT_CODE_OPERATORS)
            values = list(codes.values or ())
            if not values:
                errs.append(
                    errors.invalid(
                        f"{at}.onExitCodes.values", values, "at least one value is required"
                    )
                )
            if len(set(values)) != len(values):
                errs.append(
                    errors.invalid(
                        f"{at}.onExitCodes.values", values, "duplicate values are not allowed"
                    )
                )
            if codes.operator == "In" and 0 in values:
                errs.append(
                    errors.invalid(
                        f"{at}.onExitCodes.values",
                        0,
                        "must not be 0 for the In operator",
                    )
                )
        for j, pattern in enumerate(conditions or ()):
            if not pattern.type:
                errs.append(errors.required(f"{at}.onPodConditions[{j}].type"))
            errs += enum(pattern.status, f"{at}.onPodConditions[{j}].status", CONDITION_STATUSES)
    return errs


def validate_job_update(new: Job, old: Job) -> Errors:
    """Kubernetes' immutable fields of a Job: its selector, completion mode, pod
    failure policy and completions (an Indexed Job's may change together with
    parallelism, to the same number: an elastic Indexed Job), and its pod template —
    but for where its pods may go (Kubernetes' mutable scheduling directives) while it
    is suspended and has not started (no ``status.startTime``), so a queue can place
    it before it runs."""
    errs: Errors = []
    a, b = new.spec, old.spec
    if a is None or b is None:
        return errs
    for attr, wire_name in (
        ("selector", "selector"),
        ("completion_mode", "completionMode"),
        ("manual_selector", "manualSelector"),
        ("pod_failure_policy", "podFailurePolicy"),
    ):
        if getattr(a, attr) != getattr(b, attr):
            errs.append(errors.invalid(f"spec.{wire_name}", getattr(a, attr), "field is immutable"))
    if a.completions != b.completions:
        if a.completion_mode != "Indexed":
            errs.append(errors.invalid("spec.completions", a.completions, "field is immutable"))
        elif a.completions is not None and a.completions != a.parallelism:
            # an elastic Indexed Job (Kubernetes 1.31): scaled by changing both at once
            errs.append(
                errors.invalid(
                    "spec.completions",
                    a.completions,
                    "can only be modified in tandem with spec.parallelism",
                )
            )
    if a.template != b.template:
        started = bool(old.status and old.status.start_time)
        may_move = bool(b.suspend) and not started
        if not may_move or _with_directives_of(b.template, a.template) != a.template:
            errs.append(
                errors.invalid(
                    "spec.template",
                    "<template>",
                    "field is immutable (a Job suspended before it started may change "
                    "only its template's labels, annotations, nodeSelector, node "
                    "affinity, tolerations and schedulingGates)",
                )
            )
    return errs


def validate_cronjob(cronjob: CronJob) -> Errors:
    errs: Errors = []
    if len(cronjob.name) > CRONJOB_NAME_MAX:
        errs.append(
            errors.invalid(
                "metadata.name",
                cronjob.name,
                f"must be no more than {CRONJOB_NAME_MAX} characters",
            )
        )
    spec = cronjob.spec
    if spec is None:
        return [*errs, errors.required("spec")]
    if not spec.schedule:
        errs.append(errors.required("spec.schedule"))
    else:
        try:
            standard_expression(spec.schedule)
        except ScheduleError as exc:
            errs.append(
                errors.invalid("spec.schedule", spec.schedule, f"unparseable schedule: {exc}")
            )
    if spec.time_zone is not None:
        try:
            time_zone(spec.time_zone)
        except ScheduleError as exc:
            errs.append(errors.invalid("spec.timeZone", spec.time_zone, str(exc)))
    errs += enum(spec.concurrency_policy, "spec.concurrencyPolicy", CONCURRENCY_POLICIES)
    errs += non_negative(spec.starting_deadline_seconds, "spec.startingDeadlineSeconds")
    errs += non_negative(spec.successful_jobs_history_limit, "spec.successfulJobsHistoryLimit")
    errs += non_negative(spec.failed_jobs_history_limit, "spec.failedJobsHistoryLimit")
    template = spec.job_template
    if template is None or template.spec is None:
        errs.append(errors.required("spec.jobTemplate.spec"))
    else:
        errs += validate_job_spec(template.spec, "spec.jobTemplate.spec")
    return errs


def _with_directives_of(
    old: PodTemplateSpec | None, new: PodTemplateSpec | None
) -> PodTemplateSpec | None:
    """``old`` with ``new``'s scheduling directives (labels, annotations, nodeSelector,
    node affinity, tolerations, schedulingGates): equal to ``new`` when nothing else
    changed (Kubernetes' validatePodTemplateUpdate)."""
    if old is None or new is None or old.spec is None or new.spec is None:
        return old
    affinity = old.spec.affinity
    if new.spec.affinity is None:
        if affinity is not None:
            affinity = attrs.evolve(affinity, node_affinity=None)
            if affinity == Affinity():
                affinity = None
    elif affinity is None:
        affinity = Affinity(node_affinity=new.spec.affinity.node_affinity)
    else:
        affinity = attrs.evolve(affinity, node_affinity=new.spec.affinity.node_affinity)
    spec = attrs.evolve(
        old.spec,
        affinity=affinity,
        node_selector=new.spec.node_selector,
        tolerations=new.spec.tolerations,
        scheduling_gates=new.spec.scheduling_gates,
    )
    metadata = old.metadata
    if metadata is not None or new.metadata is not None:
        base = metadata if metadata is not None else ObjectMeta()
        labels = new.metadata.labels if new.metadata else None
        annotations = new.metadata.annotations if new.metadata else None
        metadata = attrs.evolve(base, labels=labels, annotations=annotations)
    return attrs.evolve(old, metadata=metadata, spec=spec)
