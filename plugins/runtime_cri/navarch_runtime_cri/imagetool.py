"""What CRI cannot do with images, done by a command of the runtime's own (options
``image_load_command`` and ``image_untag_command``): CRI has no call to load an
image archive, and its RemoveImage removes an image with every name it has.

For containerd that is ``ctr`` (Debian's containerd ships it) against the same socket,
in the ``k8s.io`` namespace where the CRI plugin keeps its images; containerd's CRI
plugin sees the image through containerd's events. For CRI-O, ``podman`` shares its
image store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from loguru import logger

_TIMEOUT = 300.0


class ToolError(Exception):
    """The command failed; the message carries its output."""


def fill(command: Sequence[str], **values: str) -> list[str]:
    """The command's words with ``{name}`` placeholders filled in."""
    words = []
    for word in command:
        for name, value in values.items():
            word = word.replace("{" + name + "}", value)
        words.append(word)
    return words


async def run_tool(command: Sequence[str], timeout: float = _TIMEOUT) -> str:
    """Run ``command``; its output, or :class:`ToolError` with it when it fails."""
    log = logger.bind(command=command[0])
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
    except OSError as exc:
        raise ToolError(f"{command[0]}: {exc.strerror or exc}") from exc
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise ToolError(f"{' '.join(command)} did not finish in {timeout:g}s (killed)") from None
    text = output.decode(errors="replace").strip()
    if process.returncode != 0:
        log.bind(returncode=process.returncode).debug("image command failed")
        raise ToolError(f"{' '.join(command)} exited with {process.returncode}: {text}")
    return text
