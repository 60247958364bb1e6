"""The work queue of a controller: keys (``namespace/name``) to reconcile, as
client-go's rate-limited work queue has them.

* A key is queued once however often it is added (its object changed ten times
  before a worker got to it: one sync, of the latest state).
* A key is never handed to two workers at once: added while being processed, it is
  queued again only when :meth:`done` is called for it.
* :meth:`add_rate_limited` re-queues a key whose sync failed after a per-key
  exponential back-off (``base * 2**failures`` up to ``cap``) and under an overall
  token bucket (``qps``, ``burst``), the later of the two; :meth:`forget` resets the
  key's failures once it synced.
* :meth:`add_after` queues a key later (a deadline to look at again: a pod's grace
  period, minReadySeconds).

Everything runs on the event loop: no locks, only asyncio events and timer handles.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

import attrs

# client-go's defaults: 5 ms doubling to 1000 s per key; 10 per second, bursts of 100.
BASE_DELAY = 0.005
MAX_DELAY = 1000.0
QPS = 10.0
BURST = 100


@attrs.define
class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved: how long until the next."""

    rate: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    _tokens: float = attrs.field(init=False)
    _at: float = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._tokens = float(self.burst)
        self._at = self.clock()

    def reserve(self) -> float:
        """Take a token; the seconds to wait before using it (0: now)."""
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


class WorkQueue:
    """Keys to process, each at most once at a time. ``await get()`` gives the next;
    the caller calls :meth:`done` when finished with it."""

    def __init__(
        self,
        name: str = "",
        *,
        base_delay: float = BASE_DELAY,
        max_delay: float = MAX_DELAY,
        qps: float = QPS,
        burst: int = BURST,
    ):
        self.name = name
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._bucket = TokenBucket(qps, burst)
        self._queue: deque[str] = deque()
        self._dirty: set[str] = set()  # queued, or to be queued again once done
        self._processing: set[str] = set()
        self._failures: dict[str, int] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._ready = asyncio.Event()
        self._shut = False

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, key: str) -> None:
        if self._shut or key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.append(key)
            self._ready.set()

    def add_after(self, key: str, delay: float) -> None:
        """Queue ``key`` in ``delay`` seconds (at once when <= 0). An earlier pending
        deadline for the key is kept; a later one replaces nothing."""
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        when = loop.time() + delay
        pending = self._timers.get(key)
        if pending is not None and not pending.cancelled() and pending.when() <= when:
            return
        if pending is not None:
            pending.cancel()
        self._timers[key] = loop.call_at(when, self._fire, key)

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        self.add(key)

    def add_rate_limited(self, key: str) -> None:
        """Queue ``key`` again after its back-off (it failed)."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        backoff = min(self.max_delay, self.base_delay * 2**failures)
        self.add_after(key, max(backoff, self._bucket.reserve()))

    def failures(self, key: str) -> int:
        return self._failures.get(key, 0)

    def forget(self, key: str) -> None:
        """The key synced: its next failure starts the back-off afresh."""
        self._failures.pop(key, None)

    async def get(self) -> str:
        """The next key (waits for one); raises :class:`QueueShutDown` once shut."""
        while not self._queue:
            if self._shut:
                raise QueueShutDown(self.name)
            self._ready.clear()
            await self._ready.wait()
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: str) -> None:
        """Finished with ``key``; queued again if it was added meanwhile."""
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._ready.set()

    def shut_down(self) -> None:
        self._shut = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._ready.set()


class QueueShutDown(Exception):
    """The queue was shut down: the worker ends."""
