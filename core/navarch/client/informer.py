"""Informers: list + watch one resource into a local cache, with event handlers.

The scheduler, controllers and agents read from informer caches and react to
handlers; they never poll. Cached objects are frozen model objects: copy, then change.

    informer = Informer(client.pods, namespace="", field_selector="spec.nodeName=n1")
    informer.add_handler(on_add=..., on_update=..., on_delete=...)
    task = asyncio.create_task(informer.run())
    await informer.wait_synced()
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from loguru import logger

from navarch.client.client import ResourceClient
from navarch.client.errors import ApiException, Gone

log = logger.bind(component="informer")

Handler = Callable[..., Any]


def key_of(obj: Any) -> str:
    meta = obj.metadata if hasattr(obj, "metadata") else None
    if meta is None:
        meta_dict = obj.get("metadata", {})
        namespace, name = meta_dict.get("namespace"), meta_dict.get("name")
    else:
        namespace, name = meta.namespace, meta.name
    return f"{namespace}/{name}" if namespace else str(name)


class Informer:
    def __init__(
        self,
        resource: ResourceClient,
        namespace: str = "",
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resync_backoff: float = 1.0,
    ):
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.resync_backoff = resync_backoff
        self.cache: dict[str, Any] = {}
        self.resource_version = ""
        # index name -> (function of an object to its values, value -> keys)
        self._indexes: dict[str, tuple[Callable[[Any], list[str]], dict[str, set[str]]]] = {}
        self._handlers: list[tuple[Handler | None, Handler | None, Handler | None]] = []
        self._synced = asyncio.Event()

    def add_handler(
        self,
        on_add: Handler | None = None,
        on_update: Handler | None = None,
        on_delete: Handler | None = None,
    ) -> None:
        """``on_add(obj)``, ``on_update(old, new)``, ``on_delete(obj)``; sync or async."""
        self._handlers.append((on_add, on_update, on_delete))

    def add_index(self, name: str, values: Callable[[Any], list[str]]) -> None:
        """Keep the cached objects findable by ``values(obj)`` (say, a pod's namespace,
        its node, its owner's uid) through :meth:`by_index`."""
        index: dict[str, set[str]] = {}
        self._indexes[name] = (values, index)
        for key, obj in self.cache.items():
            for value in values(obj):
                index.setdefault(value, set()).add(key)

    def by_index(self, name: str, value: str) -> list[Any]:
        """The cached objects whose index ``name`` holds ``value``."""
        keys = self._indexes[name][1].get(value, ())
        return [self.cache[key] for key in keys if key in self.cache]

    def _store(self, key: str, obj: Any | None) -> Any | None:
        """Put ``obj`` (None: remove) under ``key``, keeping the indexes; the old one."""
        old = self.cache.pop(key, None) if obj is None else self.cache.get(key)
        for values, index in self._indexes.values():
            if old is not None:
                for value in values(old):
                    keys = index.get(value)
                    if keys is not None:
                        keys.discard(key)
                        if not keys:
                            del index[value]
            if obj is not None:
                for value in values(obj):
                    index.setdefault(value, set()).add(key)
        if obj is not None:
            self.cache[key] = obj
        return old

    def get(self, key: str) -> Any | None:
        return self.cache.get(key)

    def list(self) -> list[Any]:
        return list(self.cache.values())

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._synced.wait(), timeout)

    async def run(self) -> None:
        """List, then watch; re-list when the watch's version is too old. Runs until cancelled."""
        while True:
            try:
                await self._relist()
                async for kind, obj in self.resource.watch(
                    self.namespace,
                    resource_version=self.resource_version,
                    label_selector=self.label_selector,
                    field_selector=self.field_selector,
                ):
                    await self._apply(kind, obj)
            except Gone:
                log.bind(resource=self.resource.res.plural).info("watch expired; re-listing")
            except ApiException as exc:
                log.bind(resource=self.resource.res.plural, error=str(exc)).warning(
                    "informer error; retrying"
                )
                await asyncio.sleep(self.resync_backoff)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # As client-go's reflector: whatever one watch or list did (a line it
                # could not decode, say), the informer lists again and keeps going; the
                # process that relies on it must not end over one object.
                log.bind(resource=self.resource.res.plural, error=repr(exc)).opt(
                    exception=exc
                ).error("informer failed; listing again")
                await asyncio.sleep(self.resync_backoff)

    async def _relist(self) -> None:
        items: list[Any] = []
        token: str | None = None
        while True:
            page = await self.resource.list(
                self.namespace,
                label_selector=self.label_selector,
                field_selector=self.field_selector,
                limit=500,
                continue_token=token,
            )
            items.extend(page.items)
            self.resource_version = (
                page.resource_version if token is None else self.resource_version
            )
            token = page.continue_token
            if not token:
                break
        fresh = {key_of(obj): obj for obj in items}
        for key, old in list(self.cache.items()):
            if key not in fresh:
                self._store(key, None)
                await self._emit(2, old)
        for key, obj in fresh.items():
            old = self._store(key, obj)
            if old is None:
                await self._emit(0, obj)
            elif old != obj:
                await self._emit(1, old, obj)
        self._synced.set()

    async def _apply(self, kind: str, obj: Any) -> None:
        key = key_of(obj)
        self.resource_version = (
            obj.metadata.resource_version if hasattr(obj, "metadata") else self.resource_version
        )
        if kind == "DELETED":
            old = self._store(key, None)
            await self._emit(2, old if old is not None else obj)
            return
        old = self._store(key, obj)
        if old is None:
            await self._emit(0, obj)
        else:
            await self._emit(1, old, obj)

    async def _emit(self, which: int, *args: Any) -> None:
        for handlers in self._handlers:
            handler = handlers[which]
            if handler is None:
                continue
            try:
                result = handler(*args)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:  # a handler's bug must not stop the informer
                log.bind(resource=self.resource.res.plural, error=repr(exc)).opt(
                    exception=exc
                ).error("informer handler failed")
