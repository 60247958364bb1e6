"""Image import from an archive's OCI layout into containerd, over the gRPC API alone.

The archive (``navarch.runtime.archive`` writes one) holds ``index.json`` and
``blobs/sha256/<hex>``. An import is, in order:

1. check the whole archive (every blob hashes to its name) before anything is written,
   so a corrupt or truncated archive fails with :class:`ImageLoadError` naming it;
2. under a lease: write each blob the content store lacks, with the labels through
   which containerd's garbage collector finds what an image needs (manifest -> config
   and layers; config -> the top snapshot);
3. unpack each layer into the snapshotter (Prepare -> diff Apply -> Commit, keyed by
   chain ID);
4. create (or re-point) the image record, last: an image name is never visible before
   all it needs is in place.

Whatever happens, the lease is then deleted (synchronously): once the image record
exists it references everything, and if the import failed the collector removes what
it wrote, so nothing half-imported is left behind.

The labels, the unpacking and the record are unpack.py's, shared with a pull from a
registry (pull.py); only reading the archive is this module's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

import attrs
from loguru import logger

from navarch.runtime.archive import ANNOTATION_IMAGE_NAME, read_archive_manifest
from navarch.runtime.errors import ImageLoadError, Unavailable
from navarch.runtime.types import ImageRef
from navarch_runtime_containerd.client import CHUNK_SIZE, ContainerdClient
from navarch_runtime_containerd.errors import AlreadyExists, ContainerdError
from navarch_runtime_containerd.records import Descriptor
from navarch_runtime_containerd.unpack import (
    ImageContent,
    UnpackError,
    chain_ids,
    config_labels,
    manifest_labels,
    record_image,
    unpack_layers,
)

__all__ = ["chain_ids", "import_image_archive"]  # chain_ids: resolve.py imports it here


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
                    await unpack_layers(client, image, lease)
                    await record_image(client, image)
        except (ImageLoadError, Unavailable):
            raise
        except UnpackError as exc:
            raise ImageLoadError(str(archive), exc.message) from exc
        except ContainerdError as exc:
            raise ImageLoadError(str(archive), f"containerd refused it: {exc.message}") from exc
    refs = []
    for image in images:
        log.bind(image=image.name, id=image.config.digest).info("image imported")
        refs.append(
            ImageRef(
                id=image.config.digest,
                tags=(image.name,),
                size=image.size,
            )
        )
    return refs


# --- reading the archive ------------------------------------------------------------


def _images(archive: Path, tar: tarfile.TarFile) -> list[ImageContent]:
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
        images.append(
            ImageContent(name, manifest_desc, config_desc, layers, diff_ids, manifest_desc)
        )
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
    client: ContainerdClient,
    archive: Path,
    tar: tarfile.TarFile,
    image: ImageContent,
    lease: str,
) -> None:
    blobs: list[tuple[Descriptor, dict[str, str]]] = [(layer, {}) for layer in image.layers]
    blobs += [
        (image.config, config_labels(image, client.snapshotter)),
        (image.manifest, manifest_labels(image)),
    ]
    for descriptor, labels in blobs:
        if await client.has_content(descriptor.digest):
            continue
        stream = _member(archive, tar, _blob_name(descriptor.digest))
        with contextlib.suppress(AlreadyExists):  # another import wrote it meanwhile
            await client.write_content(
                descriptor.digest, descriptor.size, _chunks(stream), labels=labels, lease=lease
            )
