"""Attaching to a container's own process through the engine: ``POST
/containers/{id}/attach?stream=1&stdin=1&stdout=1&stderr=1`` with ``Upgrade: tcp``
turns the connection into the process's streams (as an exec's start does, exec.py):
output from now on (multiplexed, or raw with a TTY), input written to it. The
engine closes the container's stdin when an attach's input ends only for a
container created with ``StdinOnce``; otherwise it is this attach's input alone."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

from navarch.runtime import NotFound, RuntimeFault
from navarch_runtime_docker.engine import Engine, EngineError, path_part
from navarch_runtime_docker.exec import DockerExecSession, hijack


class DockerAttachSession(DockerExecSession):
    """The exec session's streams; the exit code and resizes are the container's, and
    closing it only detaches."""

    def __init__(
        self,
        engine: Engine,
        container_id: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        tty: bool,
    ):
        super().__init__(engine, "", reader, writer, tty)
        self.container_id = container_id

    async def resize(self, width: int, height: int) -> None:
        path = f"/containers/{path_part(self.container_id)}/resize"
        await self.engine.call("POST", path, params={"h": height, "w": width})

    async def wait(self) -> int:
        # The stream may close a moment before the engine records the exit code.
        pause = 0.005
        while True:
            info = await self.engine.call("GET", f"/containers/{path_part(self.container_id)}/json")
            state = info.get("State") or {}
            if not state.get("Running") and state.get("ExitCode") is not None:
                return int(state["ExitCode"])
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.25)


async def attach_container(
    engine: Engine, container_id: str, *, stdin: bool, tty: bool
) -> DockerAttachSession:
    path = f"/containers/{path_part(container_id)}"
    try:
        info = await engine.call("GET", f"{path}/json")
    except EngineError as err:
        if err.status == 404:
            raise NotFound("container", container_id) from err
        raise
    config = info.get("Config") or {}
    if stdin and not config.get("OpenStdin"):
        raise RuntimeFault(
            f"container {container_id[:12]} was not created with stdin open: attach without stdin"
        )
    query = urlencode({"stream": 1, "stdin": int(stdin), "stdout": 1, "stderr": 1})
    reader, writer = await hijack(engine, f"{path}/attach?{query}")
    # The container's own terminal decides the framing, not the caller's wish.
    return DockerAttachSession(engine, container_id, reader, writer, bool(config.get("Tty")))
