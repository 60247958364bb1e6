"""Attaching to a container's own process on containerd (``kubectl attach``,
``kubectl debug -it``).

Output: the runtime already reads the process's stdout and stderr FIFOs into the
container's log (logfile.OutputCopier); an attach listens to that reader, getting
what is read from the moment it attached (what came before is in the log), until
both FIFOs end — the process and everything that inherited its output are gone.

Input: a container created with ``stdin`` gets a third FIFO, ``main.stdin.fifo``,
which the shim reads into the process (onto its terminal with ``tty``). The runtime
opens it read-write once, at start (or when first attaching after a restart of the
runtime): that never blocks whether or not the shim has opened its end. The process
sees its input end once every writer of the FIFO is gone: the shim's (tasks CloseIO)
and the runtime's own. An attach closes both when it closes stdin on a
``stdin_once`` container, as Kubernetes does; otherwise a later attach may write to
it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from navarch.runtime.errors import NotFound
from navarch_runtime_containerd.client import ContainerdClient
from navarch_runtime_containerd.logfile import OutputCopier

STDIN_FIFO = "main.stdin.fifo"
# How long wait() looks for the exit code once the output ended (the exit event and
# the reap that writes it may come a moment after the FIFOs' end).
EXIT_CODE_SECONDS = 10.0


def open_stdin(directory: Path, *, create: bool) -> int | None:
    """The container's stdin FIFO opened read-write (made first with ``create``);
    None when it does not exist (a container created without stdin)."""
    path = directory / STDIN_FIFO
    if create:
        path.unlink(missing_ok=True)
        os.mkfifo(path, 0o600)
    try:
        return os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return None


class ContainerdAttach:
    """One attach (the contract's AttachSession)."""

    def __init__(
        self,
        client: ContainerdClient,
        container_id: str,
        copier: OutputCopier,
        *,
        stdin_fd: int | None,
        stdin_once: bool,
        exit_code: Callable[[], Awaitable[int | None]],
        release_stdin: Callable[[], None] = lambda: None,
    ):
        self.client, self.container_id = client, container_id
        self._copier, self._stdin_fd, self._stdin_once = copier, stdin_fd, stdin_once
        self._exit_code = exit_code
        self._release_stdin = release_stdin
        self._queue: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue()
        # Streams that ended before this attach: on a terminal stderr ends at once.
        self._open = set(copier.open_streams)
        copier.listeners.add(self._listen)
        if not self._open:
            self._detach()

    def _listen(self, stream: str, data: bytes) -> None:
        if data:
            self._queue.put_nowait((stream, data))
            return
        self._open.discard(stream)
        if not self._open:
            self._detach()

    def _detach(self) -> None:
        if self._listen in self._copier.listeners:
            self._copier.listeners.discard(self._listen)
            self._queue.put_nowait(None)

    async def write_stdin(self, data: bytes) -> None:
        if self._stdin_fd is None:
            raise RuntimeError("this attach was opened without stdin")
        fd, view = self._stdin_fd, memoryview(data)
        while view:
            written = await asyncio.to_thread(os.write, fd, view)
            view = view[written:]

    async def close_stdin(self) -> None:
        self._stdin_fd = None  # the runtime's fd: other attaches may still use it
        if self._stdin_once:
            with contextlib.suppress(NotFound):
                await self.client.close_stdin(self.container_id)
            self._release_stdin()  # the runtime's own write end: the FIFO ends

    async def output(self) -> AsyncIterator[tuple[str, bytes]]:
        while (chunk := await self._queue.get()) is not None:
            yield chunk
        self._queue.put_nowait(None)  # a second reader ends at once too

    async def resize(self, width: int, height: int) -> None:
        await self.client.resize_pty(self.container_id, width, height)

    async def wait(self) -> int:
        await self._copier.done.wait()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + EXIT_CODE_SECONDS
        while (code := await self._exit_code()) is None and loop.time() < deadline:
            await asyncio.sleep(0.05)
        return -1 if code is None else code

    async def close(self) -> None:
        self._detach()
