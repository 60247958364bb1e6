"""Where a runtime plugin's time goes, call by call to its daemon (``--call-times``).

The public coroutine methods of the runtime's daemon client (containerd's
``runtime.client``, docker's ``runtime.engine``) are wrapped on that one object;
while ``recording``, the wall time of each outermost call is kept by method name (a
client method calling another is counted once, as the outer one). The time of an
operation not spent in these calls is the plugin's own work (spec, state files,
FIFOs) and the event loop's. Calls made meanwhile by the plugin's background tasks
(containerd's exit-event reaper) are counted too: they are not on the operation's
path, and show as more calls than the operations need.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

_depth: ContextVar[int] = ContextVar("bench_call_depth", default=0)
CLIENT_ATTRIBUTES = ("client", "engine")


class CallTimes:
    def __init__(self) -> None:
        self.times: defaultdict[str, list[float]] = defaultdict(list)
        self.recording = False

    def install(self, runtime: Any) -> bool:
        """Wrap the runtime's daemon client; False when it has none this knows."""
        client = next((getattr(runtime, a) for a in CLIENT_ATTRIBUTES if hasattr(runtime, a)), None)
        if client is None:
            return False
        for name in dir(type(client)):
            method = getattr(client, name, None)
            if not name.startswith("_") and inspect.iscoroutinefunction(method):
                setattr(client, name, self._timed(name, method))
        return True

    def _timed(
        self, name: str, method: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(method)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            outermost = _depth.get() == 0
            token = _depth.set(_depth.get() + 1)
            started = time.perf_counter()
            try:
                return await method(*args, **kwargs)
            finally:
                _depth.reset(token)
                if self.recording and outermost:
                    self.times[name].append(time.perf_counter() - started)

        return timed

    def lines(self, operations: int, operation_seconds: float) -> list[str]:
        """One line per method, slowest total first: calls per operation, mean and
        total ms, share of the operations' time."""
        rows = sorted(self.times.items(), key=lambda item: -sum(item[1]))
        width = max((len(name) for name in self.times), default=0)
        lines = []
        for name, seconds in rows:
            total = sum(seconds)
            share = total / operation_seconds * 100 if operation_seconds else float("nan")
            lines.append(
                f"    {name:<{width}}  {len(seconds) / operations:5.1f} per op  "
                f"mean {total / len(seconds) * 1000:7.1f} ms  "
                f"total {total * 1000:8.1f} ms  {share:5.1f}%"
            )
        in_calls = sum(sum(s) for s in self.times.values())
        lines.append(
            f"    outside these calls: {(operation_seconds - in_calls) * 1000:,.1f} ms of "
            f"{operation_seconds * 1000:,.1f} ms (may be negative: background calls overlap)"
        )
        return lines
