"""The Job controller: runs a Job's pods to completion, as Kubernetes'
``pkg/controller/job`` does.

A sync reads the Job and the pods it owns from the caches (adopting matching orphans
and releasing pods that no longer match: :mod:`navarch.controllers.job_claim`) and:

1. **counts finished pods exactly once** (the tracking finalizer
   ``batch.kubernetes.io/job-tracking``, on every pod it creates): a finished pod that
   still holds the finalizer and is not yet recorded is first written into
   ``status.uncountedTerminatedPods`` (and, for an Indexed Job, its index into
   ``completedIndexes``); only then is its finalizer removed; only then is it moved
   from there into ``succeeded``/``failed``. A controller stopped anywhere in between
   finds the pod either not recorded (finalizer still on: counted now), or recorded
   (counted once its finalizer is off) — never twice, never missed
   (:mod:`navarch.controllers.job_tracking`). Pods whose finalizer this process
   removed but whose update the cache has not shown yet are remembered
   (``finalizers_removed``), so a stale cache cannot count them again;
2. judges failures: the pod failure policy's first matching rule (FailJob, Ignore,
   Count), then ``backoffLimit`` (failed pods, or with restartPolicy OnFailure the
   restarts of the running ones), then ``activeDeadlineSeconds``;
3. sets ``FailureTarget`` or ``SuccessCriteriaMet`` and deletes the pods still
   running; ``Failed``/``Complete`` follow once none is left (Kubernetes 1.31);
4. otherwise, suspended: deletes its running pods (``Suspended``); running: creates
   the missing pods — for an Indexed Job the lowest indexes not done, each with its
   index — up to ``parallelism``, after the back-off of the failures since the last
   success (read from the pods' finish times: a restart keeps it); deletes any
   excess (and, Indexed, duplicates of an index);
5. writes the status when it changed.

Creations and deletions wait for the caches to show the previous sync's
(``expectations``, as the ReplicaSet controller), and a sync on a cached Job older
than the status this process last wrote waits for the cache (``written``): it would
decide again what that write settled. Pods whose Job is gone keep no
finalizer: the pod handler queues them and a sync removes it.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from navarch import api
from navarch.api.batch_v1 import TRACKING_FINALIZER, Job
from navarch.api.core_v1 import Pod
from navarch.api.timefmt import parse_rfc3339, rfc3339
from navarch.client.client import JSON_PATCH
from navarch.client.errors import ApiException, Conflict, NotFound
from navarch.client.sharedinformers import NAMESPACE_INDEX
from navarch.controllers import job_claim
from navarch.controllers import job_pods as pods_of
from navarch.controllers import job_status as conditions
from navarch.controllers import job_tracking as tracking
from navarch.controllers.base import QueueController
from navarch.controllers.context import ControllerContext
from navarch.controllers.expectations import UIDTrackingExpectations
from navarch.controllers.job_failure import IGNORE, judge, retry_delay
from navarch.controllers.owners import controller_of
from navarch.controllers.replicaset import SyncFailed, slow_start
from navarch.controllers.replicaset_pods import deletion_rank

NAME = "job"
OWNER_INDEX = "job-controller-uid"
ORPHAN_PREFIX = "orphan-pod:"  # a queue key for a pod whose Job is gone
CACHE_LAG_RECHECK = 1.0  # seconds: a sync found the cache behind its own last write


@attrs.frozen(kw_only=True)
class JobOptions:
    workers: int = attrs.field(
        default=5, validator=attrs.validators.ge(1), metadata={"help": "Jobs synced at once."}
    )
    backoff_base_seconds: float = attrs.field(
        default=10.0,
        validator=attrs.validators.gt(0),
        metadata={"help": "The first delay before a failed pod is replaced (doubles after)."},
    )
    backoff_max_seconds: float = attrs.field(
        default=360.0,
        validator=attrs.validators.gt(0),
        metadata={"help": "The longest delay before a failed pod is replaced."},
    )
    burst_pods: int = attrs.field(
        default=500,
        validator=attrs.validators.ge(1),
        metadata={"help": "The most pods one sync of a Job creates or deletes."},
    )


def _controller_uid(pod: Any) -> list[str]:
    ref = controller_of(pod)
    return [ref.uid] if ref is not None and ref.kind == "Job" and ref.uid else []


class JobController(QueueController):
    def __init__(self, context: ControllerContext, clock: Callable[[], float] = time.time):
        super().__init__(context)
        self.options: JobOptions = context.options or JobOptions()
        self.workers = self.options.workers
        self.clock = clock
        self.expectations = UIDTrackingExpectations()
        # uids whose finalizer this process removed, until the cache shows it gone
        self.finalizers_removed: dict[str, set[str]] = {}
        # the resourceVersion of each Job's last status this process wrote: a sync on
        # an older copy from the cache would decide again what that write settled
        self.written: dict[str, int] = {}
        self.jobs = context.informers.informer("jobs")
        self.pods = context.informers.informer("pods")
        self.pods.add_index(OWNER_INDEX, _controller_uid)
        self.jobs.add_handler(
            on_add=self.enqueue,
            on_update=lambda old, new: self.enqueue(new),
            on_delete=self._job_deleted,
        )
        self.pods.add_handler(
            on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted
        )

    # --- handlers -------------------------------------------------------------------------

    def _job_deleted(self, job: Job) -> None:
        self.expectations.delete(job.key())
        self.enqueue(job)

    def _job_key(self, pod: Pod) -> str | None:
        """The key of the pod's Job when the cache holds that very Job."""
        ref = controller_of(pod)
        if ref is None or ref.kind != "Job" or (ref.api_version or "").split("/")[0] != "batch":
            return None
        job = self.jobs.get(f"{pod.namespace}/{ref.name}")
        if job is None or job.metadata is None or job.metadata.uid != ref.uid:
            if pods_of.has_tracking_finalizer(pod):
                self.queue.add(ORPHAN_PREFIX + pod.key())
            return None
        return job.key()

    def _orphan_seen(self, pod: Pod) -> None:
        """An orphan pod: queue the Jobs of its namespace that may adopt it."""
        for job in self.jobs.by_index(NAMESPACE_INDEX, pod.namespace):
            if job_claim.orphans(job, [pod]):
                self.queue.add(job.key())

    def _pod_added(self, pod: Pod) -> None:
        if controller_of(pod) is None:
            self._orphan_seen(pod)
            return
        key = self._job_key(pod)
        if key is None:
            return
        if pods_of.deleting(pod):
            self.expectations.deletion_observed(key, pod.key())
        else:
            self.expectations.creation_observed(key)
        self._forget_removed(key, pod)
        self.queue.add(key)

    def _pod_updated(self, old: Pod, new: Pod) -> None:
        if (
            old.metadata
            and new.metadata
            and old.metadata.resource_version == (new.metadata.resource_version)
        ):
            return
        if controller_of(new) is None:
            self._orphan_seen(new)
        old_key = self._job_key(old) if controller_of(old) is not None else None
        if old_key is not None:
            self.queue.add(old_key)  # released, or its labels changed: let it look
        key = self._job_key(new)
        if key is None:
            return
        if pods_of.deleting(new):
            self.expectations.deletion_observed(key, new.key())
        self._forget_removed(key, new)
        self.queue.add(key)

    def _pod_deleted(self, pod: Pod) -> None:
        ref = controller_of(pod)
        if ref is None or ref.kind != "Job":
            return
        key = f"{pod.namespace}/{ref.name}"
        self.expectations.deletion_observed(key, pod.key())
        self.finalizers_removed.get(key, set()).discard(pods_of.uid_of(pod))
        self.queue.add(key)

    def _forget_removed(self, key: str, pod: Pod) -> None:
        if not pods_of.has_tracking_finalizer(pod):
            self.finalizers_removed.get(key, set()).discard(pods_of.uid_of(pod))

    # --- the sync -------------------------------------------------------------------------

    async def sync(self, key: str) -> float | None:
        if key.startswith(ORPHAN_PREFIX):
            await self._release_orphan(key.removeprefix(ORPHAN_PREFIX))
            return None
        job = self.jobs.get(key)
        if job is None:
            self.expectations.delete(key)
            self.finalizers_removed.pop(key, None)
            self.written.pop(key, None)
            return None
        if _version(job) < self.written.get(key, 0):
            return CACHE_LAG_RECHECK  # its update event is on the way; it queues the key
        uid = job.metadata.uid if job.metadata else ""
        pods = self.pods.by_index(OWNER_INDEX, uid)
        status = copy.deepcopy(api.dump(job).get("status") or {})
        if conditions.is_finished(status) or (job.metadata and job.metadata.deletion_timestamp):
            # nothing more to count: let every pod go
            await self._remove_finalizers(
                key, [p for p in pods if pods_of.has_tracking_finalizer(p)]
            )
            return None
        pods = await self._claim(job, pods)
        return await JobSync(self, job, pods, status).run()

    async def _claim(self, job: Job, owned: list[Pod]) -> list[Pod]:
        """``owned`` with the orphans the Job adopts and without the pods it releases."""
        strays = job_claim.strays(job, owned)
        orphans = job_claim.orphans(job, self.pods.by_index(NAMESPACE_INDEX, job.namespace))
        if not strays and not orphans:
            return owned
        log = self.log.bind(job=job.key())
        claimed = [p for p in owned if p not in strays]
        errors: list[ApiException] = []
        for pod in strays:
            try:
                await job_claim.release(self.client, job, pod)
                log.bind(pod=pod.name).info("released a pod that no longer matches")
            except NotFound:
                pass
            except ApiException as exc:
                errors.append(exc)
        if orphans and await job_claim.may_adopt(self.client, job):
            for pod in orphans:
                try:
                    claimed.append(await job_claim.adopt(self.client, job, pod))
                    log.bind(pod=pod.name).info("adopted an orphan pod")
                except NotFound:
                    pass
                except ApiException as exc:
                    errors.append(exc)
        if errors:
            raise SyncFailed("FailedClaim", f"claiming pods: {errors[0]}") from errors[0]
        return claimed

    async def _release_orphan(self, pod_key: str) -> None:
        pod = self.pods.get(pod_key)
        if pod is None or not pods_of.has_tracking_finalizer(pod):
            return
        if self._job_key_quiet(pod) is not None:
            return  # its Job is back in the cache: the Job's sync handles it
        await self._remove_finalizers("", [pod])
        self.log.bind(pod=pod_key).info("removed the tracking finalizer of a pod whose Job is gone")

    def _job_key_quiet(self, pod: Pod) -> str | None:
        ref = controller_of(pod)
        job = self.jobs.get(f"{pod.namespace}/{ref.name}") if ref is not None else None
        if job is None or ref is None or job.metadata is None or job.metadata.uid != ref.uid:
            return None
        return job.key()

    async def _remove_finalizers(self, key: str, pods: list[Pod]) -> list[str]:
        """Remove the tracking finalizer from ``pods``; the uids it is now off (or the
        pod gone). A failure is raised after every pod was tried."""
        removed = self.finalizers_removed.setdefault(key, set()) if key else set()
        errors: list[ApiException] = []

        async def one(pod: Pod) -> str | None:
            finalizers = list((pod.metadata.finalizers if pod.metadata else None) or ())
            if TRACKING_FINALIZER not in finalizers:
                return pods_of.uid_of(pod)
            index = finalizers.index(TRACKING_FINALIZER)
            patch = [
                {"op": "test", "path": "/metadata/uid", "value": pods_of.uid_of(pod)},
                {
                    "op": "test",
                    "path": f"/metadata/finalizers/{index}",
                    "value": TRACKING_FINALIZER,
                },
                {"op": "remove", "path": f"/metadata/finalizers/{index}"},
            ]
            try:
                await self.client.pods.patch(pod.name, patch, pod.namespace, patch_type=JSON_PATCH)
            except NotFound:
                pass
            except ApiException as exc:
                errors.append(exc)
                return None
            removed.add(pods_of.uid_of(pod))
            return pods_of.uid_of(pod)

        done = [u for u in await asyncio.gather(*map(one, pods)) if u is not None]
        if errors:
            raise SyncFailed("FailedRemoveFinalizer", str(errors[0])) from errors[0]
        return done

    async def write_status(self, job: Job, status: dict[str, Any]) -> Job:
        """Write ``status`` unless it is what the Job has; the Job as written. A conflict
        is raised: the sync was decided on a stale Job and is retried."""
        if (api.dump(job).get("status") or {}) == status:
            return job
        body = api.dump(job)
        body["status"] = status
        written: Job = await self.client.jobs.update_status(body, job.namespace)
        self.written[job.key()] = _version(written)
        return written


class JobSync:
    """One sync of one Job: the counting, the judgement, the pods, the status."""

    def __init__(
        self, controller: JobController, job: Job, pods: list[Pod], status: dict[str, Any]
    ):
        self.c = controller
        self.job = job
        self.key = job.key()
        self.pods = pods
        self.status = status
        self.spec = job.spec
        assert self.spec is not None  # the API server refuses a Job without one
        self.now = controller.clock()
        self.stamp = rfc3339(self.now)
        self.indexed = self.spec.completion_mode == "Indexed"
        self.completions = self.spec.completions
        self.log = controller.log.bind(job=self.key)
        self.requeue: list[float] = []
        # pods this sync created (+) or deleted (-): in status.active before the cache
        # shows them, as Kubernetes counts them
        self.active_change = 0

    async def run(self) -> float | None:
        failure = await self._count()
        await self._decide(failure)
        await self.c.write_status(self.job, self._final_status())
        return min(self.requeue) if self.requeue else None

    # --- 1: counting finished pods exactly once -------------------------------------------

    async def _count(self) -> tuple[str, str] | None:
        """Steps 1-4 of :mod:`job_tracking`; the failure a FailJob rule calls for."""
        spec, status = self.spec, self.status
        assert spec is not None
        removed = self.c.finalizers_removed.setdefault(self.key, set())
        pending_s, pending_f = tracking.uncounted_uids(status)
        known = set(pending_s) | set(pending_f) | removed
        index_of = self.completions if self.indexed else None
        found = tracking.classify(self.pods, spec, status, known, index_of)
        if found.succeeded or found.failed:
            tracking.record(status, found, index_of)
            # written before any finalizer goes: the count survives a restart from here
            self.job = await self.c.write_status(self.job, status)
        await self.c._remove_finalizers(
            self.key, tracking.releasable(self.pods, status, removed, found.uncountable)
        )
        tracking.flush(status, self.pods, removed, index_of)
        return found.failure

    # --- 2-4: judging and acting ----------------------------------------------------------

    def _succeeded(self) -> int:
        """Succeeded so far, the uncounted included."""
        if self.indexed:
            return int(self.status.get("succeeded") or 0)
        pending = (self.status.get("uncountedTerminatedPods") or {}).get("succeeded") or []
        return int(self.status.get("succeeded") or 0) + len(pending)

    def _failed(self) -> int:
        pending = (self.status.get("uncountedTerminatedPods") or {}).get("failed") or []
        return int(self.status.get("failed") or 0) + len(pending)

    def _judge(self, failure: tuple[str, str] | None) -> tuple[str, str] | None:
        spec = self.spec
        assert spec is not None
        if failure is not None or spec.suspend:
            return failure
        limit = spec.backoff_limit if spec.backoff_limit is not None else 6
        if self._failed() > limit:
            return conditions.BACKOFF_LIMIT_EXCEEDED
        restart = (
            spec.template.spec.restart_policy if spec.template and spec.template.spec else None
        )
        if restart == "OnFailure":
            restarts = sum(pods_of.restarts(p) for p in self.pods if pods_of.is_active(p))
            if (restarts > 0) if limit == 0 else (restarts >= limit):
                return conditions.BACKOFF_LIMIT_EXCEEDED
        start = parse_rfc3339(self.status.get("startTime"))
        if spec.active_deadline_seconds is not None and start is not None:
            left = start + spec.active_deadline_seconds - self.now
            if left <= 0:
                return conditions.DEADLINE_EXCEEDED
            self.requeue.append(left)
        return None

    def _complete(self) -> bool:
        if self.completions is None:
            return self._succeeded() > 0 and not any(pods_of.is_active(p) for p in self.pods)
        return self._succeeded() >= self.completions

    async def _decide(self, failure: tuple[str, str] | None) -> None:
        spec, status = self.spec, self.status
        assert spec is not None
        active = [p for p in self.pods if pods_of.is_active(p)]
        if not spec.suspend:
            if conditions.is_true(status, conditions.SUSPENDED):
                conditions.set_condition(
                    status, conditions.SUSPENDED, "False", *conditions.JOB_RESUMED, self.stamp
                )
                status["startTime"] = self.stamp  # the deadline counts from the resumption
                await self.c.context.recorder.record(self.job, "Normal", "Resumed", "Job resumed")
            status.setdefault("startTime", self.stamp)
        # Kubernetes' order: a success already declared stands; otherwise a failure
        # (policy, backoff limit, deadline) wins over completions reached at once
        if conditions.is_true(status, conditions.SUCCESS_CRITERIA_MET):
            succeeding, failure = True, None
        else:
            failure = self._judge(failure)
            succeeding = failure is None and self._complete()
        if succeeding or failure is not None:
            kind = conditions.SUCCESS_CRITERIA_MET if succeeding else conditions.FAILURE_TARGET
            outcome = conditions.COMPLETIONS_REACHED if succeeding else failure
            assert outcome is not None
            reason, message = outcome
            if conditions.set_condition(status, kind, "True", reason, message, self.stamp):
                self.log.bind(reason=reason).info("job finishing")
                await self.c.context.recorder.record(
                    self.job, "Normal" if succeeding else "Warning", reason, message
                )
            if active:
                await self._delete(active)
                return
            settled = not any(pods_of.is_terminating(p) for p in self.pods) and not any(
                (status.get("uncountedTerminatedPods") or {}).values()
            )
            if settled:
                final = conditions.COMPLETE if succeeding else conditions.FAILED
                conditions.set_condition(status, final, "True", reason, message, self.stamp)
                if succeeding:
                    status["completionTime"] = self.stamp
                await self.c.context.recorder.record(
                    self.job,
                    "Normal" if succeeding else "Warning",
                    "Completed" if succeeding else reason,
                    "Job completed" if succeeding else message,
                )
                self.log.bind(condition=final).info("job finished")
            return
        if spec.suspend:
            if conditions.set_condition(
                status, conditions.SUSPENDED, "True", *conditions.JOB_SUSPENDED, self.stamp
            ):
                await self.c.context.recorder.record(
                    self.job, "Normal", "Suspended", "Job suspended"
                )
            if active:
                await self._delete(active)
            return
        await self._manage(active)

    async def _manage(self, active: list[Pod]) -> None:
        if not self.c.expectations.satisfied(self.key):
            return
        spec = self.spec
        assert spec is not None
        parallelism = spec.parallelism if spec.parallelism is not None else 1
        terminating = [p for p in self.pods if pods_of.is_terminating(p)]
        held = len(terminating) if spec.pod_replacement_policy == "Failed" else 0
        if self.indexed:
            await self._manage_indexed(active, parallelism, held)
            return
        if self.completions is None:
            wanted = len(active) if self._succeeded() > 0 else parallelism
        else:
            wanted = min(parallelism, max(0, self.completions - self._succeeded()))
        if len(active) > wanted:
            await self._delete(sorted(active, key=deletion_rank)[: len(active) - wanted])
        elif len(active) + held < wanted:
            await self._create([None] * (wanted - len(active) - held))

    async def _manage_indexed(self, active: list[Pod], parallelism: int, held: int) -> None:
        assert self.completions is not None
        done = pods_of.parse_indexes(self.status.get("completedIndexes"), self.completions)
        by_index: dict[int, list[Pod]] = {}
        excess: list[Pod] = []
        for pod in sorted(active, key=deletion_rank, reverse=True):  # the furthest along first
            index = pods_of.completion_index(pod, self.completions)
            if index is None or index in done or index in by_index:
                excess.append(pod)  # no index, one done, or a duplicate
            else:
                by_index[index] = [pod]
        running = sorted(by_index)
        if len(running) > parallelism:
            excess += [by_index[i][0] for i in running[parallelism:]]
        if excess:
            await self._delete(excess)
            return
        waiting = {
            pods_of.completion_index(p, self.completions)
            for p in self.pods
            if pods_of.is_terminating(p) and held
        }
        pending = [
            i
            for i in range(self.completions)
            if i not in done and i not in by_index and i not in waiting
        ]
        room = parallelism - len(running) - held
        if room > 0 and pending:
            await self._create(pending[:room])

    def _finished(self) -> list[tuple[float, bool]]:
        """(finish time, succeeded) of the pods that count for the back-off: not those
        the pod failure policy ignores, nor those the controller stopped, nor those of
        an index a scaled-down Indexed Job no longer has."""
        spec = self.spec
        assert spec is not None
        stopping = tracking.stopping(spec, self.status)
        out = []
        for pod in self.pods:
            phase = pods_of.phase(pod)
            if self.indexed and pods_of.completion_index(pod, self.completions or 0) is None:
                continue  # an index no longer wanted (scaled down): not the Job's failure
            if phase == "Succeeded":
                out.append((_finished_at(pod), True))
            elif (
                phase == "Failed"
                and not (stopping and pods_of.deleting(pod))
                and judge(pod, spec.pod_failure_policy).action != IGNORE
            ):
                out.append((_finished_at(pod), False))
        return out

    async def _create(self, wanted: Sequence[int | None]) -> None:
        indexes = list(wanted[: self.c.options.burst_pods])
        left = retry_delay(
            self._finished(),
            self.now,
            self.c.options.backoff_base_seconds,
            self.c.options.backoff_max_seconds,
        )
        if left > 0:
            self.requeue.append(left)
            return
        self.c.expectations.expect_creations(self.key, len(indexes))
        queue = list(indexes)

        async def create_one() -> None:
            body = pods_of.pod_from_template(self.job, queue.pop(0))
            try:
                pod = await self.c.client.pods.create(body, self.job.namespace)
            except ApiException as exc:
                await self.c.context.recorder.record(
                    self.job, "Warning", "FailedCreate", f"Error creating: {exc}"
                )
                raise
            await self.c.context.recorder.record(
                self.job, "Normal", "SuccessfulCreate", f"Created pod: {pod.name}"
            )

        self.log.bind(count=len(indexes)).info("creating pods")
        try:
            self.active_change += await slow_start(len(indexes), create_one)
        except SyncFailed as exc:
            self.active_change += exc.succeeded
            self.c.expectations.lower(self.key, add=len(indexes) - exc.succeeded)
            raise

    async def _delete(self, victims: list[Pod]) -> None:
        victims = victims[: self.c.options.burst_pods]
        self.c.expectations.expect_deletions(self.key, of=[p.key() for p in victims])
        self.log.bind(count=len(victims)).info("deleting pods")

        async def delete_one(pod: Pod) -> ApiException | None:
            try:
                await self.c.client.pods.delete(pod.name, pod.namespace, uid=pods_of.uid_of(pod))
            except ApiException as exc:
                self.c.expectations.deletion_observed(self.key, pod.key())
                if isinstance(exc, NotFound | Conflict):
                    return None
                return exc
            await self.c.context.recorder.record(
                self.job, "Normal", "SuccessfulDelete", f"Deleted pod: {pod.name}"
            )
            return None

        failures = [e for e in await asyncio.gather(*map(delete_one, victims)) if e is not None]
        self.active_change -= len(victims) - len(failures)
        if failures:
            raise SyncFailed("FailedDelete", str(failures[0])) from failures[0]

    # --- 5: status ------------------------------------------------------------------------

    def _final_status(self) -> dict[str, Any]:
        status = self.status
        active = [p for p in self.pods if pods_of.is_active(p)]
        tracking.set_count(status, "active", max(0, len(active) + self.active_change))
        status["ready"] = sum(1 for p in active if pods_of.is_ready(p))
        status["terminating"] = sum(1 for p in self.pods if pods_of.is_terminating(p))
        status.setdefault("uncountedTerminatedPods", {})
        if self.indexed:
            status.setdefault("completedIndexes", "")
        return status


def _version(job: Job) -> int:
    """The Job's resourceVersion as the number it is (the store's revision); 0 when it
    is not one, which turns the stale-cache check off."""
    raw = (job.metadata.resource_version if job.metadata else None) or ""
    return int(raw) if raw.isdigit() else 0


def _finished_at(pod: Pod) -> float:
    """When the pod's last container ended (its creation when none says)."""
    latest = None
    for status in (pod.status.container_statuses if pod.status else None) or ():
        terminated = status.state.terminated if status.state else None
        when = parse_rfc3339(terminated.finished_at) if terminated else None
        if when is not None and (latest is None or when > latest):
            latest = when
    if latest is None:
        latest = parse_rfc3339(pod.metadata.creation_timestamp if pod.metadata else None)
    return latest or 0.0
