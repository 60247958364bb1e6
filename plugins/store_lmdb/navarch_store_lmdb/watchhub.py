"""Fan-out of committed events to in-process watchers, with bounded buffers.

A watcher whose buffer fills is not allowed to hold anyone up: it is marked
*lagging* and its buffer dropped; its iterator then catches up from the durable
revision log (like etcd's unsynced watchers) and re-registers. Nothing is lost and
memory stays bounded.
"""

from __future__ import annotations

import asyncio
from collections import deque

from navarch.store.contract import Event


class Lagging(Exception):
    """The watcher fell behind; resume from the log at the next revision."""


class Subscription:
    def __init__(self, prefix: bytes, capacity: int):
        self.prefix = prefix
        self.capacity = capacity
        self.buffer: deque[Event] = deque()
        self.lagging = False
        self.closed = False
        self._wakeup = asyncio.Event()

    def offer(self, event: Event) -> None:
        if self.lagging:
            return
        if len(self.buffer) >= self.capacity:
            self.lagging = True
            self.buffer.clear()
        else:
            self.buffer.append(event)
        self._wakeup.set()

    def close(self) -> None:
        self.closed = True
        self._wakeup.set()

    async def next(self) -> Event | None:
        """The next buffered event; None once closed; raises Lagging after overflow."""
        while True:
            if self.lagging:
                raise Lagging
            if self.buffer:
                return self.buffer.popleft()
            if self.closed:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()


class WatchHub:
    def __init__(self, capacity: int = 10_000):
        self.capacity = capacity
        self._subscriptions: set[Subscription] = set()

    def subscribe(self, prefix: bytes) -> Subscription:
        subscription = Subscription(prefix, self.capacity)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def publish(self, events: list[Event]) -> None:
        """Called on the event loop after each durable commit, in revision order."""
        for subscription in self._subscriptions:
            prefix = subscription.prefix
            for event in events:
                if event.kv.key.startswith(prefix):
                    subscription.offer(event)

    def close(self) -> None:
        for subscription in self._subscriptions:
            subscription.close()
        self._subscriptions.clear()

    def __len__(self) -> int:
        return len(self._subscriptions)
