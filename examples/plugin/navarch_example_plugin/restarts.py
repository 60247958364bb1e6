"""The ``restart-counter`` controller: it keeps the label
``example.navarch.io/restarts`` on every Deployment at the sum of the container restarts
of the Deployment's pods, so troubled Deployments show at a glance:

    navctl get deploy -L example.navarch.io/restarts
    navctl get deploy -l 'example.navarch.io/restarts!=0'

Level-triggered, like the core's controllers: any change to a Deployment or to a pod
queues the Deployments concerned; a sync counts from the caches and writes the label
only when the count differs. The count is over the pods that exist now: a pod replaced
takes its restarts with it.
"""

from __future__ import annotations

from typing import Any

from navarch.api.field_checks import validate_label_selector
from navarch.api.selectors import Selector
from navarch.client.errors import NotFound
from navarch.client.sharedinformers import NAMESPACE_INDEX
from navarch.controllers.base import QueueController
from navarch.controllers.context import ControllerContext

NAME = "restart-counter"
RESTARTS_LABEL = "example.navarch.io/restarts"


class RestartCounter(QueueController):
    def __init__(self, context: ControllerContext):
        super().__init__(context)
        self.deployments = context.informers.informer("deployments")
        self.pods = context.informers.informer("pods")
        self.deployments.add_handler(
            on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new)
        )
        self.pods.add_handler(
            on_add=self._pod_changed,
            on_update=lambda old, new: self._pod_changed(new),
            on_delete=self._pod_changed,
        )

    def _pod_changed(self, pod: Any) -> None:
        for deployment in self.deployments.by_index(NAMESPACE_INDEX, pod.namespace):
            selector = selector_of(deployment)
            if selector is not None and selector.matches(pod.labels):
                self.enqueue(deployment)

    async def sync(self, key: str) -> float | None:
        deployment = self.deployments.get(key)
        selector = selector_of(deployment) if deployment is not None else None
        if deployment is None or selector is None:
            return None  # gone, or it selects no pods: nothing to count
        pods = self.pods.by_index(NAMESPACE_INDEX, deployment.namespace)
        count = str(sum(restarts_of(pod) for pod in pods if selector.matches(pod.labels)))
        if deployment.labels.get(RESTARTS_LABEL) == count:
            return None
        patch = {"metadata": {"labels": {RESTARTS_LABEL: count}}}
        try:
            await self.client.deployments.patch(deployment.name, patch, deployment.namespace)
        except NotFound:
            return None  # deleted meanwhile: nothing left to label
        self.log.bind(deployment=key, restarts=count).info("restarts counted")
        return None


def selector_of(deployment: Any) -> Selector | None:
    """The Deployment's selector; None when it has none or it is invalid."""
    selector = deployment.spec.selector if deployment.spec else None
    if selector is None:
        return None
    errors, parsed = validate_label_selector(selector, "spec.selector")
    return None if errors else parsed


def restarts_of(pod: Any) -> int:
    statuses = (pod.status.container_statuses if pod.status else None) or ()
    return sum(status.restart_count or 0 for status in statuses)
