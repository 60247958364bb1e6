"""Counting a Job's finished pods exactly once, without any I/O (Kubernetes' pod
tracking with the ``batch.kubernetes.io/job-tracking`` finalizer and
``status.uncountedTerminatedPods``).

The Job controller's sync calls these in order, writing in between:

1. :func:`classify` the pods that finished and still hold the finalizer, not yet
   recorded (``known``: the uids in ``uncountedTerminatedPods`` and those whose
   finalizer this process removed): succeeded, failed, or not to be counted (stopped
   by the controller, ignored by the pod failure policy);
2. :func:`record` them into ``uncountedTerminatedPods`` (an Indexed Job's indexes into
   ``completedIndexes``) — **the status is written here**, before any finalizer goes;
3. remove the finalizers of :func:`releasable` pods;
4. :func:`flush` the recorded uids whose pod no longer holds the finalizer (or is
   gone) into ``succeeded``/``failed``.

A controller stopped between any two steps leaves each pod in a state the next sync
resumes from: not recorded with its finalizer (classified again), recorded with its
finalizer (released again), recorded without (flushed). Worked example, a Job of 2::

    pods a (Succeeded, finalizer), b (Running)     status {}
    1-2: uncounted {succeeded: [a]}                written
    3:   a's finalizer removed                     -- a crash here loses nothing:
    4:   succeeded 1, uncounted {}                 a is recorded and has no finalizer
"""

from __future__ import annotations

from typing import Any

import attrs

from navarch.api.batch_v1 import JobSpec
from navarch.api.core_v1 import Pod
from navarch.controllers import job_pods as pods_of
from navarch.controllers import job_status as conditions
from navarch.controllers.job_failure import FAIL_JOB, IGNORE, judge


@attrs.frozen
class Finished:
    """Newly finished pods: ``succeeded`` and ``failed`` to count, ``uncountable`` to
    let go uncounted, and the failure a pod failure policy's FailJob rule calls for."""

    succeeded: list[Pod]
    failed: list[Pod]
    uncountable: list[Pod]
    failure: tuple[str, str] | None


def uncounted_uids(status: dict[str, Any]) -> tuple[list[str], list[str]]:
    uncounted = status.get("uncountedTerminatedPods") or {}
    return list(uncounted.get("succeeded") or []), list(uncounted.get("failed") or [])


def stopping(spec: JobSpec, status: dict[str, Any]) -> bool:
    """Whether the pods the controller deletes now are stopped, not failed: the Job
    is suspended or has succeeded (they end killed)."""
    return bool(spec.suspend) or conditions.is_true(status, conditions.SUCCESS_CRITERIA_MET)


def classify(
    pods: list[Pod],
    spec: JobSpec,
    status: dict[str, Any],
    known: set[str],
    completions: int | None = None,
) -> Finished:
    """``completions``: an Indexed Job's, whose pods of no index below it (an elastic
    Job scaled down) are never failures, as Kubernetes counts them."""
    only_failed = spec.pod_replacement_policy == "Failed"
    halted = stopping(spec, status)
    failure = conditions.interim_failure(status)
    succeeded: list[Pod] = []
    failed: list[Pod] = []
    uncountable: list[Pod] = []
    for pod in pods:
        if not pods_of.has_tracking_finalizer(pod) or pods_of.uid_of(pod) in known:
            continue
        phase = pods_of.phase(pod)
        if phase == "Succeeded":
            succeeded.append(pod)
            continue
        # a pod being deleted counts as failed at once, unless the Job waits for
        # Failed (podReplacementPolicy: Failed) — Kubernetes' isPodFailed
        if phase != "Failed" and not (pods_of.deleting(pod) and not only_failed):
            continue
        if halted and pods_of.deleting(pod):
            uncountable.append(pod)
            continue
        if completions is not None and pods_of.completion_index(pod, completions) is None:
            uncountable.append(pod)  # an index no longer wanted: no failure of the Job's
            continue
        if phase == "Failed" and spec.pod_failure_policy is not None:
            verdict = judge(pod, spec.pod_failure_policy)
            if verdict.action == IGNORE:
                uncountable.append(pod)
                continue
            if verdict.action == FAIL_JOB and failure is None:
                failure = (conditions.POD_FAILURE_POLICY, verdict.message)
        failed.append(pod)
    return Finished(succeeded, failed, uncountable, failure)


def record(status: dict[str, Any], found: Finished, completions: int | None) -> None:
    """Add the newly finished pods to ``uncountedTerminatedPods`` (``completions``: an
    Indexed Job's, whose succeeded indexes go into ``completedIndexes`` too)."""
    pending_s, pending_f = uncounted_uids(status)
    pending_s += [pods_of.uid_of(p) for p in found.succeeded]
    pending_f += [pods_of.uid_of(p) for p in found.failed]
    status["uncountedTerminatedPods"] = _uncounted(pending_s, pending_f)
    if completions is not None:
        done = pods_of.parse_indexes(status.get("completedIndexes"), completions)
        for pod in found.succeeded:
            index = pods_of.completion_index(pod, completions)
            if index is not None:
                done.add(index)
        status["completedIndexes"] = pods_of.format_indexes(done)


def releasable(
    pods: list[Pod], status: dict[str, Any], removed: set[str], uncountable: list[Pod]
) -> list[Pod]:
    """Pods whose finalizer may go now: recorded ones, and those not to be counted."""
    pending_s, pending_f = uncounted_uids(status)
    recorded = set(pending_s) | set(pending_f)
    return [
        p
        for p in pods
        if pods_of.has_tracking_finalizer(p)
        and pods_of.uid_of(p) not in removed
        and (pods_of.uid_of(p) in recorded or p in uncountable)
    ]


def flush(
    status: dict[str, Any], pods: list[Pod], removed: set[str], completions: int | None
) -> None:
    """Move each recorded uid whose pod lost its finalizer (or is gone) into the
    counts. An Indexed Job's ``succeeded`` is the number of its completed indexes."""
    by_uid = {pods_of.uid_of(p): p for p in pods}

    def off(uid: str) -> bool:
        pod = by_uid.get(uid)
        return uid in removed or pod is None or not pods_of.has_tracking_finalizer(pod)

    pending_s, pending_f = uncounted_uids(status)
    moved_s = {u for u in pending_s if off(u)}
    moved_f = {u for u in pending_f if off(u)}
    status["uncountedTerminatedPods"] = _uncounted(
        [u for u in pending_s if u not in moved_s], [u for u in pending_f if u not in moved_f]
    )
    if completions is None:
        set_count(status, "succeeded", int(status.get("succeeded") or 0) + len(moved_s))
    else:
        done = pods_of.parse_indexes(status.get("completedIndexes"), completions)
        status["completedIndexes"] = pods_of.format_indexes(done)
        set_count(status, "succeeded", len(done))
    set_count(status, "failed", int(status.get("failed") or 0) + len(moved_f))


def set_count(status: dict[str, Any], field: str, value: int) -> None:
    """Kubernetes omits a zero active/succeeded/failed count."""
    if value:
        status[field] = value
    else:
        status.pop(field, None)


def _uncounted(succeeded: list[str], failed: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if succeeded:
        out["succeeded"] = succeeded
    if failed:
        out["failed"] = failed
    return out
