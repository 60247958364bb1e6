"""ContainerdRuntime.pull_image against a real registry (Debian's docker-registry with
basic auth) and a small in-process fake registry on 127.0.0.1 (Bearer token auth, a
manifest list of two platforms, and faults: 401, 404, 500, a wrong digest for a
manifest and for a blob, nothing listening). Every failure is an ImagePullError with
the reason, and leaves no image, ingest, lease, blob or snapshot in containerd; a
pulled image runs a container. Plus reference parsing, which needs no daemon."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import tarfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from navarch.api.imageref import is_loopback_registry
from navarch.runtime import ImagePullError
from navarch.runtime.archive import go_architecture
from navarch.runtime.types import ContainerState, RegistryAuth
from navarch.testing.daemon import free_port
from navarch.testing.images import busybox_archive
from navarch.testing.registry import RegistryProcess, push_archive
from navarch.testing.runtime import Pods, read_logs, text, wait_for_state
from navarch_runtime_containerd import ContainerdRuntime
from navarch_runtime_containerd.pull import pull_image
from navarch_runtime_containerd.reference import (
    ImageReference,
    InvalidReference,
    parse_reference,
)

DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"

# --- reference parsing (no daemon) ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:5000/navarch/busybox:1", ("127.0.0.1:5000", "navarch/busybox", "1", "")),
        ("localhost/a", ("localhost", "a", "latest", "")),
        ("[::1]:5000/a/b:v1.2", ("[::1]:5000", "a/b", "v1.2", "")),
        ("busybox", ("docker.io", "library/busybox", "latest", "")),
        ("user/app:2", ("docker.io", "user/app", "2", "")),
        (
            "example.com/app@sha256:" + "a" * 64,
            ("example.com", "app", "", "sha256:" + "a" * 64),
        ),
        (
            "example.com:443/app:1@sha256:" + "b" * 64,
            ("example.com:443", "app", "1", "sha256:" + "b" * 64),
        ),
    ],
)
def test_parse_reference(text: str, expected: tuple[str, str, str, str]) -> None:
    assert parse_reference(text) == ImageReference(*expected)


@pytest.mark.parametrize(
    "text", ["", "Upper", "a/B", "a/b:bad tag", "a@sha256:short", "a//b", " a", "a:"]
)
def test_invalid_reference(text: str) -> None:
    with pytest.raises(InvalidReference):
        parse_reference(text)


def test_plain_http_only_for_loopback() -> None:
    assert parse_reference("127.0.0.1:5000/a").base_url == "http://127.0.0.1:5000"
    assert parse_reference("[::1]:5000/a").base_url == "http://[::1]:5000"
    assert parse_reference("localhost:5000/a").base_url == "http://localhost:5000"
    assert parse_reference("example.com:5000/a").base_url == "https://example.com:5000"
    assert parse_reference("busybox").base_url == "https://registry-1.docker.io"
    assert is_loopback_registry("127.8.9.1") and not is_loopback_registry("10.0.0.1")


# --- daemons ----------------------------------------------------------------------------


@pytest.fixture
def runtime(containerd_runtime: ContainerdRuntime) -> ContainerdRuntime:
    return containerd_runtime


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return busybox_archive(tmp_path_factory.mktemp("pull-archive"))


async def assert_nothing_left(runtime: ContainerdRuntime) -> None:
    """containerd holds nothing of a failed pull in the runtime's namespace."""
    client = runtime.client
    assert await client.list_images() == []
    assert await client.list_ingests() == []
    assert await client.list_leases() == []
    assert await client.list_content() == []
    assert await client.list_snapshots() == []


async def assert_runs(runtime: ContainerdRuntime, image: str) -> None:
    pods = Pods(runtime, image)
    try:
        container_id = await pods.run("echo pulled-and-running")
        status = await wait_for_state(runtime, container_id, ContainerState.EXITED)
        assert status.exit_code == 0
        assert "pulled-and-running" in text(await read_logs(runtime, container_id))
    finally:
        await pods.cleanup()


# --- the real registry (docker-registry, basic auth) ------------------------------------


@pytest.mark.daemon
async def test_pull_from_docker_registry_with_basic_auth(
    runtime: ContainerdRuntime, archive: Path, tmp_path: Path
) -> None:
    with RegistryProcess(tmp_path / "registry", htpasswd={"navarch": "s3cret"}) as registry:
        image = f"{registry.host}/private/busybox:1"
        digest = push_archive(registry.host, archive, "private/busybox", "1", auth=registry.auth)
        with pytest.raises(ImagePullError) as anonymous:
            await runtime.pull_image(image)
        assert "unauthorized" in anonymous.value.reason
        with pytest.raises(ImagePullError) as wrong:
            await runtime.pull_image(image, RegistryAuth("navarch", "wrong"))
        assert "unauthorized" in wrong.value.reason
        await assert_nothing_left(runtime)

        ref = await runtime.pull_image(image, registry.auth)
        assert ref.tags == (image,) and ref.digests == (
            f"{registry.host}/private/busybox@{digest}",
        )
        status = await runtime.image_status(image)
        assert status is not None and status.id == ref.id
        await assert_runs(runtime, image)

        by_digest = f"{registry.host}/private/busybox@{digest}"
        again = await runtime.pull_image(by_digest, registry.auth)
        assert again.id == ref.id  # the same content: nothing new written


# --- a fake registry for what docker-registry does not do -------------------------------


class FakeRegistry:
    """The distribution API's GETs over blobs and manifests held in memory, with
    optional Bearer token auth (a token service at /token) and injected faults."""

    def __init__(self) -> None:
        self.port = free_port()
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[str, tuple[str, bytes]] = {}  # tag or digest -> (type, bytes)
        self.announced: dict[str, str] = {}  # tag -> the Docker-Content-Digest to send
        self.faults: dict[str, int] = {}  # path -> status to answer with (0: never answer)
        self.refresh_token = ""  # accepted by the OAuth2 POST to /token when set
        self.credentials: tuple[str, str] | None = None  # Bearer auth when set
        self.token_field = "token"
        self.token_requests: list[dict[str, str]] = []
        self.requested: list[str] = []
        self._token = uuid.uuid4().hex
        self._runner: web.AppRunner | None = None
        self._released = asyncio.Event()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def add_blob(self, data: bytes) -> dict[str, Any]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.blobs[digest] = data
        return {"digest": digest, "size": len(data)}

    def add_manifest(self, media_type: str, data: bytes, tag: str | None = None) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.manifests[digest] = (media_type, data)
        if tag:
            self.manifests[tag] = (media_type, data)
        return digest

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/token", self._token_service)
        app.router.add_post("/token", self._refresh_token_service)
        app.router.add_get("/v2/{name:.+}/manifests/{reference}", self._manifest)
        app.router.add_get("/v2/{name:.+}/blobs/{digest}", self._blob)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        self._released.set()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    def _refused(self, request: web.Request) -> web.Response | None:
        self.requested.append(request.path)
        if request.path in self.faults:
            status = self.faults[request.path]
            body = {"errors": [{"code": "UNKNOWN", "message": f"injected fault {status}"}]}
            return web.json_response(body, status=status)
        if self.credentials and request.headers.get("Authorization") != f"Bearer {self._token}":
            name = request.match_info["name"]
            challenge = (
                f'Bearer realm="http://{self.host}/token",service="fake-registry",'
                f'scope="repository:{name}:pull"'
            )
            body = {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}
            return web.json_response(body, status=401, headers={"WWW-Authenticate": challenge})
        return None

    async def _token_service(self, request: web.Request) -> web.Response:
        self.token_requests.append(dict(request.query))
        assert self.credentials is not None
        user, password = self.credentials
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            body = {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]}
            return web.json_response(body, status=401)
        return web.json_response({self.token_field: self._token, "expires_in": 300})

    async def _refresh_token_service(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.token_requests.append({key: str(value) for key, value in form.items()})
        if not self.refresh_token or form.get("refresh_token") != self.refresh_token:
            return web.json_response({"error": "invalid_grant"}, status=401)
        return web.json_response({"access_token": self._token, "expires_in": 300})

    async def _manifest(self, request: web.Request) -> web.Response:
        if self.faults.get(request.path) == 0:
            await self._released.wait()  # a registry that accepts and never answers
        refused = self._refused(request)
        if refused is not None:
            return refused
        reference = request.match_info["reference"]
        if reference not in self.manifests:
            body = {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}
            return web.json_response(body, status=404)
        media_type, data = self.manifests[reference]
        digest = self.announced.get(reference) or "sha256:" + hashlib.sha256(data).hexdigest()
        headers = {"Content-Type": media_type, "Docker-Content-Digest": digest}
        return web.Response(body=data, headers=headers)

    async def _blob(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        data = self.blobs.get(request.match_info["digest"])
        if data is None:
            body = {"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown"}]}
            return web.json_response(body, status=404)
        return web.Response(body=data, content_type="application/octet-stream")


def _archive_image(archive: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The OCI manifest of the archive's image and every blob it names."""
    with tarfile.open(archive) as tar:

        def blob(digest: str) -> bytes:
            member = tar.extractfile("blobs/sha256/" + digest.removeprefix("sha256:"))
            assert member is not None
            return member.read()

        index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
        manifest = json.loads(blob(index["manifests"][0]["digest"]))
        descriptors = [manifest["config"], *manifest["layers"]]
        return manifest, {d["digest"]: blob(d["digest"]) for d in descriptors}


@pytest_asyncio.fixture
async def fake(archive: Path) -> AsyncIterator[FakeRegistry]:
    """A fake registry holding the busybox image as ``fake/busybox:1`` (an OCI
    manifest) and as ``fake/multi:1`` (a manifest list: another architecture first,
    then this machine's)."""
    registry = FakeRegistry()
    manifest, blobs = _archive_image(archive)
    for data in blobs.values():
        registry.add_blob(data)
    manifest_bytes = json.dumps(manifest).encode()
    manifest_digest = registry.add_manifest(manifest["mediaType"], manifest_bytes, "1")
    other = "arm64" if go_architecture() != "arm64" else "amd64"
    other_bytes = json.dumps({**manifest, "annotations": {"arch": other}}).encode()
    other_digest = registry.add_manifest(manifest["mediaType"], other_bytes)
    index = {
        "schemaVersion": 2,
        "mediaType": DOCKER_LIST,
        "manifests": [
            {
                "mediaType": manifest["mediaType"],
                "digest": other_digest,
                "size": len(other_bytes),
                "platform": {"os": "linux", "architecture": other},
            },
            {
                "mediaType": manifest["mediaType"],
                "digest": manifest_digest,
                "size": len(manifest_bytes),
                "platform": {"os": "linux", "architecture": go_architecture()},
            },
        ],
    }
    registry.add_manifest(DOCKER_LIST, json.dumps(index).encode(), "multi")
    registry.other_digest = other_digest  # type: ignore[attr-defined]
    registry.layer_digest = manifest["layers"][0]["digest"]  # type: ignore[attr-defined]
    await registry.start()
    try:
        yield registry
    finally:
        await registry.stop()


@pytest.mark.daemon
@pytest.mark.parametrize("media_type", [DOCKER_LIST, OCI_INDEX])
async def test_manifest_list_resolved_to_this_platform(
    runtime: ContainerdRuntime, fake: FakeRegistry, media_type: str
) -> None:
    index = json.loads(fake.manifests["multi"][1])
    if media_type == OCI_INDEX:  # an OCI index may leave its mediaType out
        del index["mediaType"]
        fake.add_manifest(OCI_INDEX, json.dumps(index).encode(), "multi")
    image = f"{fake.host}/fake/busybox:multi"
    ref = await runtime.pull_image(image)
    index_digest = "sha256:" + hashlib.sha256(fake.manifests["multi"][1]).hexdigest()
    assert ref.digests == (f"{fake.host}/fake/busybox@{index_digest}",)
    record = await runtime.client.get_image(image)
    assert record.target.digest == index_digest and record.target.media_type == media_type
    other = fake.other_digest  # type: ignore[attr-defined]
    assert not any(path.endswith(other) for path in fake.requested)
    await assert_runs(runtime, image)


@pytest.mark.daemon
@pytest.mark.parametrize("field", ["token", "access_token"])
async def test_bearer_token_auth(
    runtime: ContainerdRuntime, fake: FakeRegistry, field: str
) -> None:
    fake.credentials = ("robot", "pa55")
    fake.token_field = field
    image = f"{fake.host}/fake/busybox:1"
    with pytest.raises(ImagePullError) as refused:
        await runtime.pull_image(image, RegistryAuth("robot", "wrong"))
    assert "unauthorized" in refused.value.reason
    await assert_nothing_left(runtime)
    ref = await runtime.pull_image(image, RegistryAuth("robot", "pa55"))
    assert (await runtime.image_status(image)) is not None and ref.id.startswith("sha256:")
    assert fake.token_requests[-1] == {
        "scope": "repository:fake/busybox:pull",
        "service": "fake-registry",
    }
    await assert_runs(runtime, image)


def _fault_layer(fake: FakeRegistry) -> str:
    digest = fake.layer_digest  # type: ignore[attr-defined]
    data = bytearray(fake.blobs[digest])
    data[len(data) // 2] ^= 0xFF  # same size, other bytes
    fake.blobs[digest] = bytes(data)
    return digest


@pytest.mark.daemon
@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("unauthorized", "unauthorized"),
        ("missing", "manifest unknown"),
        ("server error", "500"),
        ("wrong manifest digest", "hashes to"),
        ("wrong blob digest", "corrupt or tampered with"),
        ("nothing listening", "cannot connect to registry"),
    ],
)
async def test_faults_are_image_pull_errors_leaving_nothing(
    runtime: ContainerdRuntime, fake: FakeRegistry, fault: str, reason: str
) -> None:
    image = f"{fake.host}/fake/busybox:1"
    if fault == "unauthorized":
        fake.credentials = ("robot", "pa55")  # and the pull gives none
    elif fault == "missing":
        image = f"{fake.host}/fake/busybox:2"
    elif fault == "server error":
        fake.faults["/v2/fake/busybox/manifests/1"] = 500
    elif fault == "wrong manifest digest":
        fake.announced["1"] = "sha256:" + "0" * 64
    elif fault == "wrong blob digest":
        reason = f"{_fault_layer(fake)} from {fake.host}"
    elif fault == "nothing listening":
        await fake.stop()
    with pytest.raises(ImagePullError) as info:
        await runtime.pull_image(image)
    assert info.value.image == image
    assert reason in info.value.reason
    if fault == "nothing listening":
        assert fake.host in info.value.reason
    await assert_nothing_left(runtime)


@pytest.mark.daemon
async def test_wrong_manifest_in_a_list_is_refused(
    runtime: ContainerdRuntime, fake: FakeRegistry
) -> None:
    """A manifest list's entry whose bytes are not its digest: refused, nothing kept."""
    _, real = fake.manifests["1"]
    digest = "sha256:" + hashlib.sha256(real).hexdigest()
    fake.manifests[digest] = (
        fake.manifests[digest][0],
        real.replace(b'"schemaVersion"', b'"schemaVersion" '),
    )
    with pytest.raises(ImagePullError) as info:
        await runtime.pull_image(f"{fake.host}/fake/busybox:multi")
    assert f"not {digest}" in info.value.reason
    await assert_nothing_left(runtime)


@pytest.mark.daemon
async def test_invalid_reference_is_image_pull_error(runtime: ContainerdRuntime) -> None:
    with pytest.raises(ImagePullError) as info:
        await runtime.pull_image("127.0.0.1:1/Not/Valid")
    assert "invalid reference" in info.value.reason


@pytest.mark.daemon
async def test_identity_token_is_exchanged_for_an_access_token(
    runtime: ContainerdRuntime, fake: FakeRegistry
) -> None:
    fake.credentials = ("robot", "pa55")
    fake.refresh_token = "refresh-" + uuid.uuid4().hex
    image = f"{fake.host}/fake/busybox:1"
    await runtime.pull_image(image, RegistryAuth(identity_token=fake.refresh_token))
    assert (await runtime.image_status(image)) is not None
    assert fake.token_requests[-1]["grant_type"] == "refresh_token"
    assert fake.token_requests[-1]["scope"] == "repository:fake/busybox:pull"


@pytest.mark.daemon
async def test_a_registry_that_never_answers_fails_the_pull_at_its_deadline(
    runtime: ContainerdRuntime, fake: FakeRegistry
) -> None:
    fake.faults["/v2/fake/busybox/manifests/1"] = 0
    image = f"{fake.host}/fake/busybox:1"
    with pytest.raises(ImagePullError) as info:
        await pull_image(runtime.client, image, timeout=1.0)
    assert "not pulled within 1s" in info.value.reason
    await assert_nothing_left(runtime)
