"""Waiting on a condition in a test: polled, bounded, and failing with the logs of the
daemons involved (never a sleep-and-hope, never an assertion on timing)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping

from navarch.testing.daemon import DaemonProcess

DEADLINE = 60.0


async def eventually(
    check: Callable[[], Awaitable[object]],
    what: str,
    daemons: Mapping[str, DaemonProcess] | Iterable[DaemonProcess] = (),
    *,
    deadline: float = DEADLINE,
    every: float = 0.2,
) -> float:
    """Seconds until ``check()`` returned something true; past ``deadline`` seconds an
    AssertionError naming ``what``, with the tail of each daemon's log."""
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        if await check():
            return time.monotonic() - start
        await asyncio.sleep(every)
    named = (
        daemons.items() if isinstance(daemons, Mapping) else ((d.log_path.name, d) for d in daemons)
    )
    logs = "\n".join(f"--- {name}\n{daemon.log_tail()}" for name, daemon in named)
    raise AssertionError(f"never, in {deadline:g} s: {what}\n{logs}")
