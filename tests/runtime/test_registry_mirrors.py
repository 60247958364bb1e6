"""Registry mirrors and per-host credentials for air-gapped clusters (issue 23 item 8):
a registries.yaml in k3s's format read by the runtimes that pull by themselves. The
image ``busybox`` (Docker Hub's name, no tag) is pulled from a private docker-registry
on 127.0.0.1 that holds it as ``library/busybox:latest`` behind htpasswd, after a first
mirror that refuses connections; the default endpoint is disabled, so no test ever
reaches a public registry."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from navarch.runtime import ImagePullError, RegistryAuth
from navarch.runtime.registries import (
    NO_REGISTRIES,
    RegistriesError,
    load_registries,
    parse_registries,
)
from navarch.testing.daemon import free_port, require_or_skip
from navarch.testing.dockerd import DockerdProcess, dockerd_problem
from navarch.testing.images import busybox_archive
from navarch.testing.registry import RegistryProcess, push_archive
from navarch_runtime_containerd import ContainerdRuntime
from navarch_runtime_docker import DockerOptions, DockerRuntime

pytestmark = pytest.mark.daemon

USER, PASSWORD = "puller", "mirr0r-s3cret"


# --- the file ------------------------------------------------------------------------------


def test_mirrors_are_tried_in_order_then_the_registry_itself():
    registries = parse_registries(
        {
            "mirrors": {"docker.io": {"endpoint": ["http://10.0.0.5:5000", "mirror.example"]}},
            "configs": {"10.0.0.5:5000": {"auth": {"username": "u", "password": "p"}}},
        }
    )
    sources = registries.sources("docker.io", "library/busybox")
    assert [s.base_url for s in sources] == [
        "http://10.0.0.5:5000",
        "https://mirror.example",  # no scheme: https, as k3s reads it
        "https://registry-1.docker.io",  # Docker Hub's API host, last
    ]
    assert sources[0].auth == RegistryAuth("u", "p")
    assert sources[1].auth is None and sources[2].auth is None
    assert [s.mirror for s in sources] == [True, True, False]


def test_wildcard_rewrite_and_disabled_default_endpoint():
    registries = parse_registries(
        {
            "mirrors": {
                "*": {
                    "endpoint": ["http://127.0.0.1:5000/prefix/v2"],
                    "rewrite": {"^library/(.*)": "mirrored/$1"},
                }
            },
            "disable-default-endpoint": True,
        }
    )
    (only,) = registries.sources("quay.io", "library/busybox")
    assert only.base_url == "http://127.0.0.1:5000/prefix"
    assert only.repository == "mirrored/busybox"
    # A registry with no mirror at all still has its own endpoint to try.
    assert [s.base_url for s in parse_registries({}).sources("127.0.0.1:9", "x")] == [
        "http://127.0.0.1:9"
    ]


def test_a_pods_pull_secret_is_used_where_no_config_names_credentials():
    registries = parse_registries(
        {"configs": {"127.0.0.1:5000": {"auth": {"auth": "dXNlcjpwYXNz"}}}}  # user:pass
    )
    pod_secret = RegistryAuth("pod", "secret")
    assert registries.sources("127.0.0.1:5000", "x", pod_secret)[0].auth == pod_secret
    assert registries.sources("127.0.0.1:5000", "x")[0].auth == RegistryAuth("user", "pass")


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ({"mirror": {}}, "unknown key(s) mirror"),
        ({"mirrors": {"docker.io": {"endpoint": ["ftp://x"]}}}, "is not an http:// or https://"),
        ({"mirrors": {"docker.io": {"endpoint": "http://x"}}}, "must be a list of URLs"),
        ({"mirrors": {"docker.io": {"rewrite": {"(": "x"}}}}, "is not a regex"),
        ({"configs": {"h": {"auth": {"auth": "%%%"}}}}, "not base64 of user:password"),
        ({"configs": {"h": {"auth": {}}}}, "give username and password"),
        ({"disable-default-endpoint": "yes"}, "must be true or false"),
    ],
)
def test_a_wrong_file_names_the_field(document, says, tmp_path: Path):
    path = tmp_path / "registries.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(RegistriesError) as error:
        load_registries(path)
    assert str(path) in str(error.value) and says in str(error.value)


def test_no_file_means_no_mirrors(tmp_path: Path):
    assert load_registries("") is NO_REGISTRIES
    with pytest.raises(RegistriesError, match="cannot read it"):
        load_registries(tmp_path / "missing.yaml")


def test_a_wrong_file_stops_the_runtime_options(tmp_path: Path):
    path = tmp_path / "registries.yaml"
    path.write_text("mirrors: [1, 2]\n")
    with pytest.raises(RegistriesError, match="mirrors: must be a mapping"):
        DockerOptions(registries=str(path))


# --- pulls through a mirror ------------------------------------------------------------------


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryProcess]:
    """A docker-registry holding busybox as Docker Hub's library/busybox:latest."""
    with RegistryProcess(tmp_path_factory.mktemp("mirror"), htpasswd={USER: PASSWORD}) as registry:
        archive = busybox_archive(tmp_path_factory.getbasetemp())
        push_archive(registry.host, archive, "library/busybox", "latest", auth=registry.auth)
        yield registry


def _registries_file(directory: Path, mirror: RegistryProcess, *, password: str) -> Path:
    path = directory / "registries.yaml"
    document = {
        "mirrors": {
            # the first endpoint refuses connections: the next one is tried
            "docker.io": {"endpoint": [f"http://127.0.0.1:{free_port()}", mirror.url]}
        },
        "configs": {mirror.host: {"auth": {"username": USER, "password": password}}},
        "disable-default-endpoint": True,  # never Docker Hub, whatever happens
    }
    path.write_text(yaml.safe_dump(document))
    return path


async def test_containerd_pulls_busybox_from_the_mirror(
    containerd_runtime: ContainerdRuntime, mirror: RegistryProcess, tmp_path: Path
):
    runtime = ContainerdRuntime(
        containerd_runtime.options.__class__(
            socket=containerd_runtime.options.socket,
            namespace=containerd_runtime.options.namespace,
            registries=str(_registries_file(tmp_path, mirror, password=PASSWORD)),
        ),
        tmp_path / "data",
    )
    try:
        ref = await runtime.pull_image("busybox")
        assert ref.tags == ("busybox",)
        assert ref.digests and ref.digests[0].startswith("docker.io/library/busybox@sha256:")
        held = await runtime.image_status("busybox")
        assert held is not None and held.id == ref.id
    finally:
        await runtime.close()


async def test_containerd_says_why_each_mirror_failed(
    containerd_runtime: ContainerdRuntime, mirror: RegistryProcess, tmp_path: Path
):
    runtime = ContainerdRuntime(
        containerd_runtime.options.__class__(
            socket=containerd_runtime.options.socket,
            namespace=containerd_runtime.options.namespace,
            registries=str(_registries_file(tmp_path, mirror, password="wrong")),
        ),
        tmp_path / "data",
    )
    try:
        with pytest.raises(ImagePullError) as error:
            await runtime.pull_image("busybox")
        reason = error.value.reason
        assert reason.startswith("no source served it")
        assert "connection refused" in reason and "unauthorized" in reason
        assert await runtime.image_status("busybox") is None
    finally:
        await runtime.close()


@pytest.fixture(scope="module")
def dockerd() -> Iterator[DockerdProcess]:
    require_or_skip(dockerd_problem())
    directory = Path(tempfile.mkdtemp(prefix="nd", dir="/tmp"))
    process = DockerdProcess(directory)
    try:
        process.start()
        yield process
    finally:
        process.stop()
        shutil.rmtree(directory, ignore_errors=True)


async def test_docker_pulls_busybox_from_the_mirror_under_its_own_name(
    dockerd: DockerdProcess, mirror: RegistryProcess, tmp_path: Path
):
    registries = _registries_file(tmp_path, mirror, password=PASSWORD)
    runtime = DockerRuntime(DockerOptions(socket=dockerd.socket_url, registries=str(registries)))
    try:
        ref = await runtime.pull_image("busybox")
        assert "busybox:latest" in ref.tags
        # the mirror's name was only the way in
        assert not any(tag.startswith(mirror.host) for tag in ref.tags)
        assert await runtime.image_status("busybox") is not None
        await runtime.remove_image("busybox")
    finally:
        await runtime.close()
