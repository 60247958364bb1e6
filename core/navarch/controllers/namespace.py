"""The namespace controller: empties a namespace marked for deletion, then lets it go.

Deleting a namespace only marks it (``deletionTimestamp``, phase Terminating, the
``kubernetes`` finalizer in ``spec.finalizers``). This loop deletes everything in it,
each resource as a collection (pods with their grace period: their agents stop them),
and once nothing is left it removes the finalizer through the ``finalize``
subresource, which lets the API server remove the namespace. Until then it looks
again every ``recheck_seconds`` (pods take their grace period to go).
"""

from __future__ import annotations

from typing import Any

import attrs

from navarch import api
from navarch.client.errors import Conflict, NotFound
from navarch.controllers.base import QueueController
from navarch.controllers.context import ControllerContext
from navarch.resources.core.namespaces import NAMESPACE_FINALIZER
from navarch.resources.registry import registry

NAME = "namespace"


@attrs.frozen(kw_only=True)
class NamespaceOptions:
    recheck_seconds: float = attrs.field(
        default=1.0,
        metadata={"help": "How often a namespace being emptied is looked at again."},
    )


class NamespaceController(QueueController):
    def __init__(self, context: ControllerContext):
        super().__init__(context)
        self.options: NamespaceOptions = context.options or NamespaceOptions()
        self.namespaces = context.informers.informer("namespaces")
        self.namespaces.add_handler(
            on_add=self._changed, on_update=lambda old, new: self._changed(new)
        )

    def _changed(self, namespace: Any) -> None:
        if namespace.metadata.deletion_timestamp:
            self.enqueue(namespace)

    async def sync(self, key: str) -> float | None:
        namespace = self.namespaces.get(key)
        if namespace is None or not namespace.metadata.deletion_timestamp:
            return None
        left = 0
        for res in registry():
            if not res.namespaced:
                continue
            # No grace period given: each kind's strategy decides (pods on a node get
            # theirs; Kubernetes' namespace deleter sends none either).
            deleted = await getattr(self.client, res.plural).delete_collection(key)
            left += len(deleted.items)
        if left:
            return self.options.recheck_seconds  # pods are stopping on their nodes
        await self._release(key)
        return None

    async def _release(self, name: str) -> None:
        try:
            current = await self.client.namespaces.get(name)
        except NotFound:
            return
        finalizers = [f for f in (current.spec.finalizers or ()) if f != NAMESPACE_FINALIZER]
        body = api.dump(current)
        body.setdefault("spec", {})["finalizers"] = finalizers
        try:
            await self.client.namespaces.update_subresource(body, "finalize")
        except (NotFound, Conflict):
            return  # gone, or changed meanwhile: the next sync sees it
        self.log.bind(namespace=name).info("namespace emptied and released")
