"""When the endpoints of a Service must be looked at again: the wake-ups the
EndpointSlice and Endpoints controllers share (each keys its queue by the Service).

* a Service is added, changed or deleted;
* a pod is added, changed or deleted: every Service in its namespace whose selector
  matches it, before or after the change (a relabelled pod leaves one Service and
  joins another);
* a node's status changes (Ready, addresses) or the node goes: the Services of its
  pods (their endpoints' ``ready``/``serving`` follow the node).
"""

from __future__ import annotations

from typing import Any

from navarch import api
from navarch.controllers.base import QueueController
from navarch.controllers.context import ControllerContext
from navarch.controllers.endpointslice_plan import has_selector, selected_pods


class ServiceEndpointsController(QueueController):
    """The informers and wake-ups; subclasses add what they write and ``sync``."""

    def __init__(self, context: ControllerContext):
        super().__init__(context)
        self.services = context.informers.informer("services")
        self.pods = context.informers.informer("pods")
        self.nodes = context.informers.informer("nodes")
        self.services.add_handler(
            on_add=self.enqueue,
            on_update=lambda old, new: self.enqueue(new),
            on_delete=self.enqueue,
        )
        self.pods.add_handler(on_add=self._pod, on_update=self._pod_changed, on_delete=self._pod)
        self.nodes.add_handler(on_update=self._node, on_delete=self._node)

    def _pod_changed(self, old: Any, new: Any) -> None:
        self._pod(old)
        self._pod(new)

    def _pod(self, pod: Any) -> None:
        wire = api.dump(pod)
        namespace = wire["metadata"].get("namespace", "")
        for service in self.services.list():
            if service.namespace != namespace:
                continue
            svc = api.dump(service)
            if has_selector(svc) and selected_pods(svc, [wire]):
                self.queue.add(f"{namespace}/{svc['metadata']['name']}")

    def _node(self, old: Any, new: Any | None = None) -> None:
        """A node's status changed (an update), or the node went (a delete: ``new`` None)."""
        if new is not None and api.dump(old).get("status") == api.dump(new).get("status"):
            return
        name = old.name
        for pod in self.pods.list():
            if pod.spec is not None and pod.spec.node_name == name:
                self._pod(pod)
