"""imagePullSecrets: the credentials of a pod's kubernetes.io/dockerconfigjson (and
legacy dockercfg) Secrets reach the runtime's pull for the image's registry — tested
against a docker-registry with htpasswd on a real containerd, where a pod without the
secret cannot pull and one with it runs."""

from __future__ import annotations

import base64
import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from navarch import api
from navarch.agent.pullsecrets import PullCredentials, parse_docker_secret
from navarch.client import Client
from navarch.runtime import NotFound, RegistryAuth
from navarch.testing.containerd import ContainerdProcess, start_private_containerd
from navarch.testing.daemon import unmount_under
from navarch.testing.images import busybox_archive
from navarch.testing.registry import RegistryProcess, push_archive
from tests.agent.conftest import build_runtime, eventually, pod_body, running_agent


def config_json(auths) -> dict[str, bytes]:
    return {".dockerconfigjson": json.dumps({"auths": auths}).encode()}


def test_credentials_match_the_images_registry():
    token = base64.b64encode(b"bob:pw2").decode()
    creds = PullCredentials(
        tuple(
            parse_docker_secret(
                "kubernetes.io/dockerconfigjson",
                config_json(
                    {
                        "127.0.0.1:5000": {"username": "alice", "password": "pw1"},
                        "127.0.0.1:5000/team": {"auth": token},
                        "https://index.docker.io/v1/": {"username": "hub", "password": "h"},
                        "*.example.com": {"username": "glob", "password": "g"},
                    }
                ),
            )
        )
        + tuple(
            parse_docker_secret(
                "kubernetes.io/dockercfg",
                {".dockercfg": json.dumps({"legacy.io": {"auth": token}}).encode()},
            )
        )
    )
    assert creds.for_image("127.0.0.1:5000/app:1") == RegistryAuth("alice", "pw1")
    # The more specific key (a path under the registry) wins.
    assert creds.for_image("127.0.0.1:5000/team/app:1") == RegistryAuth("bob", "pw2")
    assert creds.for_image("busybox") == RegistryAuth("hub", "h")
    assert creds.for_image("docker.io/library/busybox:1") == RegistryAuth("hub", "h")
    assert creds.for_image("registry.example.com/x") == RegistryAuth("glob", "g")
    assert creds.for_image("legacy.io/x:2") == RegistryAuth("bob", "pw2")
    assert creds.for_image("127.0.0.1:5001/app:1") is None  # another port: another registry
    assert creds.for_image("a.b.example.com/x") is None  # a glob matches one label


def test_a_secret_of_another_type_is_no_credential():
    with pytest.raises(ValueError):
        parse_docker_secret("Opaque", {"password": b"x"})


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerdProcess]:
    process = start_private_containerd(tmp_path_factory.mktemp("containerd"))
    try:
        yield process
    finally:
        process.remove()


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryProcess]:
    with RegistryProcess(
        tmp_path_factory.mktemp("registry"), htpasswd={"puller": "s3cret"}
    ) as process:
        archive = busybox_archive(tmp_path_factory.getbasetemp())
        push_archive(process.host, archive, "private/busybox", "1", auth=process.auth)
        yield process


def as_dict(obj):
    return obj if isinstance(obj, dict) else api.dump(obj)


@pytest.mark.daemon
async def test_a_pod_pulls_with_its_image_pull_secret(
    client: Client, containerd: ContainerdProcess, registry: RegistryProcess, tmp_path: Path
):
    suffix = uuid.uuid4().hex[:6]
    node = f"pull-{suffix}"
    image = f"{registry.host}/private/busybox:1"
    options = {"socket": str(containerd.socket_path), "namespace": f"p{uuid.uuid4().hex[:12]}"}
    runtime = build_runtime("containerd", options, tmp_path / "runtime")
    secret = f"regcred-{suffix}"
    auth = base64.b64encode(b"puller:s3cret").decode()
    dockerconfig = json.dumps({"auths": {registry.host: {"auth": auth}}}).encode()
    command = ("sh", "-c", "echo pulled")
    try:
        async with running_agent(client, runtime, node):
            # Without the secret the registry refuses the pull.
            anonymous = f"anon-{suffix}"
            await client.pods.create(pod_body(anonymous, node, image=image, command=command))

            async def refused():
                pod = as_dict(await client.pods.get(anonymous, "default"))
                statuses = pod.get("status", {}).get("containerStatuses") or []
                waiting = statuses[0]["state"].get("waiting", {}) if statuses else {}
                return (
                    waiting
                    if waiting.get("reason") in ("ErrImagePull", "ImagePullBackOff")
                    else None
                )

            await eventually(refused, "the anonymous pull refused")
            await client.secrets.create(
                {
                    "metadata": {"name": secret},
                    "type": "kubernetes.io/dockerconfigjson",
                    "data": {".dockerconfigjson": base64.b64encode(dockerconfig).decode()},
                },
                "default",
            )
            name = f"authed-{suffix}"
            body = pod_body(
                name,
                node,
                image=image,
                command=command,
                restartPolicy="Never",
                imagePullSecrets=[{"name": secret}],
            )
            await client.pods.create(body)

            async def succeeded():
                pod = as_dict(await client.pods.get(name, "default"))
                return pod if pod["status"].get("phase") == "Succeeded" else None

            pod = await eventually(succeeded, "the pod with the pull secret to run")
            (status,) = pod["status"]["containerStatuses"]
            assert status["state"]["terminated"]["exitCode"] == 0
            assert await runtime.image_status(image) is not None
            for pod_name in (anonymous, name):
                await client.pods.delete(pod_name, "default", grace_period_seconds=0)
    finally:
        for sandbox in await runtime.list_sandboxes():
            with contextlib.suppress(NotFound):
                await runtime.remove_sandbox(sandbox.id)
        await runtime.close()
        unmount_under((tmp_path,))
