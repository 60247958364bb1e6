"""navarch up keeps the cluster's own containerd running (issue 21 item 13): started
again when it dies, with a growing delay, given up loudly after repeated fast
failures; and navarch down ends what a dead containerd left in its state directory.
A stand-in program plays containerd here; tests/e2e/test_up_restart.py kills the
real one under a running cluster."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from navarch.testing.waiting import eventually
from navarch.up.containerd import PrivateContainerd, alive
from navarch.up.supervise import ContainerdGaveUp, RestartPolicy, supervise_containerd

FAST = RestartPolicy(first_delay=0.01, poll_seconds=0.02, answer_seconds=5.0, fast_failures=3)


@pytest.fixture
def logged() -> Iterator[list[str]]:
    seen: list[str] = []
    logger.enable("navarch")  # the library is quiet unless asked (navarch/__init__.py)
    sink = logger.add(lambda message: seen.append(str(message)), level="WARNING")
    yield seen
    logger.remove(sink)
    logger.disable("navarch")


def stand_in(tmp_path: Path, body: str) -> PrivateContainerd:
    program = tmp_path / "containerd"
    program.write_text(f"#!/bin/sh\n{body}\n")
    program.chmod(0o755)
    return PrivateContainerd(tmp_path / "cluster" / "containerd", containerd=str(program))


async def answering() -> str | None:
    return None


async def refusing() -> str | None:
    return "connection refused"


def test_the_restart_delay_doubles_up_to_its_bound():
    policy = RestartPolicy(first_delay=0.5, max_delay=3.0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


async def test_a_containerd_that_dies_is_started_again(tmp_path, logged):
    containerd = stand_in(tmp_path, "exec sleep 600")
    first = containerd.start()
    supervisor = asyncio.ensure_future(supervise_containerd(containerd, answering, FAST))
    started: list[int] = [first]
    try:
        os.kill(first, signal.SIGKILL)

        async def started_again() -> bool:
            pid = int(containerd.pid_file.read_text())
            if pid != first and alive(pid):
                started.append(pid)
                return True
            return False

        async def restart_logged() -> bool:
            return any("containerd is back" in line for line in logged)

        await eventually(started_again, "containerd started again")
        await eventually(restart_logged, "the restart logged")
        assert not supervisor.done()
        assert any("exited; starting it again" in line for line in logged)
    finally:
        supervisor.cancel()
        await asyncio.gather(supervisor, return_exceptions=True)
        for pid in started:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        containerd.reap()


async def test_a_containerd_that_keeps_dying_is_given_up_loudly(tmp_path, logged):
    containerd = stand_in(tmp_path, "echo 'bad configuration' >&2; exit 1")
    containerd.start()
    with pytest.raises(ContainerdGaveUp) as caught:
        await asyncio.wait_for(supervise_containerd(containerd, refusing, FAST), 60)
    message = str(caught.value)
    assert "exited 3 times in a row" in message
    assert str(containerd.log_path) in message
    assert sum("exited; starting it again" in line for line in logged) == FAST.fast_failures
    assert "bad configuration" in containerd.log_path.read_text()


def test_down_ends_what_is_left_in_the_state_directory_only(tmp_path):
    """A shim runs in its container's bundle under containerd's state directory; after
    its containerd died and another was started, nothing else ends it."""
    containerd = PrivateContainerd(tmp_path / "containerd")
    bundle = containerd.state / "io.containerd.runtime.v2.task" / "navarch" / "abc"
    bundle.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shim = subprocess.Popen(["sleep", "600"], cwd=bundle)
    other = subprocess.Popen(["sleep", "600"], cwd=elsewhere)
    try:
        assert containerd.leftover_processes() == [shim.pid]
        assert containerd.end_leftovers() == [shim.pid]
        assert shim.wait(timeout=30) == -signal.SIGKILL
        assert other.poll() is None, "a process outside the state directory was ended"
        assert containerd.leftover_processes() == []
    finally:
        for process in (shim, other):
            process.kill()
            process.wait(timeout=30)
