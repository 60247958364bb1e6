"""An exec on containerd: a process added to a container's running task (tasks Exec,
then Start with its exec ID), its stdout/stderr through FIFOs read by the event loop
(logfile.FifoPair), its stdin through a FIFO Navarch writes to.

The stdin FIFO is opened read-write by Navarch: that never blocks (Linux) whether or
not the shim has opened its end yet. The shim holds a writer of it as well, so the
process sees its stdin end only at tasks CloseIO.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from navarch.runtime.errors import NotFound, RuntimeFault
from navarch_runtime_containerd.client import ContainerdClient
from navarch_runtime_containerd.errors import ContainerdError
from navarch_runtime_containerd.logfile import FifoPair, OutputCopier
from navarch_runtime_containerd.records import TASK_RUNNING


class ContainerdExec:
    """A running exec (the ExecSession contract)."""

    def __init__(self, client: ContainerdClient, container_id: str, exec_id: str):
        self.client = client
        self.container_id = container_id
        self.exec_id = exec_id
        self._queue: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue()
        self._ended: set[str] = set()
        self._copier: OutputCopier | None = None
        self._stdin_fd: int | None = None
        self._stdin_path: Path | None = None
        self._exit: int | None = None

    async def start(
        self, directory: Path, process: Mapping[str, Any], *, stdin: bool, tty: bool = False
    ) -> ContainerdExec:
        """Run ``process``; with ``tty`` on a terminal of its own (the shim makes a
        pseudo-terminal and copies it to the stdout FIFO: one stream, stderr ends at
        once, and the stdin FIFO feeds the terminal)."""
        fifos = FifoPair(directory, self.exec_id)
        stdin_path = ""
        try:
            if stdin:
                self._stdin_path = directory / f"{self.exec_id}.stdin.fifo"
                os.mkfifo(self._stdin_path, 0o600)
                self._stdin_fd = os.open(self._stdin_path, os.O_RDWR)
                stdin_path = str(self._stdin_path)
            await self.client.exec_process(
                self.container_id,
                self.exec_id,
                process,
                stdin=stdin_path,
                stdout=str(fifos.paths["stdout"]),
                stderr=str(fifos.paths["stderr"]),
                terminal=tty,
            )
            self._copier = OutputCopier(fifos, None, sink=self._sink)
            await self.client.start_task(self.container_id, self.exec_id)
            # for an exec the shim opens the FIFOs at Start (at Create for a task)
            fifos.opened_by_writer()
        except BaseException:
            if self._copier is not None:
                self._copier.cancel()
            else:
                fifos.close()
            self._close_stdin_fd()
            with contextlib.suppress(RuntimeFault):
                await self.client.delete_process(self.container_id, self.exec_id)
            raise
        return self

    def _sink(self, stream: str, data: bytes) -> None:
        if data:
            self._queue.put_nowait((stream, data))
            return
        self._ended.add(stream)
        if len(self._ended) == 2:
            self._queue.put_nowait(None)

    async def write_stdin(self, data: bytes) -> None:
        if self._stdin_fd is None:
            raise RuntimeError("this exec was started without stdin")
        fd, view = self._stdin_fd, memoryview(data)
        while view:
            written = await asyncio.to_thread(os.write, fd, view)
            view = view[written:]

    async def close_stdin(self) -> None:
        self._close_stdin_fd()
        # the shim holds a writer of the stdin FIFO too (so a reattach keeps it open):
        # CloseIO is what ends the process's stdin
        with contextlib.suppress(NotFound):
            await self.client.close_stdin(self.container_id, self.exec_id)

    def _close_stdin_fd(self) -> None:
        fd, self._stdin_fd = self._stdin_fd, None
        if fd is not None:
            os.close(fd)
        if self._stdin_path is not None:
            self._stdin_path.unlink(missing_ok=True)

    async def output(self) -> AsyncIterator[tuple[str, bytes]]:
        while (chunk := await self._queue.get()) is not None:
            yield chunk
        self._queue.put_nowait(None)  # a second reader ends at once too

    async def resize(self, width: int, height: int) -> None:
        await self.client.resize_pty(self.container_id, width, height, self.exec_id)

    async def wait(self) -> int:
        if self._exit is None:
            while True:
                try:
                    result = await self.client.wait_task(self.container_id, self.exec_id)
                    break
                except TimeoutError:
                    continue  # a long session: wait on
            self._exit = result.exit_status
            await self._release()
        return self._exit

    async def _release(self) -> None:
        if self._copier is not None:
            with contextlib.suppress(TimeoutError):
                # output still buffered in the pipes, then their end-of-file
                await asyncio.wait_for(self._copier.done.wait(), 10)
            self._copier.cancel()
        self._close_stdin_fd()
        try:
            await self.client.delete_process(self.container_id, self.exec_id)
        except NotFound:
            pass
        except ContainerdError:
            # The container's own process ended meanwhile and its task was deleted: the
            # shim went with it ("ttrpc: closed"), and the exec's record too.
            if not await self._task_ended():
                raise

    async def _task_ended(self) -> bool:
        try:
            task = await self.client.get_task(self.container_id)
        except NotFound:
            return True
        return task.status != TASK_RUNNING

    async def kill(self) -> None:
        with contextlib.suppress(NotFound):
            await self.client.kill_task(self.container_id, signal.SIGKILL, exec_id=self.exec_id)

    async def close(self) -> None:
        if self._exit is None:
            await self.kill()
            with contextlib.suppress(RuntimeFault):
                await self.wait()
