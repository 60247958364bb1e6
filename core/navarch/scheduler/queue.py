"""The scheduling queue: pending pods by priority, then age; back-off for pods that did
not fit; a re-try of those when the cluster changes in a way that could make them fit.

    active        heap of (-priority, arrival) -> key: what to schedule next
    backoff       key -> (attempts, not before): failed pods wait 1 s, 2 s, 4 s … 10 s
    unschedulable keys parked until a node is added or freed (or 60 s pass)
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time

import attrs

INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 10.0
UNSCHEDULABLE_TIMEOUT = 60.0


@attrs.define
class _Entry:
    priority: int
    arrival: int
    attempts: int = 0
    not_before: float = 0.0
    parked_at: float = 0.0
    popped_in: int = 0  # the cluster's change count when this pod was taken to schedule


class SchedulingQueue:
    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._active: list[tuple[int, int, str]] = []
        self._waiting: set[str] = set()  # in back-off or parked as unschedulable
        self._counter = itertools.count()
        self._wakeup = asyncio.Event()
        self._changes = 0  # how often the cluster changed in a way that can free room

    def add(self, key: str, priority: int = 0) -> None:
        """A pending pod (new, or changed): schedule it as soon as its turn comes."""
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry(priority, next(self._counter))
        elif key in self._waiting or entry.priority == priority:
            return  # already queued, or its back-off decides when it comes back
        else:  # re-queued at its new priority; the old heap entry no longer matches
            entry.priority, entry.arrival = priority, next(self._counter)
        heapq.heappush(self._active, (-entry.priority, entry.arrival, key))
        self._wakeup.set()

    def remove(self, key: str) -> None:
        """The pod is bound or gone."""
        self._entries.pop(key, None)
        self._waiting.discard(key)

    def retry_later(self, key: str, unschedulable: bool) -> None:
        """The pod failed this cycle: back off (and, if it fits nowhere, park it until
        the cluster changes)."""
        entry = self._entries.get(key)
        if entry is None:
            return
        entry.attempts += 1
        entry.not_before = time.monotonic() + min(
            MAX_BACKOFF, INITIAL_BACKOFF * 2 ** (entry.attempts - 1)
        )
        # Parked only if nothing changed while it was being scheduled: a node that came
        # (or room that was freed) during its cycle was not seen by the filters, and
        # the change's wake-up passed it by, since it was not waiting then.
        # (Kubernetes' scheduling queue keeps a "move request cycle" for the same race.)
        stale = entry.popped_in != self._changes
        entry.parked_at = time.monotonic() if unschedulable and not stale else 0.0
        self._waiting.add(key)
        self._wakeup.set()

    def cluster_changed(self) -> None:
        """A node was added or freed, or a pod went: parked pods may fit now."""
        self._changes += 1
        for key in self._waiting:
            entry = self._entries.get(key)
            if entry is not None:
                entry.parked_at = 0.0
        self._wakeup.set()

    def __len__(self) -> int:
        return len(self._entries)

    async def pop(self) -> str:
        """The next pod to schedule (waits until there is one)."""
        while True:
            self._promote()
            while self._active:
                _, arrival, key = heapq.heappop(self._active)
                entry = self._entries.get(key)
                if entry is not None and entry.arrival == arrival and key not in self._waiting:
                    entry.popped_in = self._changes
                    return key
            self._wakeup.clear()
            timeout = self._next_due()
            with contextlib.suppress(TimeoutError):  # a back-off ran out
                await asyncio.wait_for(self._wakeup.wait(), timeout)

    def _promote(self) -> None:
        now = time.monotonic()
        for key in list(self._waiting):
            entry = self._entries.get(key)
            if entry is None:
                self._waiting.discard(key)
                continue
            parked = entry.parked_at and now - entry.parked_at < UNSCHEDULABLE_TIMEOUT
            if entry.not_before <= now and not parked:
                self._waiting.discard(key)
                entry.arrival = next(self._counter)
                heapq.heappush(self._active, (-entry.priority, entry.arrival, key))

    def _next_due(self) -> float | None:
        due = [
            e.not_before for k in self._waiting if (e := self._entries.get(k)) and not e.parked_at
        ]
        parked = [
            e.parked_at + UNSCHEDULABLE_TIMEOUT
            for k in self._waiting
            if (e := self._entries.get(k)) and e.parked_at
        ]
        times = due + parked
        return max(0.01, min(times) - time.monotonic()) if times else None
