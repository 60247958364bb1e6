"""Test images, built offline from Debian packages (no public registry is reachable
from a test): a busybox image archive that runtimes load and that tests push to a
private registry (:mod:`navarch.testing.registry`) to test real pulls.

Tests name images only by these constants (a ``navarch.test/`` repository, never a
bare ``busybox`` that a runtime could try to resolve on Docker Hub)::

    archive = busybox_archive(tmp_path_factory.getbasetemp())
    await runtime.load_image(archive)
    await runtime.create_container(sandbox, ContainerConfig("c", BUSYBOX_IMAGE, ...))
"""

from __future__ import annotations

import threading
from pathlib import Path

from navarch.runtime.archive import write_busybox_archive

BUSYBOX_REPOSITORY = "navarch.test/busybox"
BUSYBOX_IMAGE = f"{BUSYBOX_REPOSITORY}:1"
# A name no archive and no registry holds: for "image not found" tests.
MISSING_IMAGE = "navarch.test/missing:1"

_written: dict[tuple[Path, str], Path] = {}
_lock = threading.Lock()


def busybox_archive(directory: Path, tag: str = BUSYBOX_IMAGE) -> Path:
    """The busybox image archive for ``tag`` in ``directory``, written once per
    process and directory (the same inputs give the same image id every time)."""
    directory = Path(directory).resolve()
    key = (directory, tag)
    with _lock:
        path = _written.get(key)
        if path is not None and path.exists():
            return path
        safe = tag.replace("/", "_").replace(":", "_")
        path = directory / f"{safe}.image.tar"
        write_busybox_archive(path, tag)
        _written[key] = path
        return path
