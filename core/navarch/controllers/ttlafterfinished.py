"""The TTL-after-finished controller (Kubernetes' ``pkg/controller/ttlafterfinished``):
a Job with ``ttlSecondsAfterFinished`` is deleted, with its pods, that many seconds
after it finished — its ``Complete`` or ``Failed`` condition's transition time. The
propagation is Foreground, as Kubernetes': the Job stays (being deleted) until its pods
are gone, so ``kubectl wait --for=delete job/x`` means its pods are gone too.

Before deleting, the Job is read again from the API server (not the cache): its TTL
may have been changed or removed meanwhile; the delete names the Job's uid and
resourceVersion, so a Job changed since that read is not deleted on stale grounds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from navarch import api
from navarch.api.batch_v1 import Job
from navarch.api.timefmt import parse_rfc3339
from navarch.client.errors import Conflict, NotFound
from navarch.controllers import job_status as conditions
from navarch.controllers.base import QueueController
from navarch.controllers.context import ControllerContext

NAME = "ttl-after-finished"


def expires_in(job: Job, now: float) -> float | None:
    """Seconds until ``job`` is due for deletion (<= 0: now); None when it never is
    (no TTL, or not finished)."""
    ttl = job.spec.ttl_seconds_after_finished if job.spec else None
    if ttl is None:
        return None
    status: dict[str, Any] = api.dump(job).get("status") or {}
    finished = None
    for kind in (conditions.COMPLETE, conditions.FAILED):
        condition = conditions.find(status, kind)
        if condition is not None and condition.get("status") == "True":
            finished = parse_rfc3339(condition.get("lastTransitionTime"))
    if finished is None:
        return None
    return finished + ttl - now


class TTLAfterFinishedController(QueueController):
    def __init__(self, context: ControllerContext, clock: Callable[[], float] = time.time):
        super().__init__(context)
        self.clock = clock
        self.jobs = context.informers.informer("jobs")
        self.jobs.add_handler(on_add=self._changed, on_update=lambda old, new: self._changed(new))

    def _changed(self, job: Job) -> None:
        if not (job.metadata and job.metadata.deletion_timestamp) and (
            expires_in(job, self.clock()) is not None
        ):
            self.enqueue(job)

    async def sync(self, key: str) -> float | None:
        job = self.jobs.get(key)
        if job is None or (job.metadata and job.metadata.deletion_timestamp):
            return None
        left = expires_in(job, self.clock())
        if left is None:
            return None
        if left > 0:
            return left
        try:
            fresh = await self.client.jobs.get(job.name, job.namespace)
        except NotFound:
            return None
        left = expires_in(fresh, self.clock())
        if left is None:
            return None
        if left > 0:
            return left
        try:
            await self.client.jobs.delete(
                fresh.name,
                fresh.namespace,
                propagation_policy="Foreground",
                uid=fresh.metadata.uid,
                resource_version=fresh.metadata.resource_version,
            )
        except NotFound:
            return None
        except Conflict:
            return 0.0  # changed since the read: look again
        self.log.bind(job=key).info("deleted a finished job whose TTL expired")
        return None
