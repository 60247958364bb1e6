"""The batch/v1 kinds: Job and CronJob (Kubernetes' ``k8s.io/api/batch/v1``)."""

from __future__ import annotations

from navarch.api.core_v1 import ObjectReference, PodTemplateSpec
from navarch.api.meta import LabelSelector, ObjectMeta, TopLevel
from navarch.api.schema import Model, kept, model, wire

# --- Job -----------------------------------------------------------------------------


@model()
class PodFailurePolicyOnExitCodesRequirement(Model):
    container_name: str | None = wire()
    operator: str | None = wire()  # In, NotIn
    values: tuple[int, ...] | None = wire()


@model()
class PodFailurePolicyOnPodConditionsPattern(Model):
    type: str | None = wire()
    status: str | None = wire()


@model()
class PodFailurePolicyRule(Model):
    action: str | None = wire()  # FailJob, FailIndex, Ignore, Count
    on_exit_codes: PodFailurePolicyOnExitCodesRequirement | None = wire()
    on_pod_conditions: tuple[PodFailurePolicyOnPodConditionsPattern, ...] | None = wire()


@model()
class PodFailurePolicy(Model):
    rules: tuple[PodFailurePolicyRule, ...] | None = wire()


@model()
class SuccessPolicyRule(Model):
    succeeded_indexes: str | None = wire()
    succeeded_count: int | None = wire()


@model()
class SuccessPolicy(Model):
    rules: tuple[SuccessPolicyRule, ...] | None = wire()


@model()
class JobSpec(Model):
    parallelism: int | None = wire()
    completions: int | None = wire()
    active_deadline_seconds: int | None = wire()
    pod_failure_policy: PodFailurePolicy | None = wire()
    success_policy: SuccessPolicy | None = kept()
    backoff_limit: int | None = wire()
    backoff_limit_per_index: int | None = kept()
    max_failed_indexes: int | None = kept()
    selector: LabelSelector | None = wire()
    manual_selector: bool | None = wire()
    template: PodTemplateSpec | None = wire()
    ttl_seconds_after_finished: int | None = wire()
    completion_mode: str | None = wire()  # NonIndexed, Indexed
    suspend: bool | None = wire()
    pod_replacement_policy: str | None = wire()  # TerminatingOrFailed, Failed
    managed_by: str | None = kept()


@model()
class JobCondition(Model):
    type: str | None = wire()
    status: str | None = wire()
    last_probe_time: str | None = wire()
    last_transition_time: str | None = wire()
    reason: str | None = wire()
    message: str | None = wire()


@model()
class UncountedTerminatedPods(Model):
    """UIDs of finished pods whose tracking finalizer the Job controller is removing,
    not yet added to ``succeeded``/``failed``: what makes the count exact across a
    controller restart."""

    succeeded: tuple[str, ...] | None = wire()
    failed: tuple[str, ...] | None = wire()


@model()
class JobStatus(Model):
    conditions: tuple[JobCondition, ...] | None = wire()
    start_time: str | None = wire()
    completion_time: str | None = wire()
    active: int | None = wire()
    succeeded: int | None = wire()
    failed: int | None = wire()
    terminating: int | None = wire()
    completed_indexes: str | None = wire()
    failed_indexes: str | None = wire()
    uncounted_terminated_pods: UncountedTerminatedPods | None = wire()
    ready: int | None = wire()


@model()
class Job(TopLevel):
    API_VERSION, KIND, RESOURCE = "batch/v1", "Job", "jobs"

    spec: JobSpec | None = wire()
    status: JobStatus | None = wire()


# --- CronJob -------------------------------------------------------------------------


@model()
class JobTemplateSpec(Model):
    metadata: ObjectMeta | None = wire()
    spec: JobSpec | None = wire()


@model()
class CronJobSpec(Model):
    schedule: str | None = wire()
    time_zone: str | None = wire()
    starting_deadline_seconds: int | None = wire()
    concurrency_policy: str | None = wire()  # Allow, Forbid, Replace
    suspend: bool | None = wire()
    job_template: JobTemplateSpec | None = wire()
    successful_jobs_history_limit: int | None = wire()
    failed_jobs_history_limit: int | None = wire()


@model()
class CronJobStatus(Model):
    active: tuple[ObjectReference, ...] | None = wire()
    last_schedule_time: str | None = wire()
    last_successful_time: str | None = wire()


@model()
class CronJob(TopLevel):
    API_VERSION, KIND, RESOURCE = "batch/v1", "CronJob", "cronjobs"

    spec: CronJobSpec | None = wire()
    status: CronJobStatus | None = wire()


# --- well-known labels and annotations (k8s.io/api/batch/v1) --------------------------

CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
LEGACY_CONTROLLER_UID_LABEL = "controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
LEGACY_JOB_NAME_LABEL = "job-name"
COMPLETION_INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"
