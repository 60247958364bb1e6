"""What the scheduler tells an operator at INFO, without a line per pod.

- one summary line per interval in which something happened: pods bound,
  unschedulable attempts, failed bindings, and the queue (pending pods, bindings in
  flight, nodes known);
- each pod that fits nowhere once, with Kubernetes' reason (again only after it was
  bound or deleted), at most ``lines_per_interval`` such lines per interval; the rest
  are counted in the summary as ``unlogged``;
- failed bindings the same way (the pod is re-queued; the first few are shown);
- the start and stop lines come from the scheduler itself.

At 10,000 pods that is a line every ``interval`` seconds, plus at most a bounded
number of pod lines.
"""

from __future__ import annotations

import time
from typing import Any

from loguru import logger

log = logger.bind(component="scheduler")


class Activity:
    def __init__(self, interval: float = 10.0, lines_per_interval: int = 10):
        self.interval = interval
        self.lines_per_interval = lines_per_interval
        self.total_bound = 0
        self._reported: set[str] = set()  # pods already logged as unschedulable
        self._last_queue: tuple[int, int, int] | None = None
        self._reset()

    def _reset(self) -> None:
        self.bound = 0
        self.unschedulable = 0
        self.binding_failures = 0
        self.unlogged = 0
        self._lines = 0
        self._since = time.monotonic()

    def _may_log(self) -> bool:
        if self._lines < self.lines_per_interval:
            self._lines += 1
            return True
        self.unlogged += 1
        return False

    # --- events ------------------------------------------------------------------------

    def pod_bound(self, key: str) -> None:
        self.bound += 1
        self.total_bound += 1
        self._reported.discard(key)

    def pod_unschedulable(self, key: str, reason: str) -> None:
        self.unschedulable += 1
        if key in self._reported:
            return
        self._reported.add(key)
        if self._may_log():
            log.bind(pod=key, reason=reason).info("pod unschedulable")

    def binding_failed(self, key: str, node: str, error: str) -> None:
        self.binding_failures += 1
        if self._may_log():
            log.bind(pod=key, node=node, error=error).info("binding failed; the pod is re-queued")

    def pod_gone(self, key: str) -> None:
        self._reported.discard(key)

    # --- the summary -------------------------------------------------------------------

    def summary(self, pending: int, in_flight: int, nodes: int, *, force: bool = False) -> bool:
        """Log the interval's summary if anything happened or the queue changed since
        the last one (or ``force``); returns whether a line was written."""
        queue = (pending, in_flight, nodes)
        busy = self.bound or self.unschedulable or self.binding_failures or self.unlogged
        if not (busy or force or queue != self._last_queue):
            self._reset()
            return False
        fields: dict[str, Any] = {
            "bound": self.bound,
            "unschedulable": self.unschedulable,
            "binding_failures": self.binding_failures,
            "pending": pending,
            "in_flight": in_flight,
            "nodes": nodes,
            "seconds": round(time.monotonic() - self._since, 1),
        }
        if self.unlogged:
            fields["unlogged"] = self.unlogged
        log.bind(**fields).info("scheduling summary")
        self._last_queue = queue
        self._reset()
        return True
