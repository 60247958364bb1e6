"""The StatefulSet controller: pods with a stable identity and storage of their own,
as Kubernetes' pkg/controller/statefulset keeps them.

A sync claims the set's pods (its own that its selector still matches; orphans it
matches whose names are ``<set>-<ordinal>`` are adopted, as ``isMemberOf`` allows),
finds its revisions (``controllers.history``: the update revision holds the set's
template now, made when new, renumbered after a ``kubectl rollout undo``; the current
one is the status' ``currentRevision``), runs one pass of
:mod:`navarch.controllers.statefulset_control`, writes the status (the current
revision becomes the update one once a rolling update has every pod updated and
ready, completeRollingUpdate), and lets the oldest revisions go past
``revisionHistoryLimit``.

It looks again when a Ready pod will have been so for ``minReadySeconds``, and soon
when a pass waited for its cache or for a claim being deleted.
"""

from __future__ import annotations

from typing import Any

import attrs

from navarch import api
from navarch.api.apps_v1 import ControllerRevision, StatefulSet
from navarch.api.core_v1 import Pod
from navarch.api.field_checks import validate_label_selector
from navarch.api.meta import OwnerReference
from navarch.api.selectors import Selector
from navarch.client.errors import ApiException, Conflict, NotFound
from navarch.client.sharedinformers import NAMESPACE_INDEX
from navarch.controllers import claiming, history
from navarch.controllers import statefulset_pods as sp
from navarch.controllers.base import QueueController
from navarch.controllers.context import ControllerContext
from navarch.controllers.owners import controller_of
from navarch.controllers.replicaset_pods import labels_of
from navarch.controllers.statefulset_control import Pass, Revision, run

NAME = "statefulset"
# How soon a pass that waited for its cache (a create that raced it) or for a claim
# being deleted looks again.
RETRY_SOON_SECONDS = 1.0
_STATUS_FIELDS = (
    "observedGeneration",
    "replicas",
    "readyReplicas",
    "currentReplicas",
    "updatedReplicas",
    "currentRevision",
    "updateRevision",
    "collisionCount",
    "availableReplicas",
)


@attrs.frozen(kw_only=True)
class StatefulSetOptions:
    workers: int = attrs.field(
        default=5,
        validator=attrs.validators.ge(1),
        metadata={"help": "StatefulSets synced at once."},
    )


def selector_of(sts: StatefulSet) -> Selector | None:
    """The set's selector; None when it has none or it is invalid (selects nothing)."""
    selector = sts.spec.selector if sts.spec else None
    if selector is None:
        return None
    errors, parsed = validate_label_selector(selector, "spec.selector")
    return None if errors or parsed is None or parsed.is_empty() else parsed


class StatefulSetController(QueueController):
    def __init__(self, context: ControllerContext):
        super().__init__(context)
        self.options: StatefulSetOptions = context.options or StatefulSetOptions()
        self.workers = self.options.workers
        self.sets = context.informers.informer("statefulsets")
        self.pods = context.informers.informer("pods")
        self.revisions = context.informers.informer("controllerrevisions")
        self.claims = context.informers.informer("persistentvolumeclaims")
        self.sets.add_handler(
            on_add=self.enqueue,
            on_update=lambda old, new: self.enqueue(new),
            on_delete=self.enqueue,
        )
        self.pods.add_handler(
            on_add=self._pod_changed,
            on_update=self._pod_updated,
            on_delete=self._pod_changed,
        )
        self.claims.add_handler(
            on_add=self._claim_changed,
            on_update=lambda old, new: self._claim_changed(new),
            on_delete=self._claim_changed,
        )

    # --- handlers: changes to keys ------------------------------------------------------

    def _owner_key(self, namespace: str, ref: OwnerReference | None) -> str | None:
        if (
            ref is None
            or ref.kind != "StatefulSet"
            or not (ref.api_version or "").startswith("apps/")
        ):
            return None
        sts = self.sets.get(f"{namespace}/{ref.name}")
        if sts is None or (sts.metadata.uid if sts.metadata else None) != ref.uid:
            return None
        return sts.key()

    def _pod_changed(self, pod: Pod) -> None:
        key = self._owner_key(pod.namespace, controller_of(pod))
        if key is not None:
            self.queue.add(key)
            return
        if controller_of(pod) is None:  # an orphan: the sets that may adopt it
            for sts in self.sets.by_index(NAMESPACE_INDEX, pod.namespace):
                selector = selector_of(sts)
                if (
                    selector is not None
                    and selector.matches(labels_of(pod))
                    and sp.is_member(sts, pod)
                ):
                    self.queue.add(sts.key())

    def _pod_updated(self, old: Pod, new: Pod) -> None:
        if (
            old.metadata
            and new.metadata
            and old.metadata.resource_version == new.metadata.resource_version
        ):
            return  # a re-list's copy of the same version
        if controller_of(old) != controller_of(new) or labels_of(old) != labels_of(new):
            self._pod_changed(old)
        self._pod_changed(new)
        key = self._owner_key(new.namespace, controller_of(new))
        if key is not None and not sp.is_running_and_ready(old) and sp.is_running_and_ready(new):
            min_ready = self._min_ready(key)
            if min_ready > 0:
                self.queue.add_after(key, min_ready)  # when it will count as available

    def _claim_changed(self, claim: Any) -> None:
        for ref in (claim.metadata.owner_references if claim.metadata else None) or ():
            key = self._owner_key(claim.namespace, ref)
            if key is not None:
                self.queue.add(key)

    def _min_ready(self, key: str) -> int:
        sts = self.sets.get(key)
        return ((sts.spec.min_ready_seconds if sts and sts.spec else None) or 0) if sts else 0

    # --- the sync -----------------------------------------------------------------------

    async def sync(self, key: str) -> float | None:
        sts = self.sets.get(key)
        if sts is None:
            return None
        log = self.log.bind(statefulset=key)
        selector = selector_of(sts)
        if selector is None:
            log.warning("the StatefulSet's selector is missing or invalid: it selects no pods")
            return None
        pods = await self._claim_pods(sts, selector)
        revisions = await history.claim(
            self.client,
            sts,
            selector,
            self.revisions.by_index(NAMESPACE_INDEX, sts.namespace),
        )
        current, update, collisions = await self._revisions(sts, revisions)
        work = Pass(
            sts=sts,
            pods=pods,
            claims=lambda name: self.claims.get(f"{sts.namespace}/{name}"),
            current=current,
            update=update,
            client=self.client,
            recorder=self.context.recorder,
            log=log,
        )
        counted = await run(work)
        status = self._status(sts, counted, current, update, collisions)
        await self._write_status(sts, status)
        live = {current.name, update.name, *(sp.revision_of(p) for p in pods)}
        old = [r for r in revisions if r.name not in live]
        limit = sts.spec.revision_history_limit if sts.spec else None
        await history.truncate(self.client, old, 10 if limit is None else limit)
        min_ready = (sts.spec.min_ready_seconds if sts.spec else None) or 0
        if work.retry_soon:
            return RETRY_SOON_SECONDS
        if min_ready > 0 and counted["readyReplicas"] != counted["availableReplicas"]:
            return float(min_ready)
        return None

    # --- pods: adopt the orphans, release what no longer matches ------------------------

    async def _claim_pods(self, sts: StatefulSet, selector: Selector) -> list[Pod]:
        uid = sts.metadata.uid if sts.metadata else None
        deleting = bool(sts.metadata and sts.metadata.deletion_timestamp)
        owned: list[Pod] = []
        failure: ApiException | None = None
        for pod in self.pods.by_index(NAMESPACE_INDEX, sts.namespace):
            ref = controller_of(pod)
            matches = selector.matches(labels_of(pod)) and sp.is_member(sts, pod)
            try:
                if ref is not None:
                    if ref.uid != uid:
                        continue
                    if matches:
                        owned.append(pod)
                    elif not deleting:
                        await self._release(sts, pod)
                elif matches and not deleting and not sp.is_terminating(pod):
                    owned.append(await self._adopt(sts, pod))
            except NotFound:
                continue
            except ApiException as exc:
                failure = failure or exc
        if failure is not None:
            raise failure
        return owned

    async def _adopt(self, sts: StatefulSet, pod: Pod) -> Pod:
        adopted: Pod = await claiming.adopt(self.client.pods, sts, pod)
        self.log.bind(statefulset=sts.key(), pod=pod.name).info("adopted an orphan pod")
        return adopted

    async def _release(self, sts: StatefulSet, pod: Pod) -> None:
        await claiming.release(self.client.pods, sts, pod)
        self.log.bind(statefulset=sts.key(), pod=pod.name).info(
            "released a pod that no longer matches"
        )

    # --- revisions ------------------------------------------------------------------------

    async def _revisions(
        self, sts: StatefulSet, revisions: list[ControllerRevision]
    ) -> tuple[Revision, Revision, int | None]:
        """The current and update revisions, and the collision count the update one's
        name took (getStatefulSetRevisions)."""
        template = api.dump(sts)["spec"]["template"]
        data = history.template_patch(template)
        matching, old = history.split(revisions, data)
        number = history.next_number(old)
        collisions = sts.status.collision_count if sts.status else None
        if matching is None:
            labels = dict(((template.get("metadata") or {}).get("labels")) or {})
            matching, collisions = await history.create(
                self.client, sts, data, number, collisions, template_labels=labels
            )
            self.log.bind(statefulset=sts.key(), revision=matching.name).info("new revision")
        elif history.number(matching) < number:
            matching = await history.renumber(self.client, matching, number)  # an undo
        update = Revision(matching.name or "", history.template_of(matching))
        wanted = sts.status.current_revision if sts.status else None
        current = next((r for r in revisions if r.name == wanted), None)
        if current is None or current.name == update.name:
            return update, update, collisions
        return Revision(current.name or "", history.template_of(current)), update, collisions

    # --- status ---------------------------------------------------------------------------

    def _status(
        self,
        sts: StatefulSet,
        counted: dict[str, Any],
        current: Revision,
        update: Revision,
        collisions: int | None,
    ) -> dict[str, Any]:
        status: dict[str, Any] = {
            "observedGeneration": sts.metadata.generation if sts.metadata else None,
            **counted,
            "currentRevision": current.name,
            "updateRevision": update.name,
            "collisionCount": collisions or 0,
        }
        strategy = sts.spec.update_strategy if sts.spec else None
        if (
            (strategy.type if strategy else "RollingUpdate") == "RollingUpdate"
            and status["updatedReplicas"] == status["replicas"]
            and status["readyReplicas"] == status["replicas"]
        ):
            # completeRollingUpdate: every pod runs the update revision, and is ready
            status["currentReplicas"] = status["updatedReplicas"]
            status["currentRevision"] = status["updateRevision"]
        old = api.dump(sts.status) if sts.status else {}
        if old.get("conditions"):
            status["conditions"] = old["conditions"]
        return status

    async def _write_status(self, sts: StatefulSet, status: dict[str, Any]) -> None:
        for attempt in range(2):
            old = api.dump(sts.status) if sts.status else {}
            if all(old.get(f) == status.get(f) for f in _STATUS_FIELDS):
                return
            body = api.dump(sts)
            body["status"] = status
            try:
                await self.client.statefulsets.update_status(body, sts.namespace)
                return
            except Conflict:
                if attempt:
                    raise
            except NotFound:
                return
            sts = await self.client.statefulsets.get(sts.name, sts.namespace)
