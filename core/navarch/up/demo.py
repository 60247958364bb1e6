"""The demo images ``navarch up`` puts on every node, built offline from Debian's
static busybox (no registry needed): ``navarch.test/demo:1`` and ``:2``, the same
busybox with a different page in ``/var/www/index.html`` — two versions to roll a
Deployment between. ``navarch.test`` is a reserved name (RFC 2606) that never
resolves, so a node that somehow lacks the image fails to pull instead of asking a
public registry.

The image's ``httpd``, ``sh``, ``sleep`` … are busybox applets::

    command: ["httpd", "-f", "-p", "127.0.0.1:8080", "-h", "/var/www"]
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from loguru import logger

from navarch.runtime import Runtime
from navarch.runtime.archive import busybox_files, write_image_archive

DEMO_REPOSITORY = "navarch.test/demo"
DEMO_VERSIONS = ("1", "2")
DEMO_IMAGES = tuple(f"{DEMO_REPOSITORY}:{version}" for version in DEMO_VERSIONS)

log = logger.bind(component="up")


def write_demo_archive(directory: Path, version: str) -> Path:
    """The archive of ``navarch.test/demo:<version>`` in ``directory`` (written once)."""
    path = Path(directory) / f"demo-{version}.image.tar"
    if path.exists():
        return path
    content = busybox_files()
    files = dict(content.files)
    files["var/www/index.html"] = f"Navarch demo, version {version}\n".encode()
    directory.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    write_image_archive(
        partial,
        f"{DEMO_REPOSITORY}:{version}",
        files,
        symlinks=content.symlinks,
        directories={"tmp": 0o1777, "root": 0o700},
        cmd=("sh",),
    )
    partial.rename(path)
    return path


async def import_demo_images(runtime: Runtime, directory: Path) -> None:
    """Load both demo images into ``runtime`` (already there: loaded again, unchanged)."""
    for version in DEMO_VERSIONS:
        archive = await asyncio.to_thread(write_demo_archive, directory, version)
        await runtime.load_image(archive)
    log.bind(images=list(DEMO_IMAGES)).info("demo images on the node")
