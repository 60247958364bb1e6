"""Watch fan-out: one store watch per resource, shared by every HTTP watcher of it.

Without it, 500 watchers of pods would be 500 store watches, and every event would
be decoded and encoded 500 times. Here each event is decoded once, encoded once per
event type, and handed to every subscriber; each subscriber only filters (namespace,
selectors) and writes bytes. The last ``history`` events stay in memory, so a watcher
resuming from a recent resourceVersion is served without touching the store; an
older one falls back to a watch of its own on the store (which answers 410 when the
version has left history).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any

import orjson
from loguru import logger

from navarch.api import selectors
from navarch.apiserver import codec, errors
from navarch.apiserver.fieldselectors import FieldSelector, watch_event_type
from navarch.resources.spec import Resource
from navarch.store import DELETE, Store

log = logger.bind(component="watchcache")


class CachedEvent:
    """One store event, decoded once; its wire lines encoded on first use."""

    __slots__ = ("_lines", "namespace", "obj", "prev", "revision", "type")

    def __init__(self, revision: int, type_: str, obj: dict[str, Any], prev: dict[str, Any] | None):
        self.revision = revision
        self.type = type_  # PUT or DELETE
        self.obj = obj
        self.prev = prev
        self.namespace = obj.get("metadata", {}).get("namespace", "")
        self._lines: dict[str, bytes] = {}

    def line(self, kind: str) -> bytes:
        line = self._lines.get(kind)
        if line is None:
            line = b'{"type":"%s","object":%s}\n' % (kind.encode(), orjson.dumps(self.obj))
            self._lines[kind] = line
        return line


class TooSlow(Exception):
    """The subscriber's buffer filled up."""


class Subscription:
    """One watcher's view: the fan-out calls :meth:`offer` for every event; the events
    this watcher wants go into ``queue`` as ``(resourceVersion, line)`` pairs, already
    filtered and encoded, so the watcher's own task only writes bytes."""

    def __init__(
        self,
        queue: asyncio.Queue[Any],
        namespace: str,
        from_revision: int,
        label_selector: selectors.Selector | None,
        field_selector: FieldSelector | None,
    ):
        self.queue = queue
        self.namespace = namespace
        self.from_revision = from_revision
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.failed = False
        # The newest revision offered, matched or not: once the queue is drained, this
        # watcher has seen everything up to it, which is what a bookmark may say.
        self.seen_revision = 0

    def offer(self, item: CachedEvent | BaseException) -> None:
        if self.failed:
            return
        if isinstance(item, BaseException):
            self.put(item)
            return
        self.seen_revision = item.revision
        line = self.line_for(item)
        if line is not None:
            self.put((str(item.revision), line))

    def line_for(self, item: CachedEvent) -> bytes | None:
        """The wire line of an event for this watcher, or None if it does not see it."""
        if item.revision < self.from_revision or (
            self.namespace and item.namespace != self.namespace
        ):
            return None
        kind = watch_event_type(
            item.type == DELETE, item.obj, item.prev, self.label_selector, self.field_selector
        )
        return None if kind is None else item.line(kind)

    def put(self, entry: Any) -> None:
        """Queue an entry; a full queue marks the watcher too slow (it gets an ERROR)."""
        try:
            self.queue.put_nowait(entry)
        except asyncio.QueueFull:
            self.failed = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(TooSlow())


class Broadcaster:
    def __init__(self, store: Store, res: Resource, history: int):
        self.store = store
        self.res = res
        self.events: deque[CachedEvent] = deque(maxlen=history)
        self.subscribers: set[Subscription] = set()
        self.serving = False  # the buffer holds every event since ``oldest``
        self.oldest = 0  # every event from this revision on is in ``events`` or still to come
        self._task: asyncio.Task[None] | None = None
        self._started = asyncio.Event()

    async def ensure_started(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        await self._started.wait()

    async def _run(self) -> None:
        while True:
            try:
                start = await self.store.current_revision() + 1
                self.events.clear()
                self.oldest = start
                self.serving = True
                self._started.set()
                async for event in self.store.watch(self.res.store_prefix(), start):
                    cached = _cache(event)
                    self.events.append(cached)
                    if len(self.events) == self.events.maxlen:
                        self.oldest = self.events[0].revision
                    for subscriber in self.subscribers:
                        subscriber.offer(cached)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # store trouble: every watcher re-watches, we restart
                # Until the restart the buffer may miss events: nobody is served from it.
                self.serving = False
                self._started.set()  # waiting subscribers get their 410 instead of hanging
                log.bind(resource=self.res.plural, error=repr(exc)).warning(
                    "watch fan-out restarting"
                )
                gone = errors.gone(
                    f"the server's watch of {self.res.plural} restarted; watch again"
                )
                for subscriber in self.subscribers:
                    subscriber.offer(gone)
                await asyncio.sleep(0.5)

    def subscribe(self, subscription: Subscription) -> list[CachedEvent] | None:
        """Follow from the subscription's revision: the buffered events it missed are
        returned (for the watcher to stream at its own pace — pushing up to ``history``
        of them into its bounded queue would overflow it), newer ones arrive in its
        queue. None when the buffer does not reach back that far.

        Taking the snapshot and subscribing happen with no await in between, so no
        event falls between the two."""
        if not self.serving:
            raise errors.gone(f"the server's watch of {self.res.plural} is restarting; watch again")
        if subscription.from_revision < self.oldest:
            return None
        start = subscription.from_revision
        missed = [event for event in self.events if event.revision >= start]
        if self.events:
            subscription.seen_revision = self.events[-1].revision
        self.subscribers.add(subscription)
        return missed

    def unsubscribe(self, subscription: Subscription) -> None:
        self.subscribers.discard(subscription)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class WatchCache:
    def __init__(self, store: Store, history: int = 10_000):
        self.store = store
        self.history = history
        self._broadcasters: dict[Resource, Broadcaster] = {}

    async def subscribe(
        self, res: Resource, subscription: Subscription
    ) -> tuple[Broadcaster, list[CachedEvent]] | None:
        """Feed ``subscription`` from the shared watch of ``res``: the broadcaster and the
        buffered events to replay first; None when its revision is older than the buffer
        (the caller then watches the store itself)."""
        broadcaster = self._broadcasters.get(res)
        if broadcaster is None:
            broadcaster = self._broadcasters[res] = Broadcaster(self.store, res, self.history)
        await broadcaster.ensure_started()
        missed = broadcaster.subscribe(subscription)
        return None if missed is None else (broadcaster, missed)

    async def close(self) -> None:
        for broadcaster in self._broadcasters.values():
            await broadcaster.close()


def _cache(event: Any) -> CachedEvent:
    prev = orjson.loads(event.prev_kv.value) if event.prev_kv is not None else None
    if event.type == DELETE:
        obj = prev if prev is not None else {"metadata": {}}
        obj["metadata"]["resourceVersion"] = str(event.revision)
        return CachedEvent(event.revision, DELETE, codec.ordered(obj), prev)
    obj = orjson.loads(event.kv.value)
    obj["metadata"]["resourceVersion"] = str(event.revision)
    return CachedEvent(event.revision, event.type, codec.ordered(obj), prev)
