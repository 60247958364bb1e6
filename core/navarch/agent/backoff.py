"""Restart and pull back-off, as the kubelet's: the first retry is immediate, then
each waits twice as long as the one before (10 s, 20 s, 40 s … up to 5 min), counted
from when the last try failed; a key left alone for twice the maximum starts over."""

from __future__ import annotations

import time
from collections.abc import Callable

import attrs


@attrs.define
class Backoff:
    initial: float = 10.0
    maximum: float = 300.0
    clock: Callable[[], float] = time.time
    _entries: dict[str, tuple[float, float]] = attrs.field(factory=dict)  # key -> (delay, at)

    def in_backoff(self, key: str, since: float | None = None) -> float:
        """Seconds left before ``key`` may be tried again (0: now). ``since`` is when the
        last try ended (a container's finish time); default: when :meth:`next` was
        called."""
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        delay, at = entry
        if self.clock() - at > 2 * self.maximum:
            del self._entries[key]  # quiet for long: forgiven (client-go's IsInBackOffSince)
            return 0.0
        start = max(since, at) if since is not None else at
        return max(0.0, start + delay - self.clock())

    def next(self, key: str) -> float:
        """Record a try of ``key`` now; returns the delay the following one will wait."""
        now = self.clock()
        entry = self._entries.get(key)
        if entry is None or now - entry[1] > 2 * self.maximum:
            delay = self.initial
        else:
            delay = min(entry[0] * 2, self.maximum)
        self._entries[key] = (delay, now)
        return delay

    def delay(self, key: str) -> float:
        """The wait that applies to ``key`` now (the initial one when it has none)."""
        entry = self._entries.get(key)
        return entry[0] if entry is not None else self.initial

    def reset(self, key: str) -> None:
        self._entries.pop(key, None)

    def forget_prefix(self, prefix: str) -> None:
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]

    def holds_prefix(self, prefix: str) -> bool:
        return any(k.startswith(prefix) for k in self._entries)
