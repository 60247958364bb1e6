"""Image pull from a registry into containerd: the distribution API (distribution.py)
for the bytes, containerd's gRPC API for the rest, as an import does (unpack.py).

A pull is, in order:

1. the manifest by tag or digest; an index (an OCI index or a Docker manifest list)
   is resolved to the entry for linux and this machine's architecture, as resolve.py
   reads it back later, and that manifest fetched by its digest;
2. the config; every manifest, index and config is checked against its digest before
   anything is written;
3. under a lease: each layer the content store lacks streamed from the registry into
   containerd's content Write, hashed on the way (a blob that does not hash to its
   digest fails before containerd commits it), then the config, the manifest and the
   index, with the garbage-collection labels an import writes (the index names the
   manifest taken from it);
4. layers unpacked and the image record created last, exactly as an import does; the
   record points at the index when there was one, so the repository digest is the
   one the registry serves.

Whatever happens, the lease is then deleted (synchronously): if the pull failed, the
collector removes what it wrote, so nothing half-pulled is left behind. The whole pull
has a deadline (``timeout``); each registry request one for connecting and one for
silence while reading (distribution.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import attrs
from loguru import logger

from navarch.runtime.archive import go_architecture
from navarch.runtime.errors import ImagePullError, NotFound
from navarch.runtime.registries import NO_REGISTRIES, PullSource, Registries
from navarch.runtime.types import ImageRef, RegistryAuth
from navarch_runtime_containerd.client import ContainerdClient
from navarch_runtime_containerd.distribution import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    MEDIA_OCI_INDEX,
    MEDIA_OCI_MANIFEST,
    Manifest,
    Registry,
    RegistryError,
)
from navarch_runtime_containerd.errors import AlreadyExists, ContainerdError
from navarch_runtime_containerd.records import Descriptor
from navarch_runtime_containerd.reference import ImageReference, InvalidReference, parse_reference
from navarch_runtime_containerd.unpack import (
    GC_REF_MANIFEST,
    ImageContent,
    UnpackError,
    config_labels,
    manifest_labels,
    record_image,
    unpack_layers,
)

PULL_TIMEOUT = 600.0


async def pull_image(
    client: ContainerdClient,
    image: str,
    auth: RegistryAuth | None = None,
    *,
    registries: Registries = NO_REGISTRIES,
    timeout: float = PULL_TIMEOUT,
) -> ImageRef:
    """Pull ``image`` into ``client``'s namespace under the name ``image`` as given,
    from the first of the places ``registries`` names for its registry (its mirrors in
    order, then the registry itself) that serves it.

    Raises :class:`ImagePullError` with the registry's reason (each place's, when there
    were several), or what else went wrong, and
    :class:`~navarch.runtime.errors.Unavailable` when containerd does not answer.
    """
    try:
        reference = parse_reference(image)
    except InvalidReference as exc:
        raise ImagePullError(image, f"invalid reference: {exc}") from None
    sources = registries.sources(reference.registry, reference.repository, auth)
    failures: list[str] = []
    try:
        async with asyncio.timeout(timeout):
            for source in sources:
                try:
                    content = await _pull_from(client, reference, image, source)
                except RegistryError as exc:
                    failures.append(f"{source.host}: {exc.reason}")
                    logger.bind(image=image, source=source.base_url, error=exc.reason).info(
                        "pull from this source failed; trying the next"
                    )
                    continue
                return ImageRef(
                    id=content.config.digest,
                    tags=(image,),
                    digests=(f"{reference.locator}@{content.target.digest}",),
                    size=content.size,
                )
    except UnpackError as exc:
        raise ImagePullError(image, exc.message) from exc
    except ContainerdError as exc:
        raise ImagePullError(image, f"containerd refused it: {exc.message}") from exc
    except NotFound as exc:  # e.g. a layer collected by a concurrent image removal
        raise ImagePullError(image, f"containerd lost {exc.message} during the pull") from exc
    except TimeoutError:
        raise ImagePullError(image, f"not pulled within {timeout:g}s") from None
    if len(failures) == 1:
        raise ImagePullError(image, failures[0].partition(": ")[2])
    raise ImagePullError(image, "no source served it: " + "; ".join(failures))


async def _pull_from(
    client: ContainerdClient, reference: ImageReference, image: str, source: PullSource
) -> ImageContent:
    log = logger.bind(
        image=image, registry=reference.registry, source=source.base_url, namespace=client.namespace
    )
    async with Registry(reference, source.auth, source=source) as registry:
        fetched = await _fetch_documents(registry, reference, image)
        await client.ensure_namespace()
        async with client.lease() as lease:
            await _write_content(client, registry, fetched, lease)
            await unpack_layers(client, fetched.image, lease)
            await record_image(client, fetched.image)
    content = fetched.image
    log.bind(id=content.config.digest, digest=content.target.digest).info("image pulled")
    return content


@attrs.frozen
class _Fetched:
    """The verified documents of one pull: config, manifest and, when the reference
    named an index, the index (written in this order, each after what it names), and
    the position in the index of the manifest taken from it (-1: no index)."""

    image: ImageContent
    documents: tuple[tuple[Descriptor, bytes], ...]
    index_position: int = -1


async def _fetch_documents(registry: Registry, reference: ImageReference, name: str) -> _Fetched:
    top = await registry.manifest(reference.manifest_reference, reference.digest)
    top_document = _parse(top)
    index: tuple[Descriptor, bytes, int] | None = None
    manifest, manifest_document = top, top_document
    if _media_type(top, top_document) in INDEX_TYPES:
        position, entry = _platform_entry(registry, top_document)
        manifest = await registry.manifest(entry.digest, entry.digest)
        if len(manifest.data) != entry.size:
            raise RegistryError(
                f"manifest {entry.digest} is {len(manifest.data)} bytes, not {entry.size}"
            )
        manifest_document = _parse(manifest)
        index = (_descriptor_of(top, top_document), top.data, position)
    media_type = _media_type(manifest, manifest_document)
    if media_type not in MANIFEST_TYPES:
        raise RegistryError(
            f"manifest {manifest.digest} is {media_type or 'of no known type'}: only OCI and "
            "Docker schema 2 manifests are pulled"
        )
    try:
        config = _descriptor(manifest_document["config"])
        layers = tuple(_descriptor(layer) for layer in manifest_document.get("layers") or [])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise RegistryError(f"manifest {manifest.digest} is invalid") from None
    config_data = await registry.blob_bytes(config.digest, config.size)
    try:
        diff_ids = tuple(json.loads(config_data)["rootfs"]["diff_ids"] or [])
    except (ValueError, KeyError, TypeError):
        raise RegistryError(f"config {config.digest} lists no rootfs diff_ids") from None
    if len(diff_ids) != len(layers):
        raise RegistryError(
            f"manifest {manifest.digest} has {len(layers)} layers but its config "
            f"{len(diff_ids)} diff ids"
        )
    manifest_descriptor = _descriptor_of(manifest, manifest_document)
    target = index[0] if index else manifest_descriptor
    image = ImageContent(name, manifest_descriptor, config, layers, diff_ids, target)
    documents = ((config, config_data), (manifest_descriptor, manifest.data))
    if index is None:
        return _Fetched(image, documents)
    return _Fetched(image, (*documents, (index[0], index[1])), index[2])


async def _write_content(
    client: ContainerdClient, registry: Registry, fetched: _Fetched, lease: str
) -> None:
    image = fetched.image
    for layer in image.layers:
        if not await client.has_content(layer.digest):
            async with contextlib.aclosing(registry.blob(layer.digest, layer.size)) as chunks:
                await _write(client, layer, chunks, {}, lease)
    labels: dict[str, dict[str, str]] = {
        image.config.digest: config_labels(image, client.snapshotter),
        image.manifest.digest: manifest_labels(image),
    }
    if fetched.index_position >= 0:
        labels[image.target.digest] = {
            GC_REF_MANIFEST.format(index=fetched.index_position): image.manifest.digest
        }
    for descriptor, data in fetched.documents:
        if not await client.has_content(descriptor.digest):
            await _write(client, descriptor, _once(data), labels[descriptor.digest], lease)


async def _write(
    client: ContainerdClient,
    descriptor: Descriptor,
    chunks: AsyncIterator[bytes],
    labels: dict[str, str],
    lease: str,
) -> None:
    with contextlib.suppress(AlreadyExists):  # written meanwhile by another pull
        await client.write_content(
            descriptor.digest, descriptor.size, chunks, labels=labels, lease=lease
        )


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _parse(manifest: Manifest) -> dict[str, Any]:
    try:
        document = json.loads(manifest.data)
    except ValueError:
        raise RegistryError(f"manifest {manifest.digest} is not JSON") from None
    if not isinstance(document, dict):
        raise RegistryError(f"manifest {manifest.digest} is not a JSON object")
    if document.get("schemaVersion") == 1:
        raise RegistryError(
            f"manifest {manifest.digest} is Docker schema 1, which is not pulled "
            "(push the image again with a current client)"
        )
    return document


def _media_type(manifest: Manifest, document: dict[str, Any]) -> str:
    """The document's own mediaType, else the answer's Content-Type, else what its
    shape says (an OCI index or manifest may carry no mediaType)."""
    for candidate in (document.get("mediaType"), manifest.media_type):
        if candidate in INDEX_TYPES or candidate in MANIFEST_TYPES:
            return str(candidate)
    if "manifests" in document:
        return MEDIA_OCI_INDEX
    if "config" in document:
        return MEDIA_OCI_MANIFEST
    return str(document.get("mediaType") or manifest.media_type or "")


def _descriptor_of(manifest: Manifest, document: dict[str, Any]) -> Descriptor:
    return Descriptor(_media_type(manifest, document), manifest.digest, len(manifest.data))


def _descriptor(raw: Any) -> Descriptor:
    return Descriptor(str(raw["mediaType"]), str(raw["digest"]), int(raw["size"]))


def _platform_entry(registry: Registry, index: dict[str, Any]) -> tuple[int, Descriptor]:
    """The index's first entry for linux on this machine's architecture (the rule
    resolve.py follows when it reads the image back) and its position."""
    architecture = go_architecture()
    offered = []
    for position, entry in enumerate(index.get("manifests") or []):
        platform = (entry.get("platform") if isinstance(entry, dict) else None) or {}
        os_name = platform.get("os", "linux")
        arch = platform.get("architecture", architecture)
        offered.append(f"{os_name}/{arch}")
        if os_name == "linux" and arch == architecture:
            try:
                return position, _descriptor(entry)
            except (KeyError, TypeError, ValueError):
                raise RegistryError(
                    f"the index's entry for linux/{architecture} is invalid"
                ) from None
    raise RegistryError(
        f"no manifest for linux/{architecture} in {registry.reference.locator}'s index "
        f"(it offers: {', '.join(offered) or 'nothing'})"
    )
