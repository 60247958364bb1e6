"""The Deployment controller (Kubernetes' deployment controller): one ReplicaSet per
pod template, named ``<deployment>-<pod-template-hash>`` and selecting its pods by
that label; a template change rolls the pods over to a new ReplicaSet, by
RollingUpdate (within maxSurge and maxUnavailable) or Recreate (old pods gone first);
a resize is shared out between the ReplicaSets of a rollout in progress; status,
conditions, revisions and the ReplicaSets kept for ``rollout undo`` follow.

One sync's steps are in :mod:`deployment_sync`, the maths in
:mod:`deployment_rolling`, the status in :mod:`deployment_status`, hashes, revisions
and clean-up in :mod:`deployment_history`. The ReplicaSet controller makes the pods.
"""

from __future__ import annotations

from typing import Any

from navarch.controllers import deployment_claim as claiming
from navarch.controllers import deployment_rolling as rolling
from navarch.controllers.base import QueueController
from navarch.controllers.context import ControllerContext
from navarch.controllers.deployment_sync import (
    DeploymentSync,
    meta,
    plain,
)
from navarch.controllers.owners import controller_of

NAME = "deployment"


class DeploymentController(QueueController):
    def __init__(self, context: ControllerContext):
        super().__init__(context)
        self.deployments = context.informers.informer("deployments")
        self.replicasets = context.informers.informer("replicasets")
        self.pods = context.informers.informer("pods")
        self.deployments.add_handler(
            on_add=self.enqueue,
            on_update=lambda old, new: self.enqueue(new),
            on_delete=self.enqueue,
        )
        self.replicasets.add_handler(
            on_add=self._rs_changed,
            on_update=self._rs_updated,
            on_delete=self._rs_changed,
        )
        self.pods.add_handler(on_delete=self._pod_deleted)

    # --- handlers: a ReplicaSet or pod change queues its Deployment -----------------

    def _rs_changed(self, rs: Any) -> None:
        ref = controller_of(rs)
        if ref is not None:
            if ref.kind == "Deployment":
                self.queue.add(f"{rs.namespace}/{ref.name}")
            return
        # an orphan: the Deployments that would adopt it
        for d in self.deployments.by_index("namespace", rs.namespace):
            selector = claiming.selector_of(d)
            if selector is not None and selector.matches(rs.labels):
                self.enqueue(d)

    def _rs_updated(self, old: Any, new: Any) -> None:
        self._rs_changed(new)
        before = controller_of(old)
        if before is not None and before != controller_of(new):
            self._rs_changed(old)

    def _pod_deleted(self, pod: Any) -> None:
        """A Recreate rollout waits for the old pods to be gone."""
        ref = controller_of(pod)
        if ref is None or ref.kind != "ReplicaSet":
            return
        rs = self.replicasets.get(f"{pod.namespace}/{ref.name}")
        if rs is not None:
            self._rs_changed(rs)

    # --- sync -----------------------------------------------------------------------

    async def sync(self, key: str) -> float | None:
        cached = self.deployments.get(key)
        if cached is None:
            return None  # its ReplicaSets go with it (garbage collection, ownerReferences)
        d = plain(cached)
        if claiming.selector_of(cached) is None:
            self.log.bind(deployment=key).warning(
                "a Deployment without a valid, non-empty selector: left alone"
            )
            return None
        run = DeploymentSync(self, cached, d)
        all_rs = [
            plain(rs)
            for rs in await claiming.claim(
                self.client,
                cached,
                self.replicasets.by_index("namespace", cached.namespace),
                run.log,
            )
        ]
        if meta(d).get("deletionTimestamp"):
            await run.status_only(all_rs)
            return None
        await run.check_paused()
        if (d.get("spec") or {}).get("paused"):
            return await run.scale_only(all_rs)
        if await run.scaling_event(all_rs):
            return await run.scale_only(all_rs)
        if rolling.strategy_type(d) == rolling.RECREATE:
            return await run.recreate(all_rs)
        return await run.rolling_update(all_rs)
