"""Running one CNI plugin binary as the CNI specification says (SPEC.md, "Protocol
parameters" and "Execution protocol"): the parameters in ``CNI_*`` environment
variables, the plugin's configuration on stdin, a result or an error as JSON on stdout.

The binaries are exec'd per pod by design of the specification; they run as asyncio
subprocesses so the agent's event loop never waits on them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import Any

import attrs

ADD, DEL, CHECK = "ADD", "DEL", "CHECK"


class CniError(Exception):
    """A plugin failed: its error code and message (the spec's error result), or why it
    could not be run at all."""

    def __init__(self, plugin: str, command: str, message: str, code: int = 0):
        self.plugin, self.command, self.code, self.message = plugin, command, code, message
        super().__init__(f"CNI plugin {plugin} {command} failed: {message}")


@attrs.frozen
class Invocation:
    """The protocol parameters of one call."""

    command: str
    container_id: str
    netns: str  # a path; "" for a DEL whose namespace is gone
    ifname: str
    bin_dir: str


async def invoke(invocation: Invocation, config: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run the plugin ``config["type"]``; its result (``{}`` for DEL); CniError."""
    plugin = str(config["type"])
    binary = Path(invocation.bin_dir) / plugin
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "CNI_COMMAND": invocation.command,
        "CNI_CONTAINERID": invocation.container_id,
        "CNI_NETNS": invocation.netns,
        "CNI_IFNAME": invocation.ifname,
        "CNI_PATH": invocation.bin_dir,
    }
    try:
        process = await asyncio.create_subprocess_exec(
            str(binary),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
    except OSError as exc:
        raise CniError(plugin, invocation.command, f"cannot run {binary}: {exc}") from exc
    try:
        stdout, stderr = await asyncio.wait_for(
            _exchange(process, json.dumps(config).encode()), timeout
        )
    except (TimeoutError, asyncio.CancelledError):
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        raise CniError(plugin, invocation.command, *_error_of(stdout, stderr, process.returncode))
    if invocation.command != ADD or not stdout.strip():
        return {}
    try:
        result = json.loads(stdout)
    except ValueError as exc:
        raise CniError(plugin, invocation.command, f"result is not JSON: {exc}") from exc
    if not isinstance(result, dict):
        raise CniError(plugin, invocation.command, "result is not a JSON object")
    return result


async def _exchange(process: asyncio.subprocess.Process, data: bytes) -> tuple[bytes, bytes]:
    """``communicate`` that survives a plugin exiting before it reads its configuration:
    under uvloop, writing to the pipe of a process already gone raises RuntimeError
    (MagicStack/uvloop#506) and ``communicate`` would lose the output that says why."""

    async def feed() -> None:
        assert process.stdin is not None
        try:
            process.stdin.write(data)
            await process.stdin.drain()
        except (RuntimeError, BrokenPipeError, ConnectionResetError):
            pass  # its exit status and output tell what happened
        finally:
            with contextlib.suppress(RuntimeError, BrokenPipeError, ConnectionResetError):
                process.stdin.close()

    assert process.stdout is not None and process.stderr is not None
    _, stdout, stderr = await asyncio.gather(feed(), process.stdout.read(), process.stderr.read())
    await process.wait()
    return stdout, stderr


def _error_of(stdout: bytes, stderr: bytes, returncode: int | None) -> tuple[str, int]:
    """The spec's error object ``{"code", "msg", "details"}``, else the raw output."""
    try:
        error = json.loads(stdout)
        message = str(error.get("msg") or "")
        if error.get("details"):
            message += f" ({error['details']})"
        return message or f"exit status {returncode}", int(error.get("code") or 0)
    except (ValueError, AttributeError, TypeError):
        text = (stderr or stdout).decode(errors="replace").strip()
        return text or f"exit status {returncode}", 0
