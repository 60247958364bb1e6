"""The CronJob controller (Kubernetes' ``pkg/controller/cronjob``, its v2): makes a Job
from each CronJob's template at its scheduled times.

A sync of a CronJob:

1. reconciles ``status.active`` with the Jobs it owns: a finished one leaves it
   (``lastSuccessfulTime`` follows a Complete one), one gone leaves it too;
2. unless deleted or suspended, finds the most recent scheduled time after the last
   run (or the creation) and within ``startingDeadlineSeconds``; more than 100 missed
   ones say so (event TooManyMissedTimes) — only the most recent is started;
3. applies ``concurrencyPolicy``: Forbid skips the run while a Job is active (it is
   started later if still within the deadline), Replace deletes the active ones;
4. creates the Job ``<cronjob>-<scheduled minutes since the epoch>`` with the
   annotation ``batch.kubernetes.io/cronjob-scheduled-timestamp``. The name is the
   same in every controller manager, so a leader that took over and creates it again
   gets AlreadyExists: that is success, not a second run;
5. writes the status, deletes finished Jobs beyond the history limits, and looks
   again at the next scheduled time.

The clock is injected (``clock``): tests move time instead of waiting minutes.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

from navarch import api
from navarch.api.batch_v1 import CronJob
from navarch.api.cron import Schedule, ScheduleError
from navarch.api.timefmt import parse_rfc3339, rfc3339
from navarch.client.errors import AlreadyExists, ApiException, NotFound
from navarch.controllers.base import QueueController
from navarch.controllers.context import ControllerContext
from navarch.controllers.cronjob_schedule import (
    MAX_MISSED,
    due_run,
    job_finished,
    job_from_template,
    job_name,
    started_at,
)
from navarch.controllers.owners import controller_of

NAME = "cronjob"
OWNER_INDEX = "cronjob-controller-uid"
# Kubernetes looks again 100 ms after the next scheduled time, so it is surely due
NEXT_SCHEDULE_SLACK = 0.1


def _cronjob_uid(job: Any) -> list[str]:
    ref = controller_of(job)
    return [ref.uid] if ref is not None and ref.kind == "CronJob" and ref.uid else []


def _reference(job: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": job.name,
        "namespace": job.namespace,
        "uid": job.metadata.uid,
        "resourceVersion": job.metadata.resource_version,
    }


class CronJobController(QueueController):
    def __init__(self, context: ControllerContext, clock: Callable[[], float] = time.time):
        super().__init__(context)
        self.clock = clock
        self.cronjobs = context.informers.informer("cronjobs")
        self.jobs = context.informers.informer("jobs")
        self.jobs.add_index(OWNER_INDEX, _cronjob_uid)
        self.cronjobs.add_handler(
            on_add=self.enqueue,
            on_update=lambda old, new: self.enqueue(new),
            on_delete=self.enqueue,
        )
        self.jobs.add_handler(
            on_add=self._job_changed,
            on_update=lambda old, new: self._job_changed(new),
            on_delete=self._job_changed,
        )

    def _job_changed(self, job: Any) -> None:
        ref = controller_of(job)
        if ref is not None and ref.kind == "CronJob":
            self.queue.add(f"{job.namespace}/{ref.name}")

    async def sync(self, key: str) -> float | None:
        cronjob = self.cronjobs.get(key)
        if cronjob is None:
            return None
        log = self.log.bind(cronjob=key)
        uid = cronjob.metadata.uid if cronjob.metadata else ""
        owned = self.jobs.by_index(OWNER_INDEX, uid)
        status = copy.deepcopy(api.dump(cronjob).get("status") or {})
        await self._reconcile_active(cronjob, owned, status)
        again = await self._schedule(cronjob, owned, status, log)
        await self._write_status(cronjob, status)
        await self._clean_history(cronjob, owned)
        return again

    # --- 1: the active list ---------------------------------------------------------------

    async def _reconcile_active(
        self, cronjob: CronJob, owned: list[Any], status: dict[str, Any]
    ) -> None:
        by_uid = {job.metadata.uid: job for job in owned}
        kept: list[dict[str, Any]] = []
        for ref in status.get("active") or []:
            job = by_uid.get(ref.get("uid"))
            if job is None:
                # not in the cache: maybe just created; ask the API server
                try:
                    job = await self.client.jobs.get(ref.get("name", ""), cronjob.namespace)
                except NotFound:
                    job = None
                if job is None or job.metadata.uid != ref.get("uid"):
                    # deleted (by hand, say): off the list, as Kubernetes says
                    await self.context.recorder.record(
                        cronjob,
                        "Normal",
                        "MissingJob",
                        f"Active job went missing: {ref.get('name', '')}",
                    )
                    continue
            finished = job_finished(job)
            if finished is None:
                kept.append(ref)
                continue
            await self.context.recorder.record(
                cronjob,
                "Normal",
                "SawCompletedJob",
                f"Saw completed job: {job.name}, condition: {finished}",
            )
            if finished == "Complete":
                completed = job.status.completion_time if job.status else None
                last = parse_rfc3339(status.get("lastSuccessfulTime"))
                when = parse_rfc3339(completed)
                if when is not None and (last is None or when > last):
                    status["lastSuccessfulTime"] = completed
        listed = {ref.get("uid") for ref in kept}
        for job in owned:
            if job.metadata.uid not in listed and job_finished(job) is None:
                # made by a controller that stopped before writing its status, or by
                # hand (kubectl create job --from): Kubernetes leaves it out too
                self.log.bind(cronjob=cronjob.key(), job=job.name).debug(
                    "an active job of the cronjob is not in its status"
                )
        if kept:
            status["active"] = kept
        else:
            status.pop("active", None)

    # --- 2-4: the run due now -------------------------------------------------------------

    async def _schedule(
        self, cronjob: CronJob, owned: list[Any], status: dict[str, Any], log: Any
    ) -> float | None:
        spec = cronjob.spec
        if spec is None or (cronjob.metadata and cronjob.metadata.deletion_timestamp):
            return None
        if spec.suspend:
            return None
        try:
            schedule = Schedule.parse(spec.schedule or "", spec.time_zone)
        except ScheduleError as exc:
            reason = "UnknownTimeZone" if "zone" in str(exc) else "UnparseableSchedule"
            await self.context.recorder.record(cronjob, "Warning", reason, str(exc))
            return None
        now = self.clock()
        upcoming = schedule.next_after(now)
        if upcoming is None:
            # accepted by the API (as robfig/cron's parser, hence Kubernetes, accepts
            # it) but naming no time that exists: said, and nothing to wait for
            await self.context.recorder.record(
                cronjob,
                "Warning",
                "InvalidSchedule",
                f"invalid schedule: {spec.schedule} : it names no time that exists "
                "(such as February 30th)",
            )
            return None
        next_in = upcoming - now + NEXT_SCHEDULE_SLACK
        due = due_run(cronjob, status.get("lastScheduleTime"), schedule, now)
        if due is None:
            return next_in
        if due.missed > MAX_MISSED:
            await self.context.recorder.record(
                cronjob,
                "Warning",
                "TooManyMissedTimes",
                f"too many missed start times: {due.missed}. Set or decrease "
                ".spec.startingDeadlineSeconds or check clock skew",
            )
        name = job_name(cronjob, due.at)
        active = status.get("active") or []
        if (
            any(ref.get("name") == name for ref in active)
            or parse_rfc3339(status.get("lastScheduleTime")) == due.at
        ):
            return next_in  # this run is made already
        if active and spec.concurrency_policy == "Forbid":
            log.bind(scheduled=rfc3339(due.at)).info(
                "not starting a job: the previous run is still active (concurrencyPolicy Forbid)"
            )
            await self.context.recorder.record(
                cronjob,
                "Normal",
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy "
                "is Forbid",
            )
            return next_in
        if active and spec.concurrency_policy == "Replace":
            for ref in list(active):
                await self._delete_job(cronjob, ref.get("name", ""), ref.get("uid"))
                active.remove(ref)
            status.pop("active", None)
        job = await self._create_job(cronjob, due.at, schedule, log)
        if job is not None:
            status["active"] = [*(status.get("active") or []), _reference(job)]
        status["lastScheduleTime"] = rfc3339(due.at)
        return next_in

    async def _create_job(
        self, cronjob: CronJob, scheduled: float, schedule: Schedule, log: Any
    ) -> Any:
        body = job_from_template(cronjob, scheduled, schedule.zone)
        name = body["metadata"]["name"]
        try:
            job = await self.client.jobs.create(body, cronjob.namespace)
        except AlreadyExists:
            # another controller manager (a former leader) made this very run
            try:
                job = await self.client.jobs.get(name, cronjob.namespace)
            except NotFound:
                return None
            ref = controller_of(job)
            if ref is None or cronjob.metadata is None or ref.uid != cronjob.metadata.uid:
                return None
            log.bind(job=name).info("the job of this run exists already")
            if job_finished(job):
                return None
            return job
        except ApiException as exc:
            await self.context.recorder.record(
                cronjob, "Warning", "FailedCreate", f"Error creating job: {exc}"
            )
            raise
        await self.context.recorder.record(
            cronjob, "Normal", "SuccessfulCreate", f"Created job {name}"
        )
        log.bind(job=name).info("created a job")
        return job

    async def _delete_job(self, cronjob: CronJob, name: str, uid: str | None) -> None:
        try:
            await self.client.jobs.delete(
                name, cronjob.namespace, propagation_policy="Background", uid=uid
            )
        except NotFound:
            return
        await self.context.recorder.record(
            cronjob, "Normal", "SuccessfulDelete", f"Deleted job {name}"
        )

    # --- 5: status and history -------------------------------------------------------------

    async def _write_status(self, cronjob: CronJob, status: dict[str, Any]) -> None:
        if (api.dump(cronjob).get("status") or {}) == status:
            return
        body = api.dump(cronjob)
        body["status"] = status
        try:
            await self.client.cronjobs.update_status(body, cronjob.namespace)
        except NotFound:
            return

    async def _clean_history(self, cronjob: CronJob, owned: list[Any]) -> None:
        spec = cronjob.spec
        if spec is None:
            return
        for outcome, limit in (
            ("Complete", spec.successful_jobs_history_limit),
            ("Failed", spec.failed_jobs_history_limit),
        ):
            if limit is None:
                continue
            finished = sorted(
                (
                    j
                    for j in owned
                    if job_finished(j) == outcome
                    and not (j.metadata and j.metadata.deletion_timestamp)
                ),
                key=lambda j: (started_at(j), j.name),  # Kubernetes' byJobStartTime
            )
            for job in finished[: max(0, len(finished) - limit)]:
                await self._delete_job(cronjob, job.name, job.metadata.uid)
