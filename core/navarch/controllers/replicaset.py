"""The ReplicaSet controller: keeps ``spec.replicas`` pods matching each ReplicaSet's
selector, owned by it, as Kubernetes' does.

A sync claims the pods of the ReplicaSet's namespace (adopts matching orphans,
releases owned pods whose labels no longer match), then, unless it still waits for
what the previous sync did to show in the caches (``expectations``), creates the
missing pods from the template in slow-start batches (1, 2, 4 … stopping at the first
batch with an error, at most ``burst_replicas`` per sync) or deletes the excess,
those least far along first. It writes the status only when it changed, and looks
again when a Ready pod will have been so for ``minReadySeconds``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from navarch import api
from navarch.api.apps_v1 import ReplicaSet
from navarch.api.core_v1 import Pod
from navarch.api.meta import ObjectMeta, OwnerReference, TopLevel
from navarch.api.selectors import Selector
from navarch.client.errors import ApiException, Conflict, NotFound
from navarch.client.sharedinformers import NAMESPACE_INDEX
from navarch.controllers import claiming
from navarch.controllers import replicaset_pods as pods_of
from navarch.controllers.base import QueueController
from navarch.controllers.context import ControllerContext
from navarch.controllers.expectations import UIDTrackingExpectations
from navarch.controllers.owners import controller_of
from navarch.controllers.replicaset_status import new_status, unchanged

NAME = "replicaset"


@attrs.frozen(kw_only=True)
class ReplicaSetOptions:
    burst_replicas: int = attrs.field(
        default=500,
        validator=attrs.validators.ge(1),
        metadata={"help": "The most pods one sync of a ReplicaSet creates or deletes."},
    )
    workers: int = attrs.field(
        default=5,
        validator=attrs.validators.ge(1),
        metadata={"help": "ReplicaSets synced at once."},
    )


class SyncFailed(Exception):
    """Some of a sync's creations, deletions, adoptions or releases failed; the key is
    retried with its back-off (the status already says so). ``reason`` is the
    ReplicaFailure condition's (FailedCreate, FailedDelete); ``succeeded`` how many
    calls of the batch run went through."""

    def __init__(self, reason: str, message: str, succeeded: int = 0):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.succeeded = succeeded


def _meta(obj: TopLevel) -> ObjectMeta:
    """An object's metadata (the API server always sends it; an empty one otherwise)."""
    return obj.metadata if obj.metadata is not None else ObjectMeta()


async def slow_start(count: int, call: Callable[[], Awaitable[Any]], initial: int = 1) -> int:
    """Call ``call`` ``count`` times in batches of 1, 2, 4 … run at once, stopping after
    the first batch with a failure (one bad template is then refused once, not
    ``count`` times); the number that succeeded. The first failure is raised after its
    batch as :class:`SyncFailed` (reason FailedCreate) carrying ``succeeded``."""
    succeeded, batch = 0, min(count, initial)
    while batch > 0:
        results = await asyncio.gather(*(call() for _ in range(batch)), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result
        failures = [r for r in results if isinstance(r, Exception)]
        succeeded += batch - len(failures)
        if failures:
            raise SyncFailed("FailedCreate", str(failures[0]), succeeded) from failures[0]
        count -= batch
        batch = min(2 * batch, count)
    return succeeded


class ReplicaSetController(QueueController):
    def __init__(self, context: ControllerContext):
        super().__init__(context)
        self.options: ReplicaSetOptions = context.options or ReplicaSetOptions()
        self.workers = self.options.workers
        self.expectations = UIDTrackingExpectations()
        self.replicasets = context.informers.informer("replicasets")
        self.pods = context.informers.informer("pods")
        self.replicasets.add_handler(
            on_add=self.enqueue,
            on_update=lambda old, new: self.enqueue(new),
            on_delete=self._replicaset_deleted,
        )
        self.pods.add_handler(
            on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted
        )

    # --- handlers: changes to keys ------------------------------------------------------

    def _replicaset_deleted(self, rs: ReplicaSet) -> None:
        self.expectations.delete(rs.key())
        self.enqueue(rs)

    def _owner_key(self, namespace: str, ref: OwnerReference | None) -> str | None:
        """The key of the ReplicaSet ``ref`` names, if the cache holds that very one."""
        if (
            ref is None
            or ref.kind != "ReplicaSet"
            or (ref.api_version or "").split("/")[0] != "apps"
        ):
            return None
        rs = self.replicasets.get(f"{namespace}/{ref.name}")
        if rs is None or _meta(rs).uid != ref.uid:
            return None
        return rs.key()

    def _matching(self, pod: Pod) -> list[str]:
        """The keys of the ReplicaSets of the pod's namespace whose selector matches it."""
        labels = pods_of.labels_of(pod)
        keys = []
        for rs in self.replicasets.by_index(NAMESPACE_INDEX, pod.namespace):
            selector = pods_of.selector_of(rs)
            if selector is not None and selector.matches(labels):
                keys.append(rs.key())
        return keys

    def _pod_added(self, pod: Pod) -> None:
        if _meta(pod).deletion_timestamp:
            # seen for the first time already going (a re-list): a deletion
            self._pod_deleted(pod)
            return
        ref = controller_of(pod)
        if ref is not None:
            key = self._owner_key(pod.namespace, ref)
            if key is not None:
                self.expectations.creation_observed(key)
                self.queue.add(key)
            return
        for key in self._matching(pod):
            self.queue.add(key)

    def _pod_updated(self, old: Pod, new: Pod) -> None:
        if _meta(old).resource_version == _meta(new).resource_version:
            return  # a re-list's copy of the same version
        labels_changed = pods_of.labels_of(old) != pods_of.labels_of(new)
        if _meta(new).deletion_timestamp:
            # a graceful deletion started: as good as deleted for the expectations
            self._pod_deleted(new)
            if labels_changed:
                self._pod_deleted(old)
            return
        old_ref, new_ref = controller_of(old), controller_of(new)
        owner_changed = (old_ref.uid if old_ref else None) != (new_ref.uid if new_ref else None)
        if owner_changed and old_ref is not None:
            key = self._owner_key(old.namespace, old_ref)
            if key is not None:
                self.queue.add(key)
        if new_ref is not None:
            key = self._owner_key(new.namespace, new_ref)
            if key is not None:
                self.queue.add(key)
                min_ready = self._min_ready(key)
                if min_ready > 0 and not pods_of.is_ready(old) and pods_of.is_ready(new):
                    self.queue.add_after(key, min_ready)  # when it will count as available
            return
        if labels_changed or owner_changed:
            for key in self._matching(new):
                self.queue.add(key)

    def _pod_deleted(self, pod: Pod) -> None:
        key = self._owner_key(pod.namespace, controller_of(pod))
        if key is not None:
            self.expectations.deletion_observed(key, pod.key())
            self.queue.add(key)

    def _min_ready(self, key: str) -> int:
        rs = self.replicasets.get(key)
        spec = rs.spec if rs is not None else None
        return (spec.min_ready_seconds if spec is not None else None) or 0

    # --- the sync -----------------------------------------------------------------------

    async def sync(self, key: str) -> float | None:
        rs = self.replicasets.get(key)
        if rs is None:
            self.expectations.delete(key)
            return None
        log = self.log.bind(replicaset=key)
        acts = self.expectations.satisfied(key) and not _meta(rs).deletion_timestamp
        selector = pods_of.selector_of(rs)
        if selector is None:
            log.warning("the ReplicaSet's selector is missing or invalid: it selects no pods")
            return None
        active = [
            p for p in self.pods.by_index(NAMESPACE_INDEX, rs.namespace) if pods_of.is_active(p)
        ]
        owned = await self._claim(rs, selector, active)
        failure: tuple[str, str] | None = None
        error: SyncFailed | None = None
        if acts:
            try:
                await self._manage(rs, owned)
            except SyncFailed as exc:
                error = exc
                failure = (exc.reason, exc.message)
        counted = pods_of.counts(rs, owned, time.time())
        await self._write_status(rs, new_status(rs, counted, failure))
        if error is not None:
            raise error
        return counted["next_available"]

    # --- claiming: adopt orphans, release what no longer matches ------------------------

    async def _claim(self, rs: ReplicaSet, selector: Selector, pods: list[Pod]) -> list[Pod]:
        owned: list[Pod] = []
        errors: list[ApiException] = []
        deleting = bool(_meta(rs).deletion_timestamp)
        may_adopt: bool | None = None
        for pod in pods:
            ref = controller_of(pod)
            matches = selector.matches(pods_of.labels_of(pod))
            if ref is not None:
                if ref.uid != _meta(rs).uid:
                    continue  # another controller's
                if matches:
                    owned.append(pod)
                elif not deleting:
                    await self._try(self._release(rs, pod), errors)
                continue
            if deleting or not matches:
                continue
            if may_adopt is None:
                may_adopt = await self._may_adopt(rs)
            if may_adopt:
                adopted = await self._try(self._adopt(rs, pod), errors)
                if adopted is not None:
                    owned.append(adopted)
        if errors:
            raise SyncFailed("FailedClaim", f"claiming pods: {errors[0]}") from errors[0]
        return owned

    @staticmethod
    async def _try(call: Awaitable[Any], errors: list[ApiException]) -> Any:
        try:
            return await call
        except NotFound:
            return None  # the pod is gone: nothing to claim or release
        except ApiException as exc:
            errors.append(exc)
            return None

    async def _may_adopt(self, rs: ReplicaSet) -> bool:
        """Adopt only for a ReplicaSet that still is (read now, not from the cache:
        one deleted meanwhile must not take pods its garbage collection would miss)."""
        try:
            fresh = await self.client.replicasets.get(rs.name, rs.namespace)
        except NotFound:
            return False
        return _meta(fresh).uid == _meta(rs).uid and not _meta(fresh).deletion_timestamp

    async def _adopt(self, rs: ReplicaSet, pod: Pod) -> Pod:
        adopted: Pod = await claiming.adopt(self.client.pods, rs, pod)
        self.log.bind(replicaset=rs.key(), pod=pod.name).info("adopted an orphan pod")
        return adopted

    async def _release(self, rs: ReplicaSet, pod: Pod) -> None:
        await claiming.release(self.client.pods, rs, pod)
        self.log.bind(replicaset=rs.key(), pod=pod.name).info(
            "released a pod that no longer matches"
        )

    # --- creating and deleting ----------------------------------------------------------

    async def _manage(self, rs: ReplicaSet, owned: list[Pod]) -> None:
        wanted = rs.spec.replicas if rs.spec and rs.spec.replicas is not None else 1
        diff = len(owned) - wanted
        if diff < 0:
            await self._create(rs, min(-diff, self.options.burst_replicas))
        elif diff > 0:
            await self._delete(
                rs, pods_of.pods_to_delete(owned, min(diff, self.options.burst_replicas))
            )

    async def _create(self, rs: ReplicaSet, count: int) -> None:
        key = rs.key()
        # before the first create: its pod's event may arrive before the create returns
        self.expectations.expect_creations(key, count)
        body = pods_of.pod_from_template(rs)

        async def create_one() -> None:
            try:
                pod = await self.client.pods.create(body, rs.namespace)
            except ApiException as exc:
                await self.context.recorder.record(
                    rs, "Warning", "FailedCreate", f"Error creating: {exc}"
                )
                raise
            await self.context.recorder.record(
                rs, "Normal", "SuccessfulCreate", f"Created pod: {pod.name}"
            )

        self.log.bind(replicaset=key, count=count).info("creating pods")
        try:
            await slow_start(count, create_one)
        except SyncFailed as exc:
            # the failed and the never-tried are never going to be observed
            self.expectations.lower(key, add=count - exc.succeeded)
            raise

    async def _delete(self, rs: ReplicaSet, victims: list[Pod]) -> None:
        key = rs.key()
        self.expectations.expect_deletions(key, of=[p.key() for p in victims])
        self.log.bind(replicaset=key, count=len(victims)).info("deleting pods")

        async def delete_one(pod: Pod) -> ApiException | None:
            try:
                # by uid: a new pod under the same name is not the one ranked here
                await self.client.pods.delete(pod.name, pod.namespace, uid=_meta(pod).uid)
            except ApiException as exc:
                self.expectations.deletion_observed(key, pod.key())  # will never be seen
                if isinstance(exc, NotFound | Conflict):
                    return None  # gone already
                await self.context.recorder.record(
                    rs, "Warning", "FailedDelete", f"Error deleting: {exc}"
                )
                return exc
            await self.context.recorder.record(
                rs, "Normal", "SuccessfulDelete", f"Deleted pod: {pod.name}"
            )
            return None

        failures = [e for e in await asyncio.gather(*map(delete_one, victims)) if e is not None]
        if failures:
            raise SyncFailed("FailedDelete", str(failures[0])) from failures[0]

    # --- status ---------------------------------------------------------------------------

    async def _write_status(self, rs: ReplicaSet, status: dict[str, Any]) -> None:
        for attempt in range(2):
            if unchanged(rs, status):
                return
            body = api.dump(rs)
            body["status"] = status
            try:
                await self.client.replicasets.update_status(body, rs.namespace)
                return
            except Conflict:
                if attempt:
                    raise
            except NotFound:
                return
            rs = await self.client.replicasets.get(rs.name, rs.namespace)
