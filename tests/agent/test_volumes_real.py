"""Volumes and configuration on real runtimes (issue 23 items 1 and 2): an agent on a
private containerd, and on a private dockerd, runs a pod whose container reads a configMap file, gets a Secret's
value in its environment, shares an emptyDir with a second container, and sees a
ConfigMap change in its mounted file (while a subPath mount of the same file keeps
the content it started with, as in Kubernetes)."""

from __future__ import annotations

import base64
import contextlib
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import attrs
import pytest

from navarch import api
from navarch.client import Client
from navarch.runtime import ContainerState, NotFound, Runtime, labels
from navarch.testing.containerd import ContainerdProcess, start_private_containerd
from navarch.testing.daemon import require_or_skip, unmount_under
from navarch.testing.dockerd import DockerdProcess, dockerd_problem
from navarch.testing.images import BUSYBOX_IMAGE, busybox_archive
from tests.agent.conftest import FAST, build_runtime, eventually, pod_body, running_agent

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
    """The same agent test on each runtime that binds mounts for real processes."""
    if request.param == "containerd":
        socket = request.getfixturevalue("containerd").socket_path
        options = {"socket": str(socket), "namespace": f"v{uuid.uuid4().hex[:12]}"}
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


def as_dict(obj):
    return obj if isinstance(obj, dict) else api.dump(obj)


async def test_config_map_file_secret_env_shared_empty_dir_and_a_live_update(
    client: Client, runtime: Runtime, tmp_path: Path
):
    suffix = uuid.uuid4().hex[:6]
    node, name = f"vols-{suffix}", f"vols-{suffix}"
    cm_name, secret_name = f"app-{suffix}", f"db-{suffix}"
    settings = attrs.evolve(FAST, pod_resync_seconds=1.0, data_dir=tmp_path / "agent")
    body = pod_body(
        name,
        node,
        image=BUSYBOX_IMAGE,
        command=("sh", "-c", "echo $PASSWORD > /shared/from-writer; sleep 3600"),
        container={
            "name": "writer",
            "env": [
                {
                    "name": "PASSWORD",
                    "valueFrom": {"secretKeyRef": {"name": secret_name, "key": "password"}},
                }
            ],
            "volumeMounts": [
                {"name": "shared", "mountPath": "/shared"},
                {"name": "cfg", "mountPath": "/etc/app"},
                {"name": "cfg", "mountPath": "/etc/pinned.conf", "subPath": "app.conf"},
            ],
        },
        volumes=[
            {"name": "shared", "emptyDir": {}},
            {"name": "cfg", "configMap": {"name": cm_name}},
        ],
    )
    body["spec"]["containers"].append(
        {
            "name": "reader",
            "image": BUSYBOX_IMAGE,
            "command": ["sleep", "3600"],
            "volumeMounts": [{"name": "shared", "mountPath": "/data", "readOnly": True}],
        }
    )
    async with running_agent(client, runtime, node, settings):
        await client.configmaps.create(
            {"metadata": {"name": cm_name}, "data": {"app.conf": "colour=blue"}}, "default"
        )
        password = base64.b64encode(b"s3cret").decode()
        await client.secrets.create(
            {"metadata": {"name": secret_name}, "data": {"password": password}}, "default"
        )
        await client.pods.create(body)

        async def both_running():
            found = await runtime.list_containers({labels.POD_NAME: name})
            named = {
                c.labels[labels.CONTAINER_NAME]: c.id
                for c in found
                if c.state == ContainerState.RUNNING
            }
            return named if len(named) == 2 else None

        ids = await eventually(both_running, "both containers running")

        async def run(container: str, *argv: str) -> str:
            result = await runtime.exec_sync(ids[container], list(argv), 10)
            return result.stdout.decode().strip()

        assert await run("writer", "cat", "/etc/app/app.conf") == "colour=blue"

        async def shared():
            return await run("reader", "cat", "/data/from-writer") == "s3cret"

        await eventually(shared, "the reader seeing the writer's file (the Secret's value)")
        result = await runtime.exec_sync(ids["reader"], ["touch", "/data/x"], 10)
        assert result.exit_code != 0  # mounted read-only in the reader

        cm = as_dict(await client.configmaps.get(cm_name, "default"))
        cm["data"] = {"app.conf": "colour=green"}
        await client.configmaps.update(cm)

        async def updated():
            return await run("writer", "cat", "/etc/app/app.conf") == "colour=green"

        await eventually(updated, "the ConfigMap's change in the mounted file")
        assert await run("writer", "cat", "/etc/pinned.conf") == "colour=blue"
        await client.pods.delete(name, "default", grace_period_seconds=0)

        async def gone():
            return not list((tmp_path / "agent" / "pods").iterdir())

        await eventually(gone, "the pod's volume directory removed")
