"""Keeping the cluster's own containerd running while ``navarch up`` runs.

``up`` started that containerd, so nobody else brings it back when it dies (a crash,
an OOM kill, a stray ``kill -9``): without it every node reports its runtime down and
stays NotReady. The supervisor watches it and starts it again, as systemd's
``Restart=on-failure`` with a growing ``RestartSec`` would; the shims keep the
containers running meanwhile, and the new containerd finds them under its state
directory, so the agents adopt the same containers when their runtime answers again.

A containerd that keeps dying soon after each start (a broken configuration, a full
disk) is not restarted for ever: after :attr:`RestartPolicy.fast_failures` such
failures in a row the supervisor gives up with an error naming containerd's log, and
``navarch up`` stops with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import attrs
from loguru import logger

from navarch.startup import StartupError
from navarch.up.containerd import PrivateContainerd

log = logger.bind(component="containerd-supervisor")

# None when the runtime answers; else why not (runtimes.answers' shape).
Probe = Callable[[], Awaitable[str | None]]


class ContainerdGaveUp(StartupError):
    """The cluster's containerd failed too often in a row to be started again."""


@attrs.frozen
class RestartPolicy:
    """When to start the cluster's containerd again.

    The first restart waits ``first_delay`` seconds, each further one twice the
    previous, at most ``max_delay``. A containerd that ran ``stable_seconds`` or longer
    before it died failed "slowly": the count starts again from the first delay.
    ``fast_failures`` fast failures in a row (died sooner, or never answered within
    ``answer_seconds``) and the supervisor gives up.
    """

    first_delay: float = 0.5
    max_delay: float = 30.0
    stable_seconds: float = 60.0
    fast_failures: int = 5
    answer_seconds: float = 60.0
    poll_seconds: float = 0.5

    def delay(self, failures: int) -> float:
        """The wait before the restart that follows ``failures`` fast failures."""
        return min(self.first_delay * 2 ** max(failures - 1, 0), self.max_delay)


async def supervise_containerd(
    containerd: PrivateContainerd,
    answers: Probe,
    policy: RestartPolicy | None = None,
) -> None:
    """Watch the cluster's containerd (already started and answering) until cancelled;
    start it again whenever it exits. Raises :class:`ContainerdGaveUp` after too many
    fast failures in a row."""
    policy = policy or RestartPolicy()
    loop = asyncio.get_running_loop()
    started_at = loop.time()
    failures = 0
    while True:
        await _until_exited(containerd, policy.poll_seconds)
        ran = loop.time() - started_at
        failures = failures + 1 if ran < policy.stable_seconds else 1
        if failures > policy.fast_failures:
            raise ContainerdGaveUp(
                f"the cluster's containerd exited {failures - 1} times in a row, each within "
                f"{policy.stable_seconds:g} s of its start; not starting it again. See "
                f"{containerd.log_path}, then start navarch up again"
            )
        delay = policy.delay(failures)
        log.bind(ran_seconds=round(ran, 1), failures=failures, delay=delay).warning(
            "the cluster's containerd exited; starting it again"
        )
        await asyncio.sleep(delay)
        started_at = loop.time()
        problem = await _restart(containerd, answers, policy.answer_seconds)
        if problem is None:
            log.bind(pid=containerd.pid(), failures=failures).warning(
                "the cluster's containerd is back"
            )
        else:
            log.bind(problem=problem, log=str(containerd.log_path)).error(
                "the cluster's containerd did not come back"
            )
            # a hung one is ended, so that the next round starts afresh
            await asyncio.to_thread(containerd.stop)


async def _until_exited(containerd: PrivateContainerd, poll_seconds: float) -> None:
    while not containerd.exited():
        await asyncio.sleep(poll_seconds)
    containerd.reap()


async def _restart(containerd: PrivateContainerd, answers: Probe, seconds: float) -> str | None:
    """Start containerd and wait until it answers: None, else why it did not."""
    try:
        containerd.start()
    except (RuntimeError, OSError) as exc:
        return str(exc)
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        problem = await answers()
        if problem is None:
            return None
        if containerd.exited():
            return f"it exited ({problem})"
        if asyncio.get_running_loop().time() > deadline:
            return f"it did not answer in {seconds:g} s ({problem})"
        await asyncio.sleep(0.2)
