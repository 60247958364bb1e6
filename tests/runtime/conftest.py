"""The runtime tests' shared fixtures: one private containerd per test module, a
ContainerdRuntime in a containerd namespace and data_dir of its own per test, and a
private registry holding busybox."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from navarch.runtime import NotFound
from navarch.testing.containerd import ContainerdProcess, start_private_containerd
from navarch.testing.daemon import unmount_under
from navarch.testing.images import busybox_archive
from navarch.testing.registry import RegistryProcess, push_archive
from navarch_runtime_containerd import ContainerdOptions, ContainerdRuntime


@pytest.fixture(scope="module")
def registry_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """busybox in a private docker-registry on 127.0.0.1 (no credentials needed): what
    the conformance suite's pull tests pull."""
    with RegistryProcess(tmp_path_factory.mktemp("docker-registry")) as registry:
        archive = busybox_archive(tmp_path_factory.getbasetemp())
        push_archive(registry.host, archive, "navarch/busybox", "1")
        yield f"{registry.host}/navarch/busybox:1"


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerdProcess]:
    process = start_private_containerd(tmp_path_factory.mktemp("containerd"))
    try:
        yield process
    finally:
        process.remove()


@pytest_asyncio.fixture
async def containerd_runtime(
    containerd: ContainerdProcess, tmp_path: Path
) -> AsyncIterator[ContainerdRuntime]:
    options = ContainerdOptions(
        socket=str(containerd.socket_path), namespace=f"t{uuid.uuid4().hex[:12]}"
    )
    runtime = ContainerdRuntime(options, tmp_path / "data")
    try:
        yield runtime
    finally:
        try:
            # remove_sandbox takes its containers (tasks too: shims outlive containerd)
            for sandbox in await runtime.list_sandboxes():
                with contextlib.suppress(NotFound):
                    await runtime.remove_sandbox(sandbox.id)
        finally:
            await runtime.close()
            unmount_under((runtime.data_dir,))  # what a failed removal left (netns mounts)
