"""What every test daemon shares (etcd, the API server …): a free port on 127.0.0.1,
launching and waiting until it answers, stopping by pid (SIGTERM, then SIGKILL),
unmounting what it left, resident memory, and the tail of its log."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Self

from navarch.up.mounts import unmount_under


def require_or_skip(problem: str | None) -> None:
    """A test's daemon cannot run here (``problem`` says why): fail under CI=true, where
    every daemon must run, skip elsewhere. Nothing when ``problem`` is None."""
    import pytest  # here, not at the top: the benchmarks use this module without pytest

    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(problem)
    pytest.skip(problem)


async def stop_process(pid: int, *, timeout: float = 10.0) -> None:
    """SIGSTOP ``pid`` and wait until every one of its threads has stopped: kill()
    returns before the group stop completes, and a thread still running could yet
    answer a request meant to find the process hung."""
    import asyncio  # here: the module's other users are synchronous

    os.kill(pid, signal.SIGSTOP)
    states: set[str] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = {
            (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
            for task in Path(f"/proc/{pid}/task").iterdir()
        }
        if states == {"T"}:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"process {pid} did not stop in {timeout:g}s: thread states {states}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DaemonProcess:
    """Subclasses set ``log_path`` and implement ``start()``, which sets ``process``."""

    process: subprocess.Popen[bytes] | None = None
    log_path: Path

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited after ``timeout`` seconds."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout)

    def _launch_until_ready(
        self,
        command: Sequence[str],
        env: Mapping[str, str],
        ready: Callable[[], bool],
        timeout: float,
        name: str,
        probe: str,
    ) -> None:
        """Start ``command`` in a session of its own, output to ``log_path``, and poll
        ``ready`` until it answers; on exit or after ``timeout`` seconds, stop it and
        raise naming ``name``, ``probe`` (what was asked) and the log's tail."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                list(command),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(env),
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {self.process.returncode}: {self.log_tail()}"
                )
            if ready():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{name} did not answer {probe} in {timeout:g}s: {self.log_tail()}")

    def rss_bytes(self) -> int:
        if self.process is None:
            return 0
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return "(no log)"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def started(*daemons: DaemonProcess) -> Iterator[list[DaemonProcess]]:
    """Start ``daemons`` in order and yield them running; at the end stop them in the
    reverse order — those started before one that failed to start included."""
    running: list[DaemonProcess] = []
    try:
        for daemon in daemons:
            running.append(daemon.start())
        yield running
    finally:
        for daemon in reversed(running):
            daemon.stop()


__all__ = [
    "DaemonProcess",
    "free_port",
    "require_or_skip",
    "started",
    "stop_process",
    "unmount_under",
]
