"""Exec in a simulated container: an acted-out command (``sh -c 'echo …; exit 3'``,
``sleep``), ``cat`` echoing its stdin, or — for anything else, such as a probe's
command — the answer the container's behaviour configures."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Callable, Sequence

from navarch.runtime.types import STDERR, STDOUT
from navarch_runtime_sim.shell import Exit, Process, Sleep, Write


class SimExecSession:
    """One exec (the :class:`navarch.runtime.ExecSession` protocol). Output chunks are
    queued until read; ``wait()`` gives the exit code."""

    def __init__(self) -> None:
        self._chunks: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue()
        self._exit: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._task: asyncio.Task[None] | None = None
        self._echo = False

    # --- the three kinds -------------------------------------------------------------

    @classmethod
    def answering(cls, exit_code: int, stdout: bytes = b"", stderr: bytes = b"") -> SimExecSession:
        session = cls()
        if stdout:
            session.write(STDOUT, stdout)
        if stderr:
            session.write(STDERR, stderr)
        session.finish(exit_code)
        return session

    @classmethod
    def echoing(cls) -> SimExecSession:
        session = cls()
        session._echo = True
        return session

    @classmethod
    def acting(cls, make: Callable[[Write], Process]) -> SimExecSession:
        session = cls()
        process = make(session.write)
        session._task = asyncio.get_running_loop().create_task(session._drive(process))
        return session

    async def _drive(self, process: Process) -> None:
        step: Sleep | Exit = process.run()
        while isinstance(step, Sleep):
            if math.isinf(step.seconds):
                await asyncio.get_running_loop().create_future()  # until closed
            else:
                await asyncio.sleep(step.seconds)
            step = process.run()
        self.finish(step.code)

    @property
    def finished(self) -> bool:
        return self._exit.done()

    def on_finish(self, callback: Callable[[], None]) -> None:
        self._exit.add_done_callback(lambda _: callback())

    # --- fed by the process ------------------------------------------------------------

    def write(self, stream: str, data: bytes) -> None:
        if not self._exit.done():
            self._chunks.put_nowait((stream, data))

    def finish(self, exit_code: int) -> None:
        if not self._exit.done():
            self._exit.set_result(exit_code)
            self._chunks.put_nowait(None)

    # --- the ExecSession protocol ---------------------------------------------------------

    async def write_stdin(self, data: bytes) -> None:
        if self._echo:
            self.write(STDOUT, data)

    async def close_stdin(self) -> None:
        if self._echo:
            self.finish(0)

    async def output(self) -> AsyncIterator[tuple[str, bytes]]:
        while (chunk := await self._chunks.get()) is not None:
            yield chunk

    async def resize(self, width: int, height: int) -> None:
        return None

    async def wait(self) -> int:
        return await asyncio.shield(self._exit)

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.finish(137)  # a process still running is killed with the session


def is_cat(command: Sequence[str]) -> bool:
    return len(command) == 1 and command[0].rsplit("/", 1)[-1] == "cat"
