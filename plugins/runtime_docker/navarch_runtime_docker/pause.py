"""The sandbox ("pause") image, made offline: the host's static busybox in one layer,
written with :func:`navarch.runtime.archive.write_image_archive` and loaded into the
engine the first time a sandbox needs it. It is never pulled, so nodes need no
registry and no Docker Hub.

Its process only holds the pod's namespaces. As PID 1 it gets no default signal
handling, so it traps SIGTERM itself and exits at once (``docker stop`` needs no
SIGKILL); ``wait`` on a background sleep keeps the trap responsive.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from loguru import logger

from navarch.runtime import CreateError
from navarch.runtime.archive import busybox_files, write_image_archive
from navarch.runtime.types import ImageRef
from navarch_runtime_docker.engine import Engine
from navarch_runtime_docker.images import image_status, load_image

PAUSE_SCRIPT = "trap 'exit 0' TERM INT; while :; do sleep 86400 & wait $!; done"
PAUSE_ENTRYPOINT = ("/bin/sh", "-c", PAUSE_SCRIPT)


def write_pause_archive(dest: Path, tag: str) -> ImageRef:
    content = busybox_files(applets=("sh", "sleep"))
    return write_image_archive(
        dest, tag, content.files, symlinks=content.symlinks, entrypoint=PAUSE_ENTRYPOINT
    )


class PauseImage:
    """Makes sure the engine holds the sandbox image, building it at most once at a
    time (concurrent sandboxes wait for the same load). Once seen, it is not asked
    for again (one call less per pod) until :meth:`forget` says it went missing."""

    def __init__(self, engine: Engine, tag: str, *, build: bool):
        self.engine, self.tag, self.build = engine, tag, build
        self._lock = asyncio.Lock()
        self._seen = False

    def forget(self) -> None:
        self._seen = False

    async def ensure(self) -> None:
        if self._seen:
            return
        async with self._lock:
            if await image_status(self.engine, self.tag) is not None:
                self._seen = True
                return
            if not self.build:
                # Another image was configured: we never pull it behind the user's back.
                raise CreateError(
                    f"sandbox image {self.tag!r} is not loaded in docker: load it, or leave "
                    "runtime.options.sandbox_image at its default (built offline)"
                )
            with tempfile.TemporaryDirectory(prefix="navarch-pause-") as scratch:
                archive = Path(scratch) / "pause.tar"
                ref = await asyncio.to_thread(write_pause_archive, archive, self.tag)
                await load_image(self.engine, archive)
            self._seen = True
            logger.bind(runtime="docker", image=self.tag, id=ref.id).info(
                "sandbox image built and loaded"
            )
