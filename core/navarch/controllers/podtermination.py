"""Pod termination: a pod whose grace period has run out without its agent confirming
that it stopped (the node is dead, or the agent is) is removed, so that its name is
free and what replaces it is not held up.

Kubernetes leaves such a pod Terminating until its node comes back or is deleted;
Navarch removes it at ``deletionTimestamp`` (when the grace period ends). The
deletion names the pod's uid, so a new pod created under the same name meanwhile is
never taken for the old one.
"""

from __future__ import annotations

import time
from typing import Any

from navarch.api.timefmt import parse_rfc3339
from navarch.client.errors import Conflict, NotFound
from navarch.controllers.base import QueueController
from navarch.controllers.context import ControllerContext

NAME = "pod-termination"


class PodTerminationController(QueueController):
    def __init__(self, context: ControllerContext):
        super().__init__(context)
        self.pods = context.informers.informer("pods")
        self.pods.add_handler(on_add=self._changed, on_update=lambda old, new: self._changed(new))

    def _changed(self, pod: Any) -> None:
        if pod.metadata.deletion_timestamp:
            self.queue.add_after(pod.key(), _seconds_left(pod))

    async def sync(self, key: str) -> float | None:
        pod = self.pods.get(key)
        if pod is None or not pod.metadata.deletion_timestamp:
            return None
        left = _seconds_left(pod)
        if left > 0:
            return left
        try:
            await self.client.pods.delete(
                pod.name, pod.namespace, grace_period_seconds=0, uid=pod.metadata.uid
            )
        except (NotFound, Conflict):
            return None  # gone already, or the name holds another pod now
        self.log.bind(pod=key).info("grace period over: pod removed")
        return None


def _seconds_left(pod: Any) -> float:
    deadline = parse_rfc3339(pod.metadata.deletion_timestamp) or 0.0
    return deadline - time.time()
