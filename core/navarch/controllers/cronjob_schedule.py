"""What the CronJob controller decides from a CronJob and the time, without any I/O
(Kubernetes' ``pkg/controller/cronjob/utils.go``): the most recent scheduled time not
yet run and how many were missed, the name of the Job of a scheduled time, and the
Job a CronJob's template makes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from navarch import api
from navarch.api.batch_v1 import CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION, CronJob
from navarch.api.cron import Schedule
from navarch.api.timefmt import parse_rfc3339
from navarch.controllers.owners import owner_reference

# Kubernetes' bound: more missed runs than this and it says so (an event), still
# starting only the most recent one.
MAX_MISSED = 100


@attrs.frozen
class Due:
    """The run to start now (``at``, seconds since the epoch), and how many scheduled
    times were missed up to it (``missed > MAX_MISSED`` means "too many")."""

    at: float
    missed: int


def due_run(
    cronjob: CronJob, last_schedule_time: str | None, schedule: Schedule, now: float
) -> Due | None:
    """The most recent scheduled time after the last run (``last_schedule_time``, else
    the creation) and not older than ``startingDeadlineSeconds``, or None."""
    meta = cronjob.metadata
    earliest = parse_rfc3339(last_schedule_time)
    if earliest is None:
        earliest = parse_rfc3339(meta.creation_timestamp if meta else None) or now
    deadline = cronjob.spec.starting_deadline_seconds if cronjob.spec else None
    if deadline is not None:
        earliest = max(earliest, now - deadline)
    if earliest > now:
        return None
    times = schedule.times_between(earliest, now, MAX_MISSED)
    if not times:
        return None
    if len(times) > MAX_MISSED:
        # how many, as Kubernetes estimates it (the first interval's multiples): walking
        # them all could take years of minutes
        first, second = times[0], times[1]
        estimate = int((now - first) // max(1.0, second - first)) + 1
        latest = schedule.latest_at_or_before(now)
        return Due(times[-1] if latest is None else latest, max(estimate, len(times)))
    return Due(times[-1], len(times))


def job_name(cronjob: CronJob, scheduled: float) -> str:
    """``<cronjob>-<minutes since the epoch>``: the same scheduled time gives the same
    name in any controller manager, so a second leader's create is AlreadyExists."""
    return f"{cronjob.name}-{int(scheduled // 60)}"


def job_from_template(cronjob: CronJob, scheduled: float, zone: dt.tzinfo) -> dict[str, Any]:
    template = cronjob.spec.job_template if cronjob.spec else None
    meta = template.metadata if template else None
    annotations = dict((meta.annotations if meta else None) or {})
    # RFC 3339 in the CronJob's zone, as Kubernetes writes it ("Z" for UTC)
    stamp = dt.datetime.fromtimestamp(scheduled, zone).isoformat()
    annotations[CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION] = stamp.replace("+00:00", "Z")
    metadata: dict[str, Any] = {
        "name": job_name(cronjob, scheduled),
        "namespace": cronjob.namespace,
        "annotations": annotations,
        "ownerReferences": [owner_reference(cronjob)],
    }
    labels = dict((meta.labels if meta else None) or {})
    if labels:
        metadata["labels"] = labels
    spec = api.dump(template.spec) if template and template.spec else {}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": spec}


def job_finished(job: Any) -> str | None:
    """``Complete`` or ``Failed`` when the Job finished, else None."""
    for condition in (job.status.conditions if job.status else None) or ():
        if condition.type in ("Complete", "Failed") and condition.status == "True":
            return str(condition.type)
    return None


def started_at(job: Any) -> float:
    """When the Job started (its startTime, else its creation), for history order."""
    when = parse_rfc3339(job.status.start_time if job.status else None)
    if when is None:
        when = parse_rfc3339(job.metadata.creation_timestamp if job.metadata else None)
    return when or 0.0
