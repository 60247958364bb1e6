"""Attaching to a simulated container's own process (the contract's AttachSession):
its output from now on, its stdin when it was created with stdin open."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from navarch.runtime.errors import RuntimeFault

if TYPE_CHECKING:
    from navarch_runtime_sim.containers import SimContainer


class SimAttachSession:
    def __init__(self, container: SimContainer, stdin: bool):
        self._container, self._stdin = container, stdin
        self._chunks: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue()
        self._exit: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._detached = False

    # --- fed by the container ----------------------------------------------------------

    def put(self, stream: str, data: bytes) -> None:
        if not self._detached:
            self._chunks.put_nowait((stream, data))

    def finish(self, exit_code: int) -> None:
        """The container exited: its output ends here."""
        if not self._exit.done():
            self._exit.set_result(exit_code)
        self._end()

    def _end(self) -> None:
        if not self._detached:
            self._detached = True
            self._chunks.put_nowait(None)

    # --- the AttachSession protocol ---------------------------------------------------------

    async def write_stdin(self, data: bytes) -> None:
        if not self._stdin:
            raise RuntimeFault("this attach was opened without stdin")
        self._container.feed(data)

    async def close_stdin(self) -> None:
        if self._stdin and self._container.config.stdin_once:
            self._container.close_stdin()

    async def output(self) -> AsyncIterator[tuple[str, bytes]]:
        while (chunk := await self._chunks.get()) is not None:
            yield chunk

    async def resize(self, width: int, height: int) -> None:
        return None

    async def wait(self) -> int:
        return await asyncio.shield(self._exit)

    async def close(self) -> None:
        self._container.attaches.discard(self)
        self._end()
