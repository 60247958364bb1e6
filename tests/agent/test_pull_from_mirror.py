"""An air-gapped node (issue 23 item 8): a pod naming ``busybox`` (no registry, no tag,
pull policy Always) runs on an agent on containerd whose registries.yaml sends Docker
Hub's images to a private docker-registry on 127.0.0.1 (htpasswd, credentials in the
file) after a first mirror that refuses connections. The default endpoint is disabled:
nothing is ever asked of a public registry."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from navarch import api
from navarch.client import Client
from navarch.runtime import NotFound
from navarch.testing.containerd import ContainerdProcess, start_private_containerd
from navarch.testing.daemon import free_port, unmount_under
from navarch.testing.images import busybox_archive
from navarch.testing.registry import RegistryProcess, push_archive
from tests.agent.conftest import build_runtime, eventually, pod_body, running_agent

pytestmark = pytest.mark.daemon


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerdProcess]:
    process = start_private_containerd(tmp_path_factory.mktemp("containerd"))
    try:
        yield process
    finally:
        process.remove()


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryProcess]:
    with RegistryProcess(
        tmp_path_factory.mktemp("mirror"), htpasswd={"puller": "s3cret"}
    ) as registry:
        archive = busybox_archive(tmp_path_factory.getbasetemp())
        push_archive(registry.host, archive, "library/busybox", "latest", auth=registry.auth)
        yield registry


async def test_a_pod_naming_busybox_runs_from_the_mirror(
    client: Client, containerd: ContainerdProcess, mirror: RegistryProcess, tmp_path: Path
):
    registries = tmp_path / "registries.yaml"
    registries.write_text(
        yaml.safe_dump(
            {
                "mirrors": {
                    "docker.io": {"endpoint": [f"http://127.0.0.1:{free_port()}", mirror.url]}
                },
                "configs": {mirror.host: {"auth": {"username": "puller", "password": "s3cret"}}},
                "disable-default-endpoint": True,
            }
        )
    )
    options = {
        "socket": str(containerd.socket_path),
        "namespace": f"m{uuid.uuid4().hex[:12]}",
        "registries": str(registries),
    }
    runtime = build_runtime("containerd", options, tmp_path / "data")
    node = f"mirror-{uuid.uuid4().hex[:6]}"
    name = f"from-mirror-{uuid.uuid4().hex[:6]}"
    body = pod_body(
        name,
        node,
        image="busybox",
        command=("sh", "-c", "echo ran from the mirror"),
        restartPolicy="Never",
        container={"imagePullPolicy": "Always"},
    )
    try:
        async with running_agent(client, runtime, node):
            await client.pods.create(body)

            async def succeeded():
                pod = api.dump(await client.pods.get(name, "default"))
                return pod if pod["status"].get("phase") == "Succeeded" else None

            pod = await eventually(succeeded, f"pod {name} to run busybox from the mirror")
            (status,) = pod["status"]["containerStatuses"]
            assert status["state"]["terminated"]["exitCode"] == 0
            # The namespace is new: the image came in through this pod's pull, from the
            # mirror (the only source that can serve it), and is held as the pod named it.
            held = await runtime.image_status("busybox")
            assert held is not None and status["imageID"] == held.id
            assert held.tags == ("busybox",)
            await client.pods.delete(name, "default", grace_period_seconds=0)
    finally:
        for sandbox in await runtime.list_sandboxes():
            with contextlib.suppress(NotFound):
                await runtime.remove_sandbox(sandbox.id)
        await runtime.close()
        unmount_under((tmp_path / "data",))
