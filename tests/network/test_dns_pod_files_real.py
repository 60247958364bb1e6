"""A pod's resolv.conf and /etc/hosts in real containers (issue 24 item 6): an agent
on a private containerd, and on a private dockerd, mounts the files it wrote over the
image's /etc/resolv.conf and /etc/hosts (files the busybox image does not even have)."""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import attrs
import pytest

from navarch.agent.dnsconfig import ResolvConf
from navarch.client import Client
from navarch.runtime import NotFound, Runtime, labels
from navarch.testing.containerd import ContainerdProcess, start_private_containerd
from navarch.testing.daemon import require_or_skip, unmount_under
from navarch.testing.dockerd import DockerdProcess, dockerd_problem
from navarch.testing.images import BUSYBOX_IMAGE, busybox_archive
from navarch.testing.waiting import eventually
from tests.agent.conftest import FAST, build_runtime, pod_body, running_agent

pytestmark = pytest.mark.daemon


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerdProcess]:
    process = start_private_containerd(tmp_path_factory.mktemp("containerd"))
    try:
        yield process
    finally:
        process.remove()


@pytest.fixture(scope="module")
def dockerd() -> Iterator[DockerdProcess]:
    require_or_skip(dockerd_problem())
    directory = Path(tempfile.mkdtemp(prefix="nv", dir="/tmp"))  # short: socket path limit
    with DockerdProcess(directory) as process:
        yield process


@pytest.fixture(params=["containerd", "docker"])
async def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Runtime]:
    if request.param == "containerd":
        socket = request.getfixturevalue("containerd").socket_path
        options = {"socket": str(socket), "namespace": f"d{uuid.uuid4().hex[:12]}"}
    else:
        options = {"socket": request.getfixturevalue("dockerd").socket_url}
    runtime = build_runtime(request.param, options, tmp_path / "runtime")
    try:
        await runtime.load_image(busybox_archive(tmp_path))
        yield runtime
    finally:
        for sandbox in await runtime.list_sandboxes():
            with contextlib.suppress(NotFound):
                await runtime.remove_sandbox(sandbox.id)
        await runtime.close()
        unmount_under((tmp_path,))


async def read_in(runtime: Runtime, pod: str, path: str) -> str:
    running = [
        c
        for c in await runtime.list_containers({labels.POD_NAME: pod})
        if c.state.value == "running"
    ]
    if not running:
        return ""
    result = await runtime.exec_sync(running[0].id, ["cat", path], 10)
    return result.stdout.decode() if result.exit_code == 0 else ""


async def test_containers_see_the_pods_resolv_conf(
    client: Client, runtime: Runtime, tmp_path: Path
):
    suffix = uuid.uuid4().hex[:6]
    node = f"dnsfiles-{suffix}"
    settings = attrs.evolve(FAST, data_dir=tmp_path / "agent")
    async with running_agent(client, runtime, node, settings):
        await client.pods.create(pod_body(f"cf-{suffix}", node, image=BUSYBOX_IMAGE))
        await client.pods.create(
            pod_body(f"hn-{suffix}", node, image=BUSYBOX_IMAGE, hostNetwork=True)
        )
        host = ResolvConf.of_host()
        cluster_first = (
            "search default.svc.cluster.local svc.cluster.local cluster.local"
            + "".join(f" {s}" for s in host.searches)
            + "\nnameserver 10.43.0.10\noptions ndots:5\n"
        )

        async def written(pod: str, expected: str) -> bool:
            return await read_in(runtime, pod, "/etc/resolv.conf") == expected

        await eventually(
            lambda: written(f"cf-{suffix}", cluster_first), "the ClusterFirst resolv.conf"
        )
        # hostNetwork with ClusterFirst: the node's own resolvers (as the kubelet).
        await eventually(lambda: written(f"hn-{suffix}", host.render()), "the node's resolv.conf")
        for name in (f"cf-{suffix}", f"hn-{suffix}"):
            await client.pods.delete(name, "default", grace_period_seconds=0)
