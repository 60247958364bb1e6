"""Image import from an archive's OCI layout into containerd, over the gRPC API alone.

The archive (``navarch.runtime.archive`` writes one) holds ``index.json`` and
``blobs/sha256/<hex>``. An import is, in order:

1. check the whole archive (every blob hashes to its name) before anything is written,
   so a corrupt or truncated archive fails with :class:`ImageLoadError` naming it;
2. under a lease: write each blob the content store lacks, with the labels through
   which containerd's garbage collector finds what an image needs (manifest -> config
   and layers; config -> the top snapshot);
3. unpack each layer into the snapshotter: Prepare an active snapshot on the previous
   layer's, diff Apply the layer onto its mounts, Commit it named by its chain ID
   (a layer already committed under that ID is skipped, as containerd's unpacker does);
4. create (or re-point) the image record, last: an image name is never visible before
   all it needs is in place.

Whatever happens, the lease is then deleted (synchronously): once the image record
exists it references everything, and if the import failed the collector removes what
it wrote, so nothing half-imported is left behind.

Chain IDs (OCI image spec): the first layer's is its diff ID; each next one is
``sha256(parent_chain_id + " " + diff_id)``. Worked example for two layers ``a``, ``b``::

    chain_ids(["sha256:a", "sha256:b"])
    == ["sha256:a", "sha256:" + sha256(b"sha256:a sha256:b").hexdigest()]
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import tarfile
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import IO, Any

import attrs
from loguru import logger

from navarch.runtime.archive import ANNOTATION_IMAGE_NAME, read_archive_manifest
from navarch.runtime.errors import ImageLoadError, NotFound, Unavailable
from navarch.runtime.types import ImageRef
from navarch_runtime_containerd.client import CHUNK_SIZE, ContainerdClient
from navarch_runtime_containerd.errors import AlreadyExists, ContainerdError
from navarch_runtime_containerd.records import KIND_COMMITTED, Descriptor

# containerd's garbage-collection labels: a blob or snapshot is kept while a live
# object's label names it.
GC_REF_CONFIG = "containerd.io/gc.ref.content.config"
GC_REF_LAYER = "containerd.io/gc.ref.content.l.{index}"
GC_REF_SNAPSHOT = "containerd.io/gc.ref.snapshot.{snapshotter}"


def chain_ids(diff_ids: Sequence[str]) -> list[str]:
    """The chain ID of each layer of an image whose layers have ``diff_ids``."""
    chains: list[str] = []
    for diff_id in diff_ids:
        if not chains:
            chains.append(diff_id)
        else:
            joined = f"{chains[-1]} {diff_id}".encode()
            chains.append("sha256:" + hashlib.sha256(joined).hexdigest())
    return chains


@attrs.frozen
class _Image:
    """One image of the archive: its name, manifest, config and layers."""

    name: str
    manifest: Descriptor
    config: Descriptor
    layers: tuple[Descriptor, ...]
    diff_ids: tuple[str, ...]


async def import_image_archive(client: ContainerdClient, archive: Path) -> list[ImageRef]:
    """Import every image of ``archive`` into ``client``'s namespace and return them.

    Raises :class:`ImageLoadError` naming the archive when it is not a whole, valid
    OCI-layout image archive or containerd refuses its content, and
    :class:`~navarch.runtime.errors.Unavailable` when containerd does not answer.
    Importing an archive already imported changes nothing.
    """
    archive = Path(archive)
    # read_archive_manifest hashes every blob: nothing is written from a bad archive.
    await asyncio.to_thread(read_archive_manifest, archive)
    log = logger.bind(archive=str(archive), namespace=client.namespace)
    with tarfile.open(archive, "r:*") as tar:
        images = _images(archive, tar)
        try:
            async with client.lease() as lease:
                for image in images:
                    await _write_blobs(client, archive, tar, image, lease)
                    await _unpack(client, archive, image, lease)
                    await _record(client, image)
        except (ImageLoadError, Unavailable):
            raise
        except ContainerdError as exc:
            raise ImageLoadError(str(archive), f"containerd refused it: {exc.message}") from exc
    refs = []
    for image in images:
        log.bind(image=image.name, id=image.config.digest).info("image imported")
        refs.append(
            ImageRef(
                id=image.config.digest,
                tags=(image.name,),
                size=sum(layer.size for layer in image.layers),
            )
        )
    return refs


# --- reading the archive ------------------------------------------------------------


def _images(archive: Path, tar: tarfile.TarFile) -> list[_Image]:
    index = _json(archive, tar, "index.json")
    images = []
    for entry in index.get("manifests") or []:
        manifest_desc = _descriptor(archive, entry)
        name = (manifest_desc.annotations or {}).get(ANNOTATION_IMAGE_NAME)
        if not name:
            raise ImageLoadError(
                str(archive),
                f"manifest {manifest_desc.digest} in index.json has no "
                f"{ANNOTATION_IMAGE_NAME} annotation, so the image would have no name",
            )
        manifest = _json(archive, tar, _blob_name(manifest_desc.digest))
        try:
            config_desc = _descriptor(archive, manifest["config"])
            layers = tuple(_descriptor(archive, layer) for layer in manifest.get("layers") or [])
        except (KeyError, TypeError) as exc:
            raise ImageLoadError(
                str(archive), f"manifest {manifest_desc.digest} is invalid"
            ) from exc
        config = _json(archive, tar, _blob_name(config_desc.digest))
        diff_ids = tuple(config.get("rootfs", {}).get("diff_ids") or [])
        if len(diff_ids) != len(layers):
            raise ImageLoadError(
                str(archive),
                f"image {name}: {len(layers)} layers but {len(diff_ids)} diff ids in its config",
            )
        manifest_desc = attrs.evolve(manifest_desc, annotations={})
        images.append(_Image(name, manifest_desc, config_desc, layers, diff_ids))
    if not images:
        raise ImageLoadError(str(archive), "index.json lists no image")
    return images


def _json(archive: Path, tar: tarfile.TarFile, name: str) -> Any:
    stream = _member(archive, tar, name)
    try:
        return json.loads(stream.read())
    except ValueError as exc:
        raise ImageLoadError(str(archive), f"{name} is not valid JSON") from exc


def _member(archive: Path, tar: tarfile.TarFile, name: str) -> IO[bytes]:
    try:
        stream = tar.extractfile(name)
    except KeyError:
        stream = None
    if stream is None:
        if name == "index.json":
            raise ImageLoadError(
                str(archive), "no OCI layout (index.json): only OCI-layout archives import"
            )
        raise ImageLoadError(str(archive), f"{name} is missing")
    return stream


def _descriptor(archive: Path, raw: Any) -> Descriptor:
    try:
        return Descriptor(
            str(raw["mediaType"]),
            str(raw["digest"]),
            int(raw["size"]),
            dict(raw.get("annotations") or {}),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ImageLoadError(str(archive), f"invalid descriptor {raw!r}") from exc


def _blob_name(digest: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    return f"blobs/{algorithm}/{hexdigest}"


async def _chunks(stream: IO[bytes]) -> AsyncIterator[bytes]:
    while chunk := await asyncio.to_thread(stream.read, CHUNK_SIZE):
        yield chunk


# --- writing to containerd ------------------------------------------------------------


async def _write_blobs(
    client: ContainerdClient, archive: Path, tar: tarfile.TarFile, image: _Image, lease: str
) -> None:
    top_chain = chain_ids(image.diff_ids)[-1] if image.diff_ids else ""
    manifest_labels = {GC_REF_CONFIG: image.config.digest}
    for index, layer in enumerate(image.layers):
        manifest_labels[GC_REF_LAYER.format(index=index)] = layer.digest
    config_labels = (
        {GC_REF_SNAPSHOT.format(snapshotter=client.snapshotter): top_chain} if top_chain else {}
    )
    blobs: list[tuple[Descriptor, dict[str, str]]] = [(layer, {}) for layer in image.layers]
    blobs += [(image.config, config_labels), (image.manifest, manifest_labels)]
    for descriptor, labels in blobs:
        if await client.has_content(descriptor.digest):
            continue
        stream = _member(archive, tar, _blob_name(descriptor.digest))
        with contextlib.suppress(AlreadyExists):  # another import wrote it meanwhile
            await client.write_content(
                descriptor.digest, descriptor.size, _chunks(stream), labels=labels, lease=lease
            )


async def _unpack(client: ContainerdClient, archive: Path, image: _Image, lease: str) -> None:
    parent = ""
    for layer, diff_id, chain in zip(
        image.layers, image.diff_ids, chain_ids(image.diff_ids), strict=True
    ):
        if not await _committed(client, chain):
            await _unpack_layer(client, archive, layer, diff_id, chain, parent, lease)
        parent = chain


async def _committed(client: ContainerdClient, chain: str) -> bool:
    try:
        info = await client.stat_snapshot(chain)
    except NotFound:
        return False
    return info.kind == KIND_COMMITTED


async def _unpack_layer(
    client: ContainerdClient,
    archive: Path,
    layer: Descriptor,
    diff_id: str,
    chain: str,
    parent: str,
    lease: str,
) -> None:
    # A key of its own: two imports of the same layer never share an active snapshot.
    key = f"extract-{uuid.uuid4().hex} {chain}"
    mounts = await client.prepare_snapshot(key, parent, lease=lease)
    try:
        applied = await client.apply_diff(layer, mounts, lease=lease)
        if applied.digest != diff_id:
            raise ImageLoadError(
                str(archive),
                f"layer {layer.digest} unpacks to {applied.digest}, but the image config "
                f"says its diff id is {diff_id} (corrupt)",
            )
        try:
            await client.commit_snapshot(chain, key, lease=lease)
        except AlreadyExists:
            pass  # committed meanwhile by another import: ours is not needed
        else:
            return
    except BaseException:
        with contextlib.suppress(NotFound, ContainerdError, Unavailable):
            await client.remove_snapshot(key)
        raise
    with contextlib.suppress(NotFound):
        await client.remove_snapshot(key)


async def _record(client: ContainerdClient, image: _Image) -> None:
    try:
        await client.create_image(image.name, image.manifest)
    except AlreadyExists:
        current = await client.get_image(image.name)
        if current.target.digest != image.manifest.digest:
            await client.update_image_target(image.name, image.manifest)
