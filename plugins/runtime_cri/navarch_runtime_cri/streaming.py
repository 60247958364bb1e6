"""An exec through the CRI runtime's streaming server: ``Exec`` answers with a URL
(containerd and CRI-O serve it on a port of their own, 127.0.0.1 by default), and
the client connects to it once, as the kubelet does, over SPDY/3.1 (spdy.py)
speaking Kubernetes' remote command protocol ``v4.channel.k8s.io``: a stream per
channel — the exit status (a Kubernetes ``Status`` as JSON), stdin, stdout, stderr,
terminal resizes (``{"Width": …, "Height": …}``) — and stdin closed on its own (FIN)
when the caller's input ends.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from loguru import logger

from navarch.runtime.errors import InvalidConfig, RuntimeFault
from navarch.runtime.types import STDERR, STDOUT
from navarch_runtime_cri.spdy import SpdyConnection

_STREAM_ERROR, _STREAM_STDIN, _STREAM_STDOUT = "error", "stdin", "stdout"
_STREAM_STDERR, _STREAM_RESIZE = "stderr", "resize"


def exit_code_of(status: dict) -> int:
    """The exit code in a streaming ``Status``: Success is 0; a non-zero exit is a
    Failure with the reason NonZeroExitCode and the code as an ExitCode cause."""
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            return int(cause.get("message", "1"))
    raise RuntimeFault(f"exec failed: {status.get('message') or status}")


class CriExec:
    """One exec over the streaming server at ``url``; :meth:`connect` first."""

    def __init__(self, url: str, *, stdin: bool, tty: bool):
        self.url = url
        self.stdin = stdin
        self.tty = tty
        self._conn: SpdyConnection | None = None
        self._ids: dict[str, int] = {}
        self._names: dict[int, str] = {}
        self._status = bytearray()
        self._exit: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._stdin_closed = False
        self._log = logger.bind(exec_url=url)

    async def connect(self) -> CriExec:
        self._conn = await SpdyConnection.upgrade(self.url)
        wanted = [_STREAM_ERROR]
        if self.stdin:
            wanted.append(_STREAM_STDIN)
        wanted.append(_STREAM_STDOUT)
        if self.tty:
            wanted.append(_STREAM_RESIZE)  # a terminal merges stderr into stdout
        else:
            wanted.append(_STREAM_STDERR)
        for name in wanted:
            stream_id = await self._conn.open_stream({"streamtype": name})
            self._ids[name], self._names[stream_id] = stream_id, name
        return self

    def _connection(self) -> SpdyConnection:
        if self._conn is None:
            raise RuntimeFault("exec: not connected (or already closed)")
        return self._conn

    async def write_stdin(self, data: bytes) -> None:
        if not self.stdin or self._stdin_closed:
            raise InvalidConfig("exec's stdin is not open")
        await self._connection().send(self._ids[_STREAM_STDIN], data)

    async def close_stdin(self) -> None:
        if self.stdin and not self._stdin_closed:
            self._stdin_closed = True
            await self._connection().send(self._ids[_STREAM_STDIN], b"", fin=True)

    async def resize(self, width: int, height: int) -> None:
        if not self.tty:
            return  # no terminal to resize
        size = json.dumps({"Width": width, "Height": height}).encode()
        await self._connection().send(self._ids[_STREAM_RESIZE], size)

    async def output(self) -> AsyncIterator[tuple[str, bytes]]:
        """Output chunks until every output stream ended; the exit status comes on
        the error stream, read alongside."""
        conn = self._connection()
        open_outputs = {self._ids[n] for n in (_STREAM_STDOUT, _STREAM_STDERR) if n in self._ids}
        error_open = True
        while open_outputs or error_open:
            frame = await conn.read_frame()
            if frame is None:
                break
            stream_id, data, fin = frame
            name = self._names.get(stream_id)
            if name == _STREAM_STDOUT and data:
                yield STDOUT, data
            elif name == _STREAM_STDERR and data:
                yield STDERR, data
            elif name == _STREAM_ERROR:
                self._status += data
            if fin:
                open_outputs.discard(stream_id)
                if name == _STREAM_ERROR:
                    error_open = False
        self._settle()

    def _settle(self) -> None:
        if self._exit.done():
            return
        if not self._status:
            # the error stream ended empty: the process exited 0 (protocol v1's way)
            self._exit.set_result(0)
            return
        try:
            self._exit.set_result(exit_code_of(json.loads(bytes(self._status))))
        except RuntimeFault as exc:
            self._exit.set_exception(exc)
        except ValueError as exc:
            self._exit.set_exception(RuntimeFault(f"exec: an unreadable exit status: {exc}"))

    async def wait(self) -> int:
        if not self._exit.done():
            # nobody read the output: drain it here, the status comes with it
            async for _ in self.output():
                pass
        return await self._exit

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()
        if not self._exit.done():
            self._exit.cancel()
