"""runtime_containerd's ground floor against a private containerd started for this
module: the gRPC client (version, namespaces, leases, content, images, snapshots) and
image import from an archive's OCI layout. Each test works in a namespace of its own,
so what it counts is only what it made."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import shutil
import signal
import tarfile
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from navarch.runtime import ImageLoadError, NotFound, Unavailable
from navarch.runtime.archive import canonical_json, sha256_digest, write_image_archive
from navarch.testing.containerd import (
    ContainerdProcess,
    containerd_config,
    start_private_containerd,
)
from navarch.testing.daemon import stop_process
from navarch.testing.images import BUSYBOX_IMAGE, busybox_archive
from navarch_runtime_containerd import (
    AlreadyExists,
    ContainerdClient,
    chain_ids,
    import_image_archive,
)

pytestmark = pytest.mark.daemon


@pytest_asyncio.fixture
async def client(containerd: ContainerdProcess) -> AsyncIterator[ContainerdClient]:
    async with ContainerdClient(
        containerd.socket_path, namespace=f"t{uuid.uuid4().hex[:12]}"
    ) as client:
        yield client


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return busybox_archive(tmp_path_factory.getbasetemp())


# --- reading an archive's OCI layout, for the expected values ------------------------


def _layout(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {
            member.name: tar.extractfile(member).read()  # type: ignore[union-attr]
            for member in tar
            if member.isfile()
        }


def _blob(files: dict[str, bytes], digest: str) -> bytes:
    return files["blobs/sha256/" + digest.removeprefix("sha256:")]


def _expected(path: Path) -> tuple[str, str, list[str]]:
    """(manifest digest, config digest, diff ids) of the archive's one image."""
    files = _layout(path)
    manifest_digest = json.loads(files["index.json"])["manifests"][0]["digest"]
    manifest = json.loads(_blob(files, manifest_digest))
    config = json.loads(_blob(files, manifest["config"]["digest"]))
    return manifest_digest, manifest["config"]["digest"], config["rootfs"]["diff_ids"]


def _write_layout(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


async def _leftovers(client: ContainerdClient) -> dict[str, list]:
    return {
        "images": await client.list_images(),
        "content": await client.list_content(),
        "snapshots": await client.list_snapshots(),
        "leases": await client.list_leases(),
        "ingests": await client.list_ingests(),
    }


NOTHING: dict[str, list] = {
    "images": [],
    "content": [],
    "snapshots": [],
    "leases": [],
    "ingests": [],
}


# --- without a daemon ------------------------------------------------------------------


def test_chain_ids_follow_the_oci_rule() -> None:
    a, b, c = (sha256_digest(x) for x in (b"a", b"b", b"c"))
    ab = "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()
    abc = "sha256:" + hashlib.sha256(f"{ab} {c}".encode()).hexdigest()
    assert chain_ids([]) == []
    assert chain_ids([a]) == [a]
    assert chain_ids([a, b, c]) == [a, ab, abc]


def test_config_disables_cri_and_opens_no_listener(tmp_path: Path) -> None:
    text = containerd_config(
        root=tmp_path / "root", state=tmp_path / "state", socket_path=Path("/tmp/x/c.sock"),
        opt=tmp_path / "opt",
    )  # fmt: skip
    assert '"io.containerd.grpc.v1.cri"' in text
    assert 'address = "/tmp/x/c.sock"' in text
    assert 'tcp_address = ""' in text
    assert f'root = "{tmp_path / "root"}"' in text


# --- against the private containerd --------------------------------------------------


async def test_version_answers(client: ContainerdClient) -> None:
    info = await client.version()
    assert info.version.startswith("1.")
    assert info.revision


async def test_socket_path_is_short_and_private(containerd: ContainerdProcess) -> None:
    assert len(str(containerd.socket_path)) + len(".ttrpc") <= 107
    assert containerd.socket_path.is_socket()
    assert not str(containerd.socket_path).startswith("/run/containerd")


async def test_namespaces_create_list_delete(client: ContainerdClient) -> None:
    name = f"n{uuid.uuid4().hex[:12]}"
    await client.create_namespace(name, {"owner": "navarch-test"})
    assert name in await client.list_namespaces()
    with pytest.raises(AlreadyExists):
        await client.create_namespace(name)
    await client.delete_namespace(name)
    assert name not in await client.list_namespaces()
    with pytest.raises(NotFound):
        await client.delete_namespace(name)


async def test_ensure_namespace_is_idempotent(client: ContainerdClient) -> None:
    await client.ensure_namespace()
    await client.ensure_namespace()
    assert client.namespace in await client.list_namespaces()


async def test_missing_objects_are_not_found(client: ContainerdClient) -> None:
    with pytest.raises(NotFound) as image:
        await client.get_image("navarch.test/missing:1")
    assert image.value.kind == "image"
    with pytest.raises(NotFound):
        await client.stat_snapshot("sha256:" + "0" * 64)
    with pytest.raises(NotFound):
        await client.content_info("sha256:" + "0" * 64)


async def test_content_write_then_read_at(client: ContainerdClient) -> None:
    data = b"0123456789" * 1000

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 3000):
            yield data[start : start + 3000]

    digest = sha256_digest(data)
    async with client.lease() as lease:
        await client.write_content(digest, len(data), chunks(), lease=lease)
        assert (await client.content_info(digest)).size == len(data)
        assert await client.read_content(digest) == data
        assert await client.read_content(digest, offset=5, size=7) == data[5:12]
        with pytest.raises(AlreadyExists):
            await client.write_content(digest, len(data), chunks(), lease=lease)
    # the lease held it alone: deleting the lease (synchronously) collected it
    assert await client.list_content() == []
    assert await client.list_leases() == []


async def test_import_busybox(client: ContainerdClient, archive: Path) -> None:
    manifest_digest, config_digest, diff_ids = _expected(archive)
    refs = await import_image_archive(client, archive)

    assert [(ref.id, ref.tags) for ref in refs] == [(config_digest, (BUSYBOX_IMAGE,))]
    [image] = await client.list_images()
    assert image.name == BUSYBOX_IMAGE
    assert image.target.digest == manifest_digest
    assert (await client.get_image(BUSYBOX_IMAGE)).target.digest == manifest_digest

    [chain] = chain_ids(diff_ids)
    snapshot = await client.stat_snapshot(chain)
    assert snapshot.kind == "committed"
    assert [s.name for s in await client.list_snapshots()] == [chain]

    files = _layout(archive)
    assert await client.read_content(config_digest) == _blob(files, config_digest)
    config_info = await client.content_info(config_digest)
    assert config_info.labels["containerd.io/gc.ref.snapshot.overlayfs"] == chain
    # the import's lease is gone, and no write was left open
    assert await client.list_leases() == []
    assert await client.list_ingests() == []


async def test_import_twice_changes_nothing(client: ContainerdClient, archive: Path) -> None:
    first = await import_image_archive(client, archive)
    before = await _leftovers(client)
    second = await import_image_archive(client, archive)
    assert second == first
    assert await _leftovers(client) == before
    assert len(before["images"]) == 1 and len(before["snapshots"]) == 1


async def test_deleting_the_image_lets_containerd_collect_everything(
    client: ContainerdClient, archive: Path
) -> None:
    await import_image_archive(client, archive)
    await client.delete_image(BUSYBOX_IMAGE, sync=True)
    # the garbage collector found nothing referencing the blobs or the snapshot
    assert await _leftovers(client) == NOTHING


async def test_corrupt_archive_is_refused_and_leaves_nothing(
    client: ContainerdClient, archive: Path, tmp_path: Path
) -> None:
    files = _layout(archive)
    _, _, diff_ids = _expected(archive)
    layer = "blobs/sha256/" + diff_ids[0].removeprefix("sha256:")
    damaged = bytearray(files[layer])
    damaged[len(damaged) // 2] ^= 0xFF
    files[layer] = bytes(damaged)
    corrupt = _write_layout(tmp_path / "corrupt.tar", files)

    with pytest.raises(ImageLoadError) as error:
        await import_image_archive(client, corrupt)
    assert str(corrupt) in error.value.message
    assert "corrupt" in error.value.message
    assert await _leftovers(client) == NOTHING


async def test_truncated_archive_is_refused(
    client: ContainerdClient, archive: Path, tmp_path: Path
) -> None:
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(ImageLoadError) as error:
        await import_image_archive(client, truncated)
    assert str(truncated) in error.value.message
    assert await _leftovers(client) == NOTHING


async def test_failure_after_writing_rolls_everything_back(
    client: ContainerdClient, tmp_path: Path
) -> None:
    """Every blob hashes right, but the config names a diff id the layer does not
    unpack to: containerd has the blobs and an active snapshot by the time this is
    found; all of it must go."""
    source = write_image_archive(tmp_path / "small.tar", "navarch.test/small:1", {"a.txt": b"a\n"})
    assert source.id
    files = _layout(tmp_path / "small.tar")
    manifest_digest, config_digest, _ = _expected(tmp_path / "small.tar")
    config = json.loads(_blob(files, config_digest))
    config["rootfs"]["diff_ids"] = [sha256_digest(b"not this layer")]
    new_config = canonical_json(config)
    manifest = json.loads(_blob(files, manifest_digest))
    manifest["config"] = {
        **manifest["config"],
        "digest": sha256_digest(new_config),
        "size": len(new_config),
    }
    new_manifest = canonical_json(manifest)
    index = json.loads(files["index.json"])
    index["manifests"][0] |= {"digest": sha256_digest(new_manifest), "size": len(new_manifest)}
    for old in (config_digest, manifest_digest):
        del files["blobs/sha256/" + old.removeprefix("sha256:")]
    del files["manifest.json"]  # the docker view would point at the old config
    files["blobs/sha256/" + sha256_digest(new_config).removeprefix("sha256:")] = new_config
    files["blobs/sha256/" + sha256_digest(new_manifest).removeprefix("sha256:")] = new_manifest
    files["index.json"] = canonical_json(index)
    lying = _write_layout(tmp_path / "lying.tar", files)

    with pytest.raises(ImageLoadError) as error:
        await import_image_archive(client, lying)
    assert str(lying) in error.value.message
    assert "diff id" in error.value.message
    assert await _leftovers(client) == NOTHING


async def test_docker_only_archive_is_refused_by_name(
    client: ContainerdClient, archive: Path, tmp_path: Path
) -> None:
    files = {k: v for k, v in _layout(archive).items() if k not in ("index.json", "oci-layout")}
    docker_only = _write_layout(tmp_path / "docker.tar", files)
    with pytest.raises(ImageLoadError) as error:
        await import_image_archive(client, docker_only)
    assert str(docker_only) in error.value.message
    assert await _leftovers(client) == NOTHING


async def test_a_stopped_daemon_is_unavailable(tmp_path: Path) -> None:
    process = await asyncio.to_thread(start_private_containerd, tmp_path / "containerd")
    try:
        async with ContainerdClient(process.socket_path, timeout=5.0) as client:
            assert (await client.version()).version
            await asyncio.to_thread(process.stop)
            assert process.process is not None and process.process.poll() is not None
            with pytest.raises(Unavailable) as error:
                await client.version()
            assert str(process.socket_path) in error.value.message
    finally:
        await asyncio.to_thread(process.remove)


async def test_a_hung_daemon_is_unavailable_at_the_call_deadline(tmp_path: Path) -> None:
    """A daemon that accepts but never answers (stopped with SIGSTOP): the call's own
    deadline ends it, as Unavailable rather than a hang."""
    process = await asyncio.to_thread(start_private_containerd, tmp_path / "containerd")
    assert process.process is not None
    pid = process.process.pid
    try:
        async with ContainerdClient(process.socket_path, timeout=1.0) as client:
            assert (await client.version()).version
            try:
                await stop_process(pid)
                with pytest.raises(Unavailable) as error:
                    await client.list_images()
                assert "DEADLINE_EXCEEDED" in error.value.message
            finally:
                os.kill(pid, signal.SIGCONT)
            assert (await client.version()).version
    finally:
        await asyncio.to_thread(process.remove)


async def test_a_socket_nobody_listens_on_is_unavailable() -> None:
    directory = Path(tempfile.mkdtemp(prefix="ncd", dir="/tmp"))
    try:
        async with ContainerdClient(directory / "none.sock", timeout=5.0) as client:
            with pytest.raises(Unavailable):
                await client.list_images()
    finally:
        shutil.rmtree(directory)
