"""The private registry the runtime tests pull from (Debian's docker-registry on
127.0.0.1) and the daemon-less push of an image archive into it."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.request

import pytest

from navarch.runtime.archive import read_archive_manifest
from navarch.runtime.errors import ImageLoadError
from navarch.runtime.types import RegistryAuth
from navarch.testing.images import busybox_archive
from navarch.testing.registry import MEDIA_MANIFEST, RegistryProcess, push_archive

pytestmark = pytest.mark.daemon

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get(url: str, auth: RegistryAuth | None = None, accept: str = MEDIA_MANIFEST):
    headers = {"Accept": accept}
    if auth is not None:
        token = base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    with _opener.open(urllib.request.Request(url, headers=headers), timeout=10) as response:
        return response.status, response.headers, response.read()


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    # Never skipped: without docker-registry this fails, saying what to install.
    with RegistryProcess(tmp_path_factory.mktemp("registry")) as process:
        yield process


def test_pushed_archive_is_served_by_tag_and_by_digest(registry, tmp_path):
    archive = busybox_archive(tmp_path)
    ((image_id, _),) = read_archive_manifest(archive)
    digest = push_archive(registry.host, archive, "navarch/busybox", "1")

    status, headers, by_tag = _get(f"{registry.url}/v2/navarch/busybox/manifests/1")
    assert status == 200
    assert headers["Docker-Content-Digest"] == digest
    assert "sha256:" + hashlib.sha256(by_tag).hexdigest() == digest
    manifest = json.loads(by_tag)
    assert manifest["mediaType"] == MEDIA_MANIFEST
    assert manifest["config"]["digest"] == image_id  # the id a runtime reports

    _, _, by_digest = _get(f"{registry.url}/v2/navarch/busybox/manifests/{digest}")
    assert by_digest == by_tag
    for layer in manifest["layers"]:
        _, _, blob = _get(
            f"{registry.url}/v2/navarch/busybox/blobs/{layer['digest']}", accept="*/*"
        )
        assert "sha256:" + hashlib.sha256(blob).hexdigest() == layer["digest"]
        assert len(blob) == layer["size"]

    # pushing again (blobs already there) gives the same manifest
    assert push_archive(registry.host, archive, "navarch/busybox", "1") == digest


def test_unknown_tag_is_manifest_unknown(registry):
    with pytest.raises(urllib.error.HTTPError) as caught:
        _get(f"{registry.url}/v2/navarch/nothing/manifests/1")
    assert caught.value.code == 404
    assert b"MANIFEST_UNKNOWN" in caught.value.read()


def test_broken_archive_is_refused_before_any_upload(registry, tmp_path):
    broken = tmp_path / "broken.tar"
    broken.write_bytes(busybox_archive(tmp_path).read_bytes()[:100_000])
    with pytest.raises(ImageLoadError, match="truncated"):
        push_archive(registry.host, broken, "navarch/broken", "1")


def test_htpasswd_registry_needs_credentials(tmp_path):
    with RegistryProcess(tmp_path / "registry", htpasswd={"navarch": "s3cret"}) as registry:
        assert registry.auth == RegistryAuth(username="navarch", password="s3cret")
        with pytest.raises(urllib.error.HTTPError) as caught:
            _get(f"{registry.url}/v2/")
        assert caught.value.code == 401
        assert "navarch-test" in caught.value.headers["WWW-Authenticate"]

        archive = busybox_archive(tmp_path)
        with pytest.raises(RuntimeError, match="401"):
            push_archive(registry.host, archive, "navarch/busybox", "1")
        wrong = RegistryAuth(username="navarch", password="wrong")
        with pytest.raises(RuntimeError, match="401"):
            push_archive(registry.host, archive, "navarch/busybox", "1", auth=wrong)

        digest = push_archive(registry.host, archive, "navarch/busybox", "1", auth=registry.auth)
        with pytest.raises(urllib.error.HTTPError) as caught:
            _get(f"{registry.url}/v2/navarch/busybox/manifests/1")
        assert caught.value.code == 401
        status, headers, _ = _get(
            f"{registry.url}/v2/navarch/busybox/manifests/1", auth=registry.auth
        )
        assert status == 200 and headers["Docker-Content-Digest"] == digest
