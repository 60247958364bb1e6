"""The DaemonSet controller: one pod of each DaemonSet on every node that should run
it, placed through the scheduler, rolled out through ControllerRevisions, as
Kubernetes' (pkg/controller/daemon).

A sync of one DaemonSet:

1. *History* (:mod:`navarch.controllers.history`): the revision holding the current
   template is found or created (renumbered after ``kubectl rollout undo`` brought an
   old one back); its hash labels the pods made now.
2. *Pods*: the DaemonSet's pods are claimed (orphans its selector matches adopted,
   owned ones that no longer match released) and grouped by the node each is for.
3. Unless the previous sync's creations and deletions have not all shown in the
   caches yet (``expectations``): *manage* creates the missing pods and deletes the
   surplus (:mod:`navarch.controllers.daemonset_plan`); then, once that has been
   observed, *RollingUpdate* replaces old pods within ``maxUnavailable`` /
   ``maxSurge`` (OnDelete waits for someone to delete them); old revisions past
   ``revisionHistoryLimit`` that no pod runs are deleted.
4. *Status*: written when it changed (``observedGeneration`` only once the sync acted
   on that generation), and the sync looks again when a Ready pod becomes available.

Nodes joining, leaving, or changing labels, taints or cordon wake every DaemonSet.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import attrs

from navarch import api
from navarch.api.apps_v1 import ControllerRevision, DaemonSet
from navarch.api.core_v1 import Node, Pod
from navarch.api.field_checks import validate_label_selector
from navarch.api.meta import OwnerReference
from navarch.api.selectors import Selector
from navarch.client.errors import ApiException, Conflict, NotFound
from navarch.client.sharedinformers import NAMESPACE_INDEX
from navarch.controllers import claiming, history
from navarch.controllers import daemonset_plan as plan_of
from navarch.controllers.base import QueueController
from navarch.controllers.context import ControllerContext
from navarch.controllers.daemonset_nodes import Placement, pod_for_node
from navarch.controllers.daemonset_status import new_status, unchanged
from navarch.controllers.expectations import UIDTrackingExpectations
from navarch.controllers.owners import controller_of
from navarch.controllers.replicaset_pods import is_ready

NAME = "daemonset"

# Kubernetes' failedPodsBackoff: 1 s doubling to 15 min per (DaemonSet, node).
FAILED_POD_BACKOFF = (1.0, 15 * 60.0)


@attrs.frozen(kw_only=True)
class DaemonSetOptions:
    burst_replicas: int = attrs.field(
        default=250,
        validator=attrs.validators.ge(1),
        metadata={"help": "The most pods one sync of a DaemonSet creates or deletes."},
    )
    workers: int = attrs.field(
        default=2,
        validator=attrs.validators.ge(1),
        metadata={"help": "DaemonSets synced at once."},
    )


class SyncFailed(Exception):
    """Some creations or deletions of a sync failed; the key is retried with its
    back-off."""


def _labels(obj: Any) -> dict[str, str]:
    return dict((obj.metadata.labels if obj.metadata else None) or {})


def _selector(ds: DaemonSet) -> Selector | None:
    selector = ds.spec.selector if ds.spec else None
    if selector is None:
        return None
    errors, parsed = validate_label_selector(selector, "spec.selector")
    return None if errors or parsed is None or parsed.is_empty() else parsed


class DaemonSetController(QueueController):
    def __init__(self, context: ControllerContext):
        super().__init__(context)
        self.options: DaemonSetOptions = context.options or DaemonSetOptions()
        self.workers = self.options.workers
        self.expectations = UIDTrackingExpectations()
        # (DaemonSet key, node) -> (monotonic time before which a failed pod stays, delay)
        self._failed_backoff: dict[tuple[str, str], tuple[float, float]] = {}
        informers = context.informers
        self.daemonsets = informers.informer("daemonsets")
        self.pods = informers.informer("pods")
        self.nodes = informers.informer("nodes")
        self.revisions = informers.informer("controllerrevisions")
        self.daemonsets.add_handler(
            on_add=self.enqueue,
            on_update=lambda old, new: self.enqueue(new),
            on_delete=self._daemonset_deleted,
        )
        self.pods.add_handler(
            on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted
        )
        self.nodes.add_handler(
            on_add=lambda node: self._enqueue_all(),
            on_update=self._node_updated,
            on_delete=lambda node: self._enqueue_all(),
        )
        self.revisions.add_handler(
            on_add=self._revision_changed,
            on_update=lambda old, new: self._revision_changed(new),
            on_delete=self._revision_changed,
        )

    # --- handlers: changes to keys ------------------------------------------------------

    def _daemonset_deleted(self, ds: DaemonSet) -> None:
        self.expectations.delete(ds.key())
        for pair in [p for p in self._failed_backoff if p[0] == ds.key()]:
            del self._failed_backoff[pair]
        self.enqueue(ds)

    def _enqueue_all(self) -> None:
        for ds in self.daemonsets.list():
            self.enqueue(ds)

    def _node_updated(self, old: Node, new: Node) -> None:
        # what decides eligibility: labels, taints, cordon (not the heartbeats)
        if _labels(old) != _labels(new) or old.spec != new.spec:
            self._enqueue_all()

    def _owner_key(self, namespace: str, ref: OwnerReference | None) -> str | None:
        """The key of the DaemonSet ``ref`` names, if the cache holds that very one."""
        if (
            ref is None
            or ref.kind != "DaemonSet"
            or not (ref.api_version or "").startswith("apps/")
        ):
            return None
        ds = self.daemonsets.get(f"{namespace}/{ref.name}")
        if ds is None or ds.metadata is None or ds.metadata.uid != ref.uid:
            return None
        return ds.key()

    def _matching(self, obj: Any) -> list[str]:
        labels = _labels(obj)
        keys = []
        for ds in self.daemonsets.by_index(NAMESPACE_INDEX, obj.namespace):
            selector = _selector(ds)
            if selector is not None and selector.matches(labels):
                keys.append(ds.key())
        return keys

    def _pod_added(self, pod: Pod) -> None:
        if plan_of.is_deleting(pod):
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
        if (
            old.metadata
            and new.metadata
            and old.metadata.resource_version == (new.metadata.resource_version)
        ):
            return
        if plan_of.is_deleting(new):
            self._pod_deleted(new)
            return
        old_ref, new_ref = controller_of(old), controller_of(new)
        for ref, pod in ((old_ref, old), (new_ref, new)):
            key = self._owner_key(pod.namespace, ref)
            if key is not None:
                self.queue.add(key)
                min_ready = self._min_ready(key)
                if min_ready > 0 and is_ready(new) and not is_ready(old):
                    self.queue.add_after(key, min_ready)
        if new_ref is None:
            for key in self._matching(new):
                self.queue.add(key)

    def _pod_deleted(self, pod: Pod) -> None:
        key = self._owner_key(pod.namespace, controller_of(pod))
        if key is not None:
            self.expectations.deletion_observed(key, pod.key())
            self.queue.add(key)

    def _revision_changed(self, revision: ControllerRevision) -> None:
        key = self._owner_key(revision.namespace, controller_of(revision))
        if key is not None:
            self.queue.add(key)

    def _min_ready(self, key: str) -> int:
        ds = self.daemonsets.get(key)
        return (ds.spec.min_ready_seconds if ds is not None and ds.spec else None) or 0

    # --- the sync -----------------------------------------------------------------------

    async def sync(self, key: str) -> float | None:
        ds = self.daemonsets.get(key)
        if ds is None:
            self.expectations.delete(key)
            return None
        selector = _selector(ds)
        if selector is None:
            await self.context.recorder.record(
                ds,
                "Warning",
                "SelectingAll",
                "This daemon set is selecting all pods. A non-empty selector is required.",
            )
            return None
        if ds.metadata and ds.metadata.deletion_timestamp:
            # its revisions may be going: the garbage collector takes the pods
            return None
        current, old, collisions = await self._history(ds, selector)
        hash_ = history.hash_of(current)
        pods = await self._claim_pods(ds, selector)
        per_node = plan_of.by_node(pods)
        nodes: list[Node] = self.nodes.list()
        placement = Placement.of(ds)
        now = time.time()
        available = plan_of.available_check(self._min_ready(key), now)
        acted = self.expectations.satisfied(key)
        error: SyncFailed | None = None
        again: float | None = None
        if acted:
            try:
                again = await self._update(ds, nodes, placement, per_node, hash_, available, old)
            except SyncFailed as exc:
                error = exc
            per_node = plan_of.by_node(await self._claim_pods(ds, selector))
        status, ready_wait = new_status(
            ds,
            nodes,
            placement,
            per_node,
            hash_,
            now,
            observed=acted,
            collision_count=collisions,
        )
        await self._write_status(ds, status)
        if error is not None:
            raise error  # after the status: the key is retried with its back-off
        waits = [w for w in (again, ready_wait) if w is not None]
        return min(waits) if waits else None

    async def _update(
        self,
        ds: DaemonSet,
        nodes: Sequence[Node],
        placement: Placement,
        per_node: dict[str, list[Pod]],
        hash_: str,
        available: plan_of.Available,
        old: Sequence[ControllerRevision],
    ) -> float | None:
        key = ds.key()
        strategy = ds.spec.update_strategy if ds.spec else None
        rolling = strategy.rolling_update if strategy else None
        budget = plan_of.Budget.of(
            sum(placement.should_run(n)[0] for n in nodes),
            rolling.max_unavailable if rolling else None,
            rolling.max_surge if rolling else None,
        )
        surge = bool(strategy and strategy.type == "RollingUpdate" and budget.max_surge > 0)
        now = time.monotonic()
        waits: list[float] = []

        def may_delete_failed(node: str) -> bool:
            until, delay = self._failed_backoff.get((key, node), (0.0, 0.0))
            if now < until:
                waits.append(until - now)
                return False
            low, high = FAILED_POD_BACKOFF
            delay = min(high, max(low, delay * 2))
            self._failed_backoff[(key, node)] = (now + delay, delay)
            return True

        decided = plan_of.manage(
            nodes,
            placement,
            per_node,
            hash_,
            surge=surge,
            available=available,
            may_delete_failed=may_delete_failed,
        )
        await self._carry_out(ds, decided, hash_)
        if self.expectations.satisfied(key) and strategy and strategy.type == "RollingUpdate":
            decided = plan_of.rolling_update(nodes, placement, per_node, hash_, budget, available)
            await self._carry_out(ds, decided, hash_)
        live = {plan_of.pod_hash(p) for pods in per_node.values() for p in pods}
        limit = ds.spec.revision_history_limit if ds.spec else None
        await history.truncate(self.client, old, 10 if limit is None else limit, live)
        return min(waits) if waits else None

    # --- history ------------------------------------------------------------------------

    async def _history(
        self, ds: DaemonSet, selector: Selector
    ) -> tuple[ControllerRevision, list[ControllerRevision], int | None]:
        template = api.dump(ds.spec.template) if ds.spec and ds.spec.template else {}
        data = history.template_patch(template)
        cached = self.revisions.by_index(NAMESPACE_INDEX, ds.namespace)
        revisions = await history.claim(self.client, ds, selector, cached)
        current, old = history.split(revisions, data)
        collisions = ds.status.collision_count if ds.status else None
        number = history.next_number(old)
        if current is None:
            current, collisions = await history.create(
                self.client,
                ds,
                data,
                number,
                collisions,
                template_labels=(template.get("metadata") or {}).get("labels"),
                annotations=ds.metadata.annotations if ds.metadata else None,
            )
            self.log.bind(daemonset=ds.key(), revision=current.name).info("revision created")
        elif history.number(current) < number:
            current = await history.renumber(self.client, current, number)
        return current, old, collisions

    # --- pods: claim, create, delete ----------------------------------------------------

    async def _claim_pods(self, ds: DaemonSet, selector: Selector) -> list[Pod]:
        """The DaemonSet's pods (finished ones being deleted left out): its own that
        still match, plus matching orphans it adopts; its own that no longer match are
        released."""
        uid = ds.metadata.uid if ds.metadata else None
        owned: list[Pod] = []
        failure: ApiException | None = None
        for pod in self.pods.by_index(NAMESPACE_INDEX, ds.namespace):
            phase = pod.status.phase if pod.status else None
            if plan_of.is_deleting(pod) and phase in ("Succeeded", "Failed"):
                continue
            matches = selector.matches(_labels(pod))
            ref = controller_of(pod)
            try:
                if ref is not None:
                    if ref.uid != uid:
                        continue
                    if matches:
                        owned.append(pod)
                    elif not plan_of.is_deleting(pod):
                        await self._release(ds, pod)
                elif matches and not plan_of.is_deleting(pod):
                    owned.append(await self._adopt(ds, pod))
            except NotFound:
                continue
            except ApiException as exc:
                failure = failure or exc
        if failure is not None:
            raise SyncFailed(f"claiming pods: {failure}") from failure
        return owned

    async def _adopt(self, ds: DaemonSet, pod: Pod) -> Pod:
        adopted: Pod = await claiming.adopt(self.client.pods, ds, pod)
        self.log.bind(daemonset=ds.key(), pod=pod.name).info("adopted an orphan pod")
        return adopted

    async def _release(self, ds: DaemonSet, pod: Pod) -> None:
        await claiming.release(self.client.pods, ds, pod)
        self.log.bind(daemonset=ds.key(), pod=pod.name).info(
            "released a pod that no longer matches"
        )

    async def _carry_out(self, ds: DaemonSet, decided: plan_of.Plan, hash_: str) -> None:
        burst = self.options.burst_replicas
        create, delete = decided.create_on[:burst], decided.delete[:burst]
        if not create and not delete:
            return
        key = ds.key()
        victims = [f"{ds.namespace}/{name}" for name in delete]
        # before the calls: their events may arrive before the calls return
        self.expectations.expect_deletions(key, of=victims)
        self.expectations.raise_(key, add=len(create))
        self.log.bind(daemonset=key, create=len(create), delete=len(delete)).info(
            "syncing daemon pods"
        )
        failures = await self._create(ds, create, hash_)
        failures += await asyncio.gather(*(self._delete(ds, name) for name in delete))
        errors = [e for e in failures if e is not None]
        if errors:
            raise SyncFailed(str(errors[0])) from errors[0]

    async def _create(
        self, ds: DaemonSet, nodes: Sequence[str], hash_: str
    ) -> list[ApiException | None]:
        """Create the pods in slow-start batches (1, 2, 4 …), stopping after the first
        batch with a failure: one bad template is refused once, not once per node."""
        key = ds.key()
        results: list[ApiException | None] = []
        start, batch = 0, 1
        while start < len(nodes):
            chunk = nodes[start : start + batch]
            outcome = await asyncio.gather(*(self._create_one(ds, n, hash_) for n in chunk))
            results.extend(outcome)
            start += len(chunk)
            if any(e is not None for e in outcome):
                break
            batch *= 2
        never = len(nodes) - start + sum(e is not None for e in results)
        if never:
            self.expectations.lower(key, add=never)  # never going to be observed
        return results

    async def _create_one(self, ds: DaemonSet, node: str, hash_: str) -> ApiException | None:
        try:
            pod = await self.client.pods.create(pod_for_node(ds, node, hash_), ds.namespace)
        except ApiException as exc:
            await self.context.recorder.record(
                ds, "Warning", "FailedCreate", f"Error creating: {exc}"
            )
            return exc
        await self.context.recorder.record(
            ds, "Normal", "SuccessfulCreate", f"Created pod: {pod.name}"
        )
        return None

    async def _delete(self, ds: DaemonSet, name: str) -> ApiException | None:
        key = ds.key()
        pod = self.pods.get(f"{ds.namespace}/{name}")
        uid = pod.metadata.uid if pod is not None and pod.metadata else None
        try:
            await self.client.pods.delete(name, ds.namespace, uid=uid)
        except ApiException as exc:
            self.expectations.deletion_observed(key, f"{ds.namespace}/{name}")
            if isinstance(exc, NotFound | Conflict):
                return None
            await self.context.recorder.record(
                ds, "Warning", "FailedDelete", f"Error deleting: {exc}"
            )
            return exc
        await self.context.recorder.record(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")
        return None

    # --- status ---------------------------------------------------------------------------

    async def _write_status(self, ds: DaemonSet, status: dict[str, Any]) -> None:
        for attempt in range(2):
            if unchanged(ds, status):
                return
            body = api.dump(ds)
            body["status"] = status
            try:
                await self.client.daemonsets.update_status(body, ds.namespace)
                return
            except Conflict:
                if attempt:
                    raise
            except NotFound:
                return
            ds = await self.client.daemonsets.get(ds.name, ds.namespace)
