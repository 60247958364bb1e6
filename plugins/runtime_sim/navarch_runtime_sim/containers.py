"""A simulated container: its state, its logs, and the acted-out process or configured
behaviour that moves it. Cheap on purpose — a few attributes, at most one pending
timer (``loop.call_later``), no task — so thousands live in one process."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from navarch.runtime.types import (
    STDOUT,
    ContainerConfig,
    ContainerState,
    ContainerStatus,
    LogLine,
)
from navarch_runtime_sim.behaviour import Behaviour
from navarch_runtime_sim.execs import SimExecSession
from navarch_runtime_sim.interactive import InteractiveShell
from navarch_runtime_sim.shell import EXIT_KILL, EXIT_TERM, Exit, Process, Sleep, Step

if TYPE_CHECKING:
    from navarch_runtime_sim.attach import SimAttachSession


class SimContainer:
    __slots__ = (
        "attaches",
        "behaviour",
        "config",
        "created_at",
        "execs",
        "exit_code",
        "finished_at",
        "id",
        "image_id",
        "logs",
        "message",
        "process",
        "reason",
        "removed",
        "sandbox_id",
        "shell",
        "started_at",
        "state",
        "timer",
        "waiters",
    )

    def __init__(
        self,
        container_id: str,
        sandbox_id: str,
        config: ContainerConfig,
        image_id: str,
        behaviour: Behaviour,
    ):
        self.id, self.sandbox_id, self.config = container_id, sandbox_id, config
        self.image_id, self.behaviour = image_id, behaviour
        self.state = ContainerState.CREATED
        self.created_at = time.time()
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.exit_code: int | None = None
        self.reason = self.message = ""
        self.logs: list[LogLine] = []
        self.process: Process | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.waiters: list[asyncio.Future[None]] = []
        self.execs: set[SimExecSession] = set()
        self.attaches: set[SimAttachSession] = set()
        self.shell: InteractiveShell | None = None  # a shell reading its stdin
        self.removed = False

    def status(self) -> ContainerStatus:
        config = self.config
        return ContainerStatus(
            id=self.id,
            name=config.name,
            sandbox_id=self.sandbox_id,
            image=config.image,
            state=self.state,
            image_id=self.image_id,
            labels=config.labels,
            annotations=config.annotations,
            attempt=config.attempt,
            created_at=self.created_at,
            started_at=self.started_at,
            finished_at=self.finished_at,
            exit_code=self.exit_code,
            reason=self.reason,
            message=self.message,
        )

    # --- output and waiting ------------------------------------------------------------

    def write(self, stream: str, data: bytes) -> None:
        """Keep ``data`` as log lines (a last line without newline stays one line)."""
        now = time.time()
        for line in data.splitlines(keepends=True):
            self.logs.append(LogLine(now, stream, line))
        for session in self.attaches:
            session.put(stream, data)
        self._wake()

    def changed(self) -> asyncio.Future[None]:
        """A future done at the next log line or state change."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        return waiter

    def _wake(self) -> None:
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # --- running ---------------------------------------------------------------------

    def start(self, process: Process | None, shell: InteractiveShell | None = None) -> None:
        """Running from now: the configured exit, else the acted-out ``process``, else
        the interactive ``shell`` (reading :meth:`feed`), else until stopped."""
        self.state, self.started_at = ContainerState.RUNNING, time.time()
        if self.behaviour.output:
            self.write(STDOUT, self.behaviour.output.encode())
        if self.behaviour.exit_after is not None:
            self._schedule(Sleep(self.behaviour.exit_after), self._configured_exit)
        elif process is not None:
            self.process = process
            self._advance(process.run())
        elif shell is not None:
            self.shell = shell
        self._wake()

    # --- stdin (an interactive shell reads it; anything else ignores it) ----------------

    def feed(self, data: bytes) -> None:
        if self.shell is None or self.state != ContainerState.RUNNING:
            return
        self.shell.feed(data)
        if self.process is None:
            self._next_line()

    def close_stdin(self) -> None:
        if self.shell is None or self.state != ContainerState.RUNNING:
            return
        self.shell.close()
        if self.process is None:
            self._next_line()

    def _next_line(self) -> None:
        """Run the shell's next waiting line; with none and its input ended, it exits."""
        assert self.shell is not None
        process = self.shell.next_process()
        if process is not None:
            self.process = process
            self._advance(process.run())
        elif self.shell.end_of_input:
            self.exit(self.shell.status)

    def _configured_exit(self) -> None:
        self.timer = None
        self.exit(self.behaviour.exit_code)

    def _resume(self) -> None:
        self.timer = None
        if self.process is not None and self.state == ContainerState.RUNNING:
            self._advance(self.process.run())

    def _advance(self, step: Step) -> None:
        if isinstance(step, Exit):
            process = self.process
            if self.shell is not None and process is not None and not process.exited:
                # One line of an interactive shell done: the shell reads the next.
                self.shell.status, self.process = step.code, None
                self._next_line()
                return
            self.exit(step.code)
        else:
            self._schedule(step, self._resume)

    def _schedule(self, step: Sleep, then: Callable[[], None]) -> None:
        self._cancel_timer()
        if not math.isinf(step.seconds):
            self.timer = asyncio.get_running_loop().call_later(step.seconds, then)

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def adopt(self, session: SimExecSession) -> None:
        """Track an exec, so it ends (137) if the container does first."""
        if not session.finished:
            self.execs.add(session)
            session.on_finish(lambda: self.execs.discard(session))

    def terminate(self) -> None:
        """SIGTERM: a trap runs, is ignored, or the process ends (143)."""
        if self.state != ContainerState.RUNNING:
            return
        if self.process is None:
            self.exit(EXIT_TERM)
            return
        step = self.process.terminate()
        if step is not None:
            self._advance(step)

    def kill(self, exit_code: int = EXIT_KILL, reason: str = "") -> None:
        """SIGKILL (or a kill from outside the runtime)."""
        if self.state == ContainerState.RUNNING:
            self.exit(exit_code, reason)

    def exit(self, code: int, reason: str = "", message: str = "") -> None:
        self._cancel_timer()
        self.process = None
        self.state, self.finished_at = ContainerState.EXITED, time.time()
        self.exit_code = code
        self.reason = reason or ("Completed" if code == 0 else "Error")
        self.message = message
        for session in list(self.execs):
            session.finish(EXIT_KILL)
        for attached in list(self.attaches):
            attached.finish(code)
        self.attaches.clear()
        self._wake()

    def discard(self) -> None:
        """Removed: nothing pending, followers released."""
        self.kill()
        self._cancel_timer()
        self.removed = True
        self._wake()
