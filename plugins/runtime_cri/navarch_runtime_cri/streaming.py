"""An exec through the CRI runtime's streaming server: ``Exec`` answers with a URL
(containerd and CRI-O serve it on a port of their own, 127.0.0.1 by default), and
the client connects to it once, as the kubelet would, over a websocket speaking
Kubernetes' channel protocol ``v4.channel.k8s.io``: each binary message starts with
its channel's number — 0 stdin, 1 stdout, 2 stderr, 3 the exit status (a Kubernetes
``Status`` as JSON), 4 terminal resizes (``{"Width": …, "Height": …}``).

What v4 cannot do is close stdin alone (only v5, which containerd 1.6's streaming
server does not speak, can): :meth:`CriExec.close_stdin` says so rather than
hanging; a terminal's end of input is a ^D written to stdin.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import aiohttp
from loguru import logger

from navarch.runtime.errors import InvalidConfig, RuntimeFault
from navarch.runtime.types import STDERR, STDOUT

PROTOCOL = "v4.channel.k8s.io"
STDIN, OUT, ERR, STATUS, RESIZE = 0, 1, 2, 3, 4
_STREAMS = {OUT: STDOUT, ERR: STDERR}
_CONNECT_TIMEOUT = 30.0


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
        self._session: aiohttp.ClientSession | None = None
        self._socket: aiohttp.ClientWebSocketResponse | None = None
        self._exit: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._log = logger.bind(exec_url=url)

    async def connect(self) -> CriExec:
        # the streaming server is the runtime's own, on loopback: no proxy applies
        self._session = aiohttp.ClientSession(trust_env=False)
        try:
            self._socket = await self._session.ws_connect(
                self.url,
                protocols=(PROTOCOL,),
                timeout=aiohttp.ClientWSTimeout(ws_close=10),
                max_msg_size=0,
                autoping=True,
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            await self._session.close()
            raise RuntimeFault(
                f"exec: the runtime's streaming server at {self.url}: {exc}"
            ) from exc
        if self._socket.protocol != PROTOCOL:
            await self.close()
            raise RuntimeFault(
                f"exec: the streaming server at {self.url} does not speak {PROTOCOL}"
            )
        return self

    async def write_stdin(self, data: bytes) -> None:
        if not self.stdin:
            raise InvalidConfig("exec was started without stdin")
        assert self._socket is not None
        await self._socket.send_bytes(bytes([STDIN]) + data)

    async def close_stdin(self) -> None:
        raise InvalidConfig(
            "the CRI streaming protocol (v4.channel.k8s.io) cannot close stdin alone; "
            "on a terminal, write ^D (\\x04) to end input"
        )

    async def resize(self, width: int, height: int) -> None:
        if not self.tty:
            return  # no terminal to resize
        assert self._socket is not None
        size = json.dumps({"Width": width, "Height": height}).encode()
        await self._socket.send_bytes(bytes([RESIZE]) + size)

    async def output(self) -> AsyncIterator[tuple[str, bytes]]:
        assert self._socket is not None
        async for message in self._socket:
            if message.type != aiohttp.WSMsgType.BINARY or not message.data:
                continue
            channel, data = message.data[0], message.data[1:]
            if channel in _STREAMS and data:
                yield _STREAMS[channel], data
            elif channel == STATUS and data:
                self._settle(data)
        if not self._exit.done():
            # the server closed without a status: the process is gone, how is unknown
            self._exit.set_exception(
                RuntimeFault(
                    f"exec: the streaming server at {self.url} closed without an exit status"
                )
            )

    def _settle(self, data: bytes) -> None:
        if self._exit.done():
            return
        try:
            self._exit.set_result(exit_code_of(json.loads(data)))
        except (ValueError, RuntimeFault) as exc:
            self._exit.set_exception(
                exc if isinstance(exc, RuntimeFault) else RuntimeFault(f"exec: {exc}")
            )

    async def wait(self) -> int:
        if not self._exit.done():
            # nobody read the output: drain it here, the status comes after it
            async for _ in self.output():
                pass
        return await self._exit

    async def close(self) -> None:
        socket, self._socket = self._socket, None
        if socket is not None:
            with contextlib.suppress(Exception):
                await socket.close()
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        if not self._exit.done():
            self._exit.cancel()
