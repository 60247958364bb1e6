"""Waiting on a condition in a test: polled, bounded, and failing with the logs of the
daemons involved (never a sleep-and-hope, never an assertion on timing)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TypeVar

from navarch.testing.daemon import DaemonProcess

DEADLINE = 60.0
T = TypeVar("T")


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
    raise AssertionError(f"never, in {deadline:g} s: {what}\n{_logs(daemons)}")


def until(
    check: Callable[[], T],
    what: str,
    daemons: Mapping[str, DaemonProcess] | Iterable[DaemonProcess] = (),
    *,
    deadline: float = DEADLINE,
    every: float = 1.0,
) -> T:
    """The first true value ``check()`` returns (polled, blocking: for tests that drive
    command-line tools); past ``deadline`` seconds an AssertionError naming ``what``,
    the last value seen and the tail of each daemon's log."""
    start = time.monotonic()
    last: T | None = None
    while time.monotonic() - start < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(
        f"never, in {deadline:g} s: {what} (last seen: {last!r})\n{_logs(daemons)}"
    )


def until_passes(
    check: Callable[[], T],
    what: str,
    daemons: Mapping[str, DaemonProcess] | Iterable[DaemonProcess] = (),
    *,
    deadline: float = DEADLINE,
    every: float = 0.3,
) -> T:
    """``check()``'s value once it stops failing an assertion (polled, blocking: for
    tests whose checks are assertions on a command's output); past ``deadline`` seconds
    the last AssertionError, with ``what`` and the tail of each daemon's log."""
    start = time.monotonic()
    while True:
        try:
            return check()
        except AssertionError as failed:
            if time.monotonic() - start > deadline:
                raise AssertionError(
                    f"never, in {deadline:g} s: {what}: {failed}\n{_logs(daemons)}"
                ) from failed
        time.sleep(every)


def _logs(daemons: Mapping[str, DaemonProcess] | Iterable[DaemonProcess]) -> str:
    named = (
        daemons.items() if isinstance(daemons, Mapping) else ((d.log_path.name, d) for d in daemons)
    )
    return "\n".join(f"--- {name}\n{daemon.log_tail()}" for name, daemon in named)
