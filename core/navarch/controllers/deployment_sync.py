"""One sync of one Deployment (:class:`DeploymentSync`): finding its new and old
ReplicaSets, creating the new one, scaling them for a rollout (RollingUpdate or
Recreate) or a resize, revisions, clean-up and the status written at the end. The
controller (deployment.py) decides which of these a sync does.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from navarch import api
from navarch.client.errors import AlreadyExists, NotFound
from navarch.controllers import deployment_history as history
from navarch.controllers import deployment_rolling as rolling
from navarch.controllers import deployment_status as status_of
from navarch.controllers.owners import controller_of, owner_reference

if TYPE_CHECKING:
    from navarch.controllers.deployment import DeploymentController

SCALING_REPLICA_SET = "ScalingReplicaSet"
TERMINAL_PHASES = ("Succeeded", "Failed")


def plain(obj: Any) -> dict[str, Any]:
    return copy.deepcopy(obj) if isinstance(obj, dict) else api.dump(obj)


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.setdefault("metadata", {})


class DeploymentSync:
    """One sync of one Deployment: ``d`` is a private copy kept up to date with what
    this sync wrote."""

    def __init__(self, controller: DeploymentController, cached: Any, d: dict[str, Any]):
        self.c = controller
        self.cached = cached
        self.d = d
        self.ns = cached.namespace
        self.log = controller.log.bind(deployment=cached.key())
        # the ReplicaSets as this sync wrote them (the caches are a step behind)
        self._written: dict[str, dict[str, Any]] = {}

    # --- writes -------------------------------------------------------------------

    async def _update_rs(self, rs: dict[str, Any]) -> dict[str, Any]:
        return plain(await self.c.client.replicasets.update(rs, self.ns))

    async def _write_status(self, status: dict[str, Any]) -> None:
        if status_of.same_status(self.d.get("status") or {}, status):
            return
        body = copy.deepcopy(self.d)
        body["status"] = status
        self.d = plain(await self.c.client.deployments.update_status(body, self.ns))

    async def _record_scaling(self, rs: dict[str, Any], before: int, after: int) -> None:
        way = "up" if after > before else "down"
        await self.c.context.recorder.record(
            self.cached,
            "Normal",
            SCALING_REPLICA_SET,
            f"Scaled {way} replica set {rs['metadata']['name']} from {before} to {after}",
        )

    async def scale_rs(self, rs: dict[str, Any], size: int) -> tuple[bool, dict[str, Any]]:
        """Set ``rs`` to ``size`` replicas with current desired/max annotations;
        whether its size changed, and the ReplicaSet as stored."""
        before = rolling.replicas_of(rs)
        surge = rolling.max_surge(self.d)
        if before == size and history.replica_annotations_current(rs, self.d, surge):
            return False, rs
        body = copy.deepcopy(rs)
        body["spec"]["replicas"] = size
        annotations = dict(meta(body).get("annotations") or {})
        desired = rolling.replicas_of(self.d)
        annotations[rolling.DESIRED_REPLICAS] = str(desired)
        annotations[rolling.MAX_REPLICAS] = str(desired + surge)
        meta(body)["annotations"] = annotations
        stored = await self._update_rs(body)
        if before != size:
            self.log.bind(replicaset=rs["metadata"]["name"], replicas=size).info(
                "scaled replica set"
            )
            await self._record_scaling(rs, before, size)
        return before != size, stored

    # --- the new ReplicaSet and revisions -----------------------------------------

    async def new_and_old(
        self, all_rs: list[dict[str, Any]], *, create: bool
    ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The ReplicaSet of the current template (created if ``create``) and the
        others; the new one's revision is the highest so far plus one."""
        all_rs = [self._fresh(rs) or rs for rs in all_rs]
        new = history.find_new(self.d, all_rs)
        old = [
            rs for rs in all_rs if new is None or rs["metadata"]["uid"] != new["metadata"]["uid"]
        ]
        revision = max((history.revision_of(rs) for rs in old), default=0) + 1
        surge = rolling.max_surge(self.d)
        if new is not None:
            body = copy.deepcopy(new)
            changed = history.annotate(body, self.d, revision)
            min_ready = (self.d["spec"]).get("minReadySeconds")
            if body["spec"].get("minReadySeconds") != min_ready:
                body["spec"]["minReadySeconds"] = min_ready
                changed = True
            if changed:
                new = self._remember(await self._update_rs(body))
            await self._set_revision(history.revision_of(new))
            if status_of.has_deadline(self.d):
                status = copy.deepcopy(self.d.get("status") or {})
                if status_of.condition(status, status_of.PROGRESSING) is None:
                    status_of.set_condition(
                        status,
                        status_of.new_condition(
                            status_of.PROGRESSING,
                            "True",
                            status_of.FOUND_NEW_RS,
                            f'Found new replica set "{new["metadata"]["name"]}"',
                        ),
                    )
                    await self._write_status(status)
            return new, old
        if not create:
            return None, old
        new = await self._create_new(all_rs, revision, surge)
        if new is None:
            return None, old
        await self._set_revision(revision)
        return new, old

    async def _create_new(
        self, all_rs: list[dict[str, Any]], revision: int, surge: int
    ) -> dict[str, Any] | None:
        spec = self.d["spec"]
        collisions = (self.d.get("status") or {}).get("collisionCount")
        template = copy.deepcopy(spec["template"])
        pod_hash = history.template_hash(template, collisions)
        tmeta = template.setdefault("metadata", {})
        tmeta["labels"] = {**(tmeta.get("labels") or {}), history.HASH_LABEL: pod_hash}
        selector = copy.deepcopy(spec["selector"])
        selector["matchLabels"] = {
            **(selector.get("matchLabels") or {}),
            history.HASH_LABEL: pod_hash,
        }
        name = f"{self.d['metadata']['name']}-{pod_hash}"
        rs: dict[str, Any] = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": self.ns,
                "labels": dict(tmeta["labels"]),
                "ownerReferences": [owner_reference(self.cached)],
            },
            "spec": {"replicas": 0, "selector": selector, "template": template},
        }
        if spec.get("minReadySeconds") is not None:
            rs["spec"]["minReadySeconds"] = spec["minReadySeconds"]
        history.annotate(rs, self.d, revision, surge)
        rs["spec"]["replicas"] = rolling.new_rs_target(self.d, all_rs, None)
        try:
            created = plain(await self.c.client.replicasets.create(rs, self.ns))
        except AlreadyExists:
            return await self._name_taken(name, template)
        size = rolling.replicas_of(created)
        self.log.bind(replicaset=name, replicas=size, revision=revision).info(
            "created new replica set"
        )
        if size > 0:
            await self._record_scaling(created, 0, size)
        if status_of.has_deadline(self.d):
            status = copy.deepcopy(self.d.get("status") or {})
            status_of.remove_condition(status, status_of.PROGRESSING)
            status_of.set_condition(
                status,
                status_of.new_condition(
                    status_of.PROGRESSING,
                    "True",
                    status_of.NEW_RS_CREATED,
                    f'Created new replica set "{name}"',
                ),
            )
            await self._write_status(status)
        return created

    async def _name_taken(self, name: str, template: dict[str, Any]) -> dict[str, Any] | None:
        """Our cache was behind (the ReplicaSet is ours, of this template: use it) or
        the hash collides with someone else's ReplicaSet: count the collision, which
        changes the hash next time, and look again."""
        try:
            found = await self.c.client.replicasets.get(name, self.ns)
        except NotFound:
            raise RuntimeError(f"replica set {name} existed and then did not; retrying") from None
        ref = controller_of(found)
        ours = ref is not None and ref.uid == self.d["metadata"]["uid"]
        existing = plain(found)
        if ours and history.same_template(existing["spec"].get("template"), template):
            return existing
        status = copy.deepcopy(self.d.get("status") or {})
        status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
        await self._write_status(status)
        self.log.bind(replicaset=name, collision_count=status["collisionCount"]).warning(
            "pod-template-hash collision; trying the next hash"
        )
        raise RuntimeError(f"replica set {name} exists and is not this template's; retrying")

    async def _set_revision(self, revision: int) -> None:
        annotations = dict(meta(self.d).get("annotations") or {})
        if annotations.get(history.REVISION) == str(revision):
            return
        annotations[history.REVISION] = str(revision)
        body = copy.deepcopy(self.d)
        body["metadata"]["annotations"] = annotations
        self.d = plain(await self.c.client.deployments.update(body, self.ns))

    # --- what kind of sync ------------------------------------------------------

    async def check_paused(self) -> None:
        """A pause or resume shows in the Progressing condition (Unknown), which also
        keeps a paused rollout from timing out."""
        if not status_of.has_deadline(self.d):
            return
        status = copy.deepcopy(self.d.get("status") or {})
        cond = status_of.condition(status, status_of.PROGRESSING)
        if cond is not None and cond.get("reason") == status_of.TIMED_OUT:
            return
        paused_shown = cond is not None and cond.get("reason") == status_of.PAUSED
        paused = bool(self.d["spec"].get("paused"))
        if paused and not paused_shown:
            new = status_of.new_condition(
                status_of.PROGRESSING, "Unknown", status_of.PAUSED, "Deployment is paused"
            )
        elif not paused and paused_shown:
            new = status_of.new_condition(
                status_of.PROGRESSING, "Unknown", status_of.RESUMED, "Deployment is resumed"
            )
        else:
            return
        status_of.set_condition(status, new)
        await self._write_status(status)

    async def scaling_event(self, all_rs: list[dict[str, Any]]) -> bool:
        """Whether only the size changed: an active ReplicaSet was sized for other
        desired replicas than the Deployment's now."""
        new, old = await self.new_and_old(all_rs, create=False)
        desired = str(rolling.replicas_of(self.d))
        for rs in [*([new] if new else []), *old]:
            if rolling.replicas_of(rs) <= 0:
                continue
            annotated = (rs["metadata"].get("annotations") or {}).get(rolling.DESIRED_REPLICAS)
            if annotated is not None and annotated != desired:
                return True
        return False

    async def status_only(self, all_rs: list[dict[str, Any]]) -> None:
        new, _ = await self.new_and_old(all_rs, create=False)
        await self._write_status(status_of.calculate(self.d, self.current(all_rs), new))

    def current(self, all_rs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The owned ReplicaSets as this sync last wrote them."""
        return [self._written.get(rs["metadata"]["name"], rs) for rs in all_rs] + [
            rs
            for name, rs in self._written.items()
            if name not in {r["metadata"]["name"] for r in all_rs}
        ]

    def _remember(self, rs: dict[str, Any]) -> dict[str, Any]:
        self._written[rs["metadata"]["name"]] = rs
        return rs

    # --- scaling (a resize, or a paused Deployment) -----------------------------

    async def scale_only(self, all_rs: list[dict[str, Any]]) -> float | None:
        new, old = await self.new_and_old(all_rs, create=False)
        if new is not None:
            self._remember(new)
        await self.scale(new, old)
        if self.d["spec"].get("paused"):
            await self.clean_up(old)
        rs_now = self.current(all_rs)
        await self._write_status(status_of.calculate(self.d, rs_now, self._fresh(new)))
        return None

    def _fresh(self, rs: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if rs is None else self._written.get(rs["metadata"]["name"], rs)

    async def scale(self, new: dict[str, Any] | None, old: list[dict[str, Any]]) -> None:
        desired = rolling.replicas_of(self.d)
        active = [rs for rs in ([new] if new else []) + old if rolling.replicas_of(rs) > 0]
        if len(active) <= 1:
            target = active[0] if active else (new or max(old, key=history.created, default=None))
            if target is not None:
                _, stored = await self.scale_rs(target, desired)
                self._remember(stored)
            return
        if (
            new is not None
            and rolling.replicas_of(new) == desired
            and status_of.status_count(new, "availableReplicas") >= desired
        ):
            # the new ReplicaSet is saturated: the old ones can go
            for rs in old:
                if rolling.replicas_of(rs) > 0:
                    _, stored = await self.scale_rs(rs, 0)
                    self._remember(stored)
            return
        if rolling.strategy_type(self.d) != rolling.ROLLING_UPDATE:
            return
        sizes = rolling.proportional_sizes(self.d, active, new)
        for rs in active:
            size = sizes.get(rs["metadata"]["name"], rolling.replicas_of(rs))
            _, stored = await self.scale_rs(rs, size)
            self._remember(stored)

    async def clean_up(self, old: list[dict[str, Any]]) -> None:
        limit = self.d["spec"].get("revisionHistoryLimit")
        if limit is None:
            return
        for rs in history.to_clean_up([self._fresh(rs) or rs for rs in old], limit):
            name = rs["metadata"]["name"]
            try:
                await self.c.client.replicasets.delete(name, self.ns, uid=rs["metadata"]["uid"])
            except NotFound:
                continue
            self.log.bind(replicaset=name, revision=history.revision_of(rs)).info(
                "old replica set past revisionHistoryLimit removed"
            )

    # --- rollouts -----------------------------------------------------------------

    async def progress(
        self, all_rs: list[dict[str, Any]], new: dict[str, Any] | None
    ) -> float | None:
        rs_now = self.current(all_rs)
        status = status_of.rollout_status(self.d, rs_now, self._fresh(new))
        await self._write_status(status)
        return status_of.recheck_after(self.d, status)

    async def rolling_update(self, all_rs: list[dict[str, Any]]) -> float | None:
        new, old = await self.new_and_old(all_rs, create=True)
        if new is None:
            return None
        self._remember(new)
        every = [new, *old]
        # the new ReplicaSet up as far as maxSurge allows
        desired = rolling.replicas_of(self.d)
        size = rolling.replicas_of(new)
        target = desired if size > desired else rolling.new_rs_target(self.d, every, new)
        if target != size:
            changed, stored = await self.scale_rs(new, target)
            self._remember(stored)
            if changed:
                return await self.progress(every, new)
        # the old ones down as far as maxUnavailable allows
        if await self._scale_down_old(new, old):
            return await self.progress(every, new)
        status = status_of.calculate(self.d, self.current(every), self._fresh(new))
        if status_of.complete(self.d, status):
            await self.clean_up(old)
        return await self.progress(every, new)

    async def _scale_down_old(self, new: dict[str, Any], old: list[dict[str, Any]]) -> bool:
        if sum(rolling.replicas_of(rs) for rs in old) == 0:
            return False
        new = self._fresh(new) or new
        budget = rolling.max_old_scale_down(self.d, [new, *old], new)
        if budget <= 0:
            return False
        scaled = False
        # unavailable old replicas first: removing them costs no availability
        sizes = rolling.unhealthy_cleanup(old, budget)
        cleaned = sum(
            rolling.replicas_of(rs) - sizes[rs["metadata"]["name"]]
            for rs in old
            if rs["metadata"]["name"] in sizes
        )
        old_now = []
        for rs in old:
            name = rs["metadata"]["name"]
            if name in sizes:
                changed, rs = await self.scale_rs(rs, sizes[name])
                scaled = scaled or changed
                # its unavailable replicas are gone; what it has left is available
                rs = self._remember(rs)
            old_now.append(rs)
        if cleaned >= budget:
            return scaled
        every = [new, *old_now]
        limit = budget - cleaned
        for name, size in rolling.available_scale_down(self.d, every, old_now, limit).items():
            rs = next(r for r in old_now if r["metadata"]["name"] == name)
            changed, stored = await self.scale_rs(rs, size)
            self._remember(stored)
            scaled = scaled or changed
        return scaled

    async def recreate(self, all_rs: list[dict[str, Any]]) -> float | None:
        new, old = await self.new_and_old(all_rs, create=False)
        every = ([new] if new else []) + old
        scaled_down = False
        for rs in old:
            if rolling.replicas_of(rs) > 0:
                changed, stored = await self.scale_rs(rs, 0)
                self._remember(stored)
                scaled_down = scaled_down or changed
        if scaled_down:
            return await self.progress(every, new)
        if self._old_pods_running(old):
            return await self.progress(every, new)
        if new is None:
            new, old = await self.new_and_old(all_rs, create=True)
            if new is None:
                return None
            every = [new, *old]
        self._remember(new)
        _, stored = await self.scale_rs(new, rolling.replicas_of(self.d))
        self._remember(stored)
        status = status_of.calculate(self.d, self.current(every), self._fresh(new))
        if status_of.complete(self.d, status):
            await self.clean_up(old)
        return await self.progress(every, new)

    def _old_pods_running(self, old: list[dict[str, Any]]) -> bool:
        """Whether any pod of an old ReplicaSet is still there and not finished."""
        if any(status_of.status_count(rs, "replicas") > 0 for rs in old):
            return True
        uids = {rs["metadata"]["uid"] for rs in old}
        for pod in self.c.pods.by_index("namespace", self.ns):
            ref = controller_of(pod)
            if ref is None or ref.uid not in uids:
                continue
            phase = pod.status.phase if pod.status else None
            if phase not in TERMINAL_PHASES:
                return True
        return False
