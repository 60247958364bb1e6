"""Kubernetes' defaults for Jobs and CronJobs (``pkg/apis/batch/v1/defaults.go``), set
on the wire dict before decoding, and the selector and labels a Job's create gets
(the Job strategy's ``generateSelector``)."""

from __future__ import annotations

from typing import Any

from navarch.api.batch_v1 import (
    CONTROLLER_UID_LABEL,
    JOB_NAME_LABEL,
    LEGACY_CONTROLLER_UID_LABEL,
    LEGACY_JOB_NAME_LABEL,
)
from navarch.api.defaults import default_pod_spec

DEFAULT_BACKOFF_LIMIT = 6
MAX_INT32 = 2**31 - 1


def default_job(obj: dict[str, Any]) -> None:
    spec = _child(obj, "spec")
    default_job_spec(spec)
    _labels_from_template(obj, spec)


def _labels_from_template(obj: dict[str, Any], spec: dict[str, Any]) -> None:
    """A Job without labels of its own takes its template's (Kubernetes' batch/v1
    defaulting), so ``kubectl get jobs -l job-name=x`` finds it."""
    metadata = _child(obj, "metadata")
    labels = _child(_child(spec, "template"), "metadata").get("labels")
    if isinstance(labels, dict) and labels and not metadata.get("labels"):
        metadata["labels"] = dict(labels)


def default_job_spec(spec: dict[str, Any]) -> None:
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    if spec.get("backoffLimit") is None:
        # with a limit per index, the Job as a whole has none of its own
        per_index = spec.get("backoffLimitPerIndex") is not None
        spec["backoffLimit"] = MAX_INT32 if per_index else DEFAULT_BACKOFF_LIMIT
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    policy = spec.get("podFailurePolicy")
    spec.setdefault("podReplacementPolicy", "Failed" if policy else "TerminatingOrFailed")
    if isinstance(policy, dict):
        for rule in policy.get("rules") or []:
            for pattern in (rule.get("onPodConditions") or []) if isinstance(rule, dict) else []:
                if isinstance(pattern, dict):
                    pattern.setdefault("status", "True")
    _default_template(spec)


def default_cronjob(obj: dict[str, Any]) -> None:
    spec = _child(obj, "spec")
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    # the Job template's pod template gets the pod defaults; the Job's own defaults
    # are set when a Job is made from it (as Kubernetes)
    _default_template(_child(_child(spec, "jobTemplate"), "spec"))


def generate_selector(obj: dict[str, Any]) -> None:
    """A Job created without ``manualSelector: true`` selects its own pods by its uid:
    the selector is set to that, and the template labelled with it and the Job's name
    (both the ``batch.kubernetes.io/`` labels and the legacy ones kubectl shows)."""
    spec = obj.get("spec")
    meta = obj.get("metadata") or {}
    if not isinstance(spec, dict) or spec.get("manualSelector") is True:
        return
    uid, name = meta.get("uid"), meta.get("name") or meta.get("generateName") or ""
    template = _child(spec, "template")
    template_meta = _child(template, "metadata")
    labels = template_meta.get("labels")
    if labels is None:
        labels = template_meta["labels"] = {}
    if not isinstance(labels, dict):
        return
    labels.setdefault(CONTROLLER_UID_LABEL, uid)
    labels.setdefault(LEGACY_CONTROLLER_UID_LABEL, uid)
    if meta.get("name"):
        labels.setdefault(JOB_NAME_LABEL, name)
        labels.setdefault(LEGACY_JOB_NAME_LABEL, name)
    if spec.get("selector") is None:
        spec["selector"] = {"matchLabels": {CONTROLLER_UID_LABEL: uid}}
    # Kubernetes defaults a Job's labels again when it reads it back from storage,
    # by then from the labelled template: the same labels, set at once here
    _labels_from_template(obj, spec)


def _default_template(spec: dict[str, Any]) -> None:
    template = _child(spec, "template")
    default_pod_spec(_child(template, "spec"))


def _child(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    if value is None:
        value = parent[key] = {}
    return value if isinstance(value, dict) else {}
