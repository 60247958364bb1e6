"""ContainerdRuntime (issue 12, in progress) against a private containerd: version,
images (load, status by name and id, list, remove) and pod sandboxes (a state file,
a network namespace of the plugin's own holding only loopback, up). Each test works
in a containerd namespace and a data_dir of its own. Not yet the conformance suite:
containers, logs and exec are still to come."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from navarch.runtime import NotFound
from navarch.runtime.types import SandboxConfig, SandboxState
from navarch.testing.containerd import ContainerdProcess
from navarch.testing.images import BUSYBOX_IMAGE, busybox_archive
from navarch_runtime_containerd.runtime import ContainerdOptions, ContainerdRuntime

pytestmark = pytest.mark.daemon


@pytest.fixture(scope="module")
def containerd(tmp_path_factory) -> Iterator[ContainerdProcess]:
    reason = None
    if not os.access("/usr/bin/containerd", os.X_OK):
        reason = "/usr/bin/containerd is missing: install Debian's containerd (make system-deps)"
    elif os.geteuid() != 0:
        reason = "containerd needs root"
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    process = ContainerdProcess(tmp_path_factory.mktemp("containerd")).start()
    try:
        yield process
    finally:
        process.remove()


@pytest_asyncio.fixture
async def runtime(
    containerd: ContainerdProcess, tmp_path: Path
) -> AsyncIterator[ContainerdRuntime]:
    options = ContainerdOptions(
        socket=str(containerd.socket_path), namespace=f"t{uuid.uuid4().hex[:12]}"
    )
    runtime = ContainerdRuntime(options, tmp_path / "data")
    try:
        yield runtime
    finally:
        for sandbox in await runtime.list_sandboxes():
            await runtime.remove_sandbox(sandbox.id)
        await runtime.close()


async def test_version(runtime: ContainerdRuntime) -> None:
    version = await runtime.version()
    assert version.name == "containerd"
    assert version.version and not version.version.startswith("v")


async def test_images_load_status_list_remove(
    runtime: ContainerdRuntime, tmp_path_factory: pytest.TempPathFactory
) -> None:
    archive = busybox_archive(tmp_path_factory.getbasetemp())
    [loaded] = await runtime.load_image(archive)
    assert BUSYBOX_IMAGE in loaded.tags and loaded.id.startswith("sha256:")
    by_name = await runtime.image_status(BUSYBOX_IMAGE)
    by_id = await runtime.image_status(loaded.id)
    assert by_name is not None and by_name.id == loaded.id and by_id == by_name
    assert [ref.id for ref in await runtime.list_images()] == [loaded.id]
    assert await runtime.image_status("navarch.test/never-loaded:1") is None
    await runtime.remove_image(BUSYBOX_IMAGE)
    assert await runtime.image_status(BUSYBOX_IMAGE) is None
    assert await runtime.list_images() == []
    with pytest.raises(NotFound):
        await runtime.remove_image(BUSYBOX_IMAGE)


def _in_netns(path: str, *command: str) -> str:
    return subprocess.run(
        ["nsenter", f"--net={path}", *command], check=True, capture_output=True, text=True
    ).stdout


async def test_sandbox_has_its_own_netns_with_loopback_up(runtime: ContainerdRuntime) -> None:
    labels = {"navarch.io/pod-name": "web", "navarch.io/pod-uid": uuid.uuid4().hex}
    config = SandboxConfig("web", "default", "u1", labels=labels, annotations={"a": "b, c"})
    sandbox_id = await runtime.create_sandbox(config)
    status = await runtime.sandbox_status(sandbox_id)
    assert status.state == SandboxState.READY and not status.host_network
    assert dict(status.labels) == labels and dict(status.annotations) == {"a": "b, c"}
    assert status.created_at is not None
    netns = status.netns_path
    assert netns and os.stat(netns).st_ino != os.stat("/proc/self/ns/net").st_ino
    # loopback only, and up: the pod's containers talk over 127.0.0.1
    links = _in_netns(netns, "ip", "-o", "link")
    assert [line.split(":")[1].strip() for line in links.splitlines()] == ["lo"]
    assert "UP" in links.split("<", 1)[1].split(">", 1)[0].split(",")
    assert "127.0.0.1" in _in_netns(netns, "ip", "-o", "addr", "show", "lo")

    assert [s.id for s in await runtime.list_sandboxes(labels)] == [sandbox_id]
    assert await runtime.list_sandboxes({**labels, "navarch.io/pod-name": "other"}) == []
    await runtime.stop_sandbox(sandbox_id)
    assert (await runtime.sandbox_status(sandbox_id)).state == SandboxState.NOT_READY
    await runtime.remove_sandbox(sandbox_id)
    assert not Path(netns).exists()
    with pytest.raises(NotFound):
        await runtime.sandbox_status(sandbox_id)
    with pytest.raises(NotFound):
        await runtime.remove_sandbox(sandbox_id)
    assert await runtime.list_sandboxes(labels) == []


async def test_host_network_sandbox_has_no_netns(runtime: ContainerdRuntime) -> None:
    sandbox_id = await runtime.create_sandbox(
        SandboxConfig("h", "default", "u2", host_network=True)
    )
    status = await runtime.sandbox_status(sandbox_id)
    assert status.host_network and status.netns_path == ""
    assert status.state == SandboxState.READY
    await runtime.remove_sandbox(sandbox_id)
