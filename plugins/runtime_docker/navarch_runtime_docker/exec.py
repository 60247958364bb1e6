"""Exec through the engine: ``POST /containers/{id}/exec`` creates it, and
``POST /exec/{id}/start`` with ``Upgrade: tcp`` turns its own connection into the
process's streams (the engine "hijacks" it): we write stdin to it, read output from
it (multiplexed, or raw with a TTY), and half-close it to close stdin. That
connection is opened by hand (asyncio streams), not through aiohttp's pool, since
after the 101 answer it is no longer HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence

from navarch.runtime import STDERR, ExecResult, NotFound
from navarch_runtime_docker.engine import Engine, EngineError, path_part
from navarch_runtime_docker.streams import frames, raw_chunks

_MAX_HEAD = 64 * 1024


class DockerExecSession:
    """One running exec (the contract's ExecSession)."""

    def __init__(
        self,
        engine: Engine,
        exec_id: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        tty: bool,
    ):
        self.engine, self.exec_id, self.tty = engine, exec_id, tty
        self._reader, self._writer = reader, writer

    async def write_stdin(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def close_stdin(self) -> None:
        # The engine closes the process's stdin when our side of the socket ends.
        if self._writer.can_write_eof() and not self._writer.is_closing():
            self._writer.write_eof()

    async def output(self) -> AsyncIterator[tuple[str, bytes]]:
        chunks = raw_chunks(self._reader.read) if self.tty else frames(self._reader.readexactly)
        try:
            async for item in chunks:
                yield item
        except (ConnectionError, OSError):
            return

    async def resize(self, width: int, height: int) -> None:
        await self.engine.call(
            "POST", f"/exec/{self.exec_id}/resize", params={"h": height, "w": width}
        )

    async def wait(self) -> int:
        # The stream may close a moment before the engine records the exit code.
        pause = 0.005
        while True:
            info = await self.engine.call("GET", f"/exec/{self.exec_id}/json")
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.25)

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    if len(head) > _MAX_HEAD:
        raise EngineError(502, "answer head too large")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split()[1])
    headers = {}
    for line in header_lines:
        if ":" in line:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
    return status, headers


async def start_exec(
    engine: Engine, container_id: str, command: Sequence[str], *, stdin: bool, tty: bool
) -> DockerExecSession:
    try:
        created = await engine.call(
            "POST",
            f"/containers/{path_part(container_id)}/exec",
            body={
                "AttachStdin": stdin,
                "AttachStdout": True,
                "AttachStderr": True,
                "Tty": tty,
                "Cmd": list(command),
            },
        )
    except EngineError as err:
        if err.status == 404:
            raise NotFound("container", container_id) from err
        raise
    exec_id = created["Id"]
    body = json.dumps({"Detach": False, "Tty": tty}).encode()
    reader, writer = await hijack(engine, f"/exec/{exec_id}/start", body)
    return DockerExecSession(engine, exec_id, reader, writer, tty)


async def hijack(
    engine: Engine, path: str, body: bytes = b""
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """POST ``path`` (under the API prefix) asking the engine to turn the connection
    into the process's streams (``Upgrade: tcp``); the connection once it has."""
    prefix = await engine.api_prefix()
    reader, writer = await engine.open_raw()
    request = (
        f"POST {prefix}{path} HTTP/1.1\r\n"
        f"Host: {engine.host_header}\r\n"
        "Content-Type: application/json\r\n"
        "Connection: Upgrade\r\n"
        "Upgrade: tcp\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    try:
        writer.write(request + body)
        await writer.drain()
        async with asyncio.timeout(engine.options.request_timeout_seconds):
            status, headers = await _read_head(reader)
            if status >= 400:
                length = int(headers.get("content-length") or 0)
                raw = await reader.readexactly(length) if length else await reader.read()
                try:
                    message = json.loads(raw).get("message") or raw.decode()
                except (ValueError, AttributeError):
                    message = raw.decode(errors="replace")
                raise EngineError(status, message)
    except BaseException as err:
        writer.close()
        if isinstance(err, (ConnectionError, asyncio.IncompleteReadError)):
            raise engine.unavailable(err) from err
        raise
    return reader, writer


async def exec_sync(
    engine: Engine, container_id: str, command: Sequence[str], timeout: float
) -> ExecResult:
    """Run to completion; past ``timeout`` raises TimeoutError (the engine offers no
    way to kill an exec'd process: it goes on until it ends by itself)."""
    out, err = bytearray(), bytearray()
    async with asyncio.timeout(timeout):
        session = await start_exec(engine, container_id, command, stdin=False, tty=False)
        try:
            async for stream, chunk in session.output():
                (err if stream == STDERR else out).extend(chunk)
            code = await session.wait()
        finally:
            await session.close()
    return ExecResult(exit_code=code, stdout=bytes(out), stderr=bytes(err))
