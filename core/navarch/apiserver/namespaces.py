"""NamespaceLifecycle: objects go only into namespaces that exist and are not being
deleted (Kubernetes' admission plugin of that name)."""

from __future__ import annotations

import time
from typing import Any

from navarch.apiserver import errors
from navarch.apiserver.storage import Storage
from navarch.resources.core import NAMESPACES
from navarch.resources.spec import Resource

NAMESPACE_CACHE_SECONDS = 5.0


class NamespaceLifecycle:
    """Positive answers are cached for a few seconds (Kubernetes' plugin reads an
    informer cache too); deleting a namespace through this server drops it at once."""

    def __init__(self, storage: Storage):
        self.storage = storage
        self._seen: dict[str, float] = {}
        storage.deletion_listeners.append(self._deleting)

    def _deleting(self, res: Resource, obj: dict[str, Any], removed: bool) -> None:
        if res is NAMESPACES:  # marked Terminating or gone: no new content either way
            self.forget(obj["metadata"].get("name", ""))

    async def must_accept(self, res: Resource, namespace: str) -> None:
        if not res.namespaced:
            return
        checked = self._seen.get(namespace)
        if checked is not None and time.monotonic() - checked < NAMESPACE_CACHE_SECONDS:
            return
        try:
            ns = await self.storage.get(NAMESPACES, "", namespace)
        except errors.ApiError as exc:
            if exc.reason == "NotFound":
                raise errors.not_found("namespaces", "", namespace) from None
            raise
        if ns["metadata"].get("deletionTimestamp"):
            raise errors.namespace_terminating(namespace)
        self._seen[namespace] = time.monotonic()

    def forget(self, namespace: str) -> None:
        self._seen.pop(namespace, None)
