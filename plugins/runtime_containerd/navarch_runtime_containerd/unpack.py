"""What an import and a pull share once an image's blobs are on their way into
containerd: the garbage-collection labels those blobs are written with, the unpacking
of the layers into snapshots, and the image record, made last.

Labels: containerd's collector keeps a blob or snapshot while a live object's
``containerd.io/gc.ref.…`` label names it. So an index names the manifest taken from
it, a manifest names its config and layers, and the config names the top snapshot;
the image record names the index or manifest. Everything hangs off the record.

Unpacking, per layer: Prepare an active snapshot on the previous layer's, diff Apply
the layer (read from the content store) onto its mounts, Commit it named by its chain
ID. A layer already committed under that ID is skipped, as containerd's unpacker does.

Chain IDs (OCI image spec): the first layer's is its diff ID; each next one is
``sha256(parent_chain_id + " " + diff_id)``. Worked example for two layers ``a``, ``b``::

    chain_ids(["sha256:a", "sha256:b"])
    == ["sha256:a", "sha256:" + sha256(b"sha256:a sha256:b").hexdigest()]
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Sequence

import attrs

from navarch.runtime.errors import NotFound, RuntimeFault, Unavailable
from navarch_runtime_containerd.client import ContainerdClient
from navarch_runtime_containerd.errors import AlreadyExists, ContainerdError
from navarch_runtime_containerd.records import KIND_COMMITTED, Descriptor

GC_REF_CONFIG = "containerd.io/gc.ref.content.config"
GC_REF_LAYER = "containerd.io/gc.ref.content.l.{index}"
GC_REF_MANIFEST = "containerd.io/gc.ref.content.m.{index}"
GC_REF_SNAPSHOT = "containerd.io/gc.ref.snapshot.{snapshotter}"


class UnpackError(RuntimeFault):
    """A layer does not unpack to what the image's config says it is (corrupt)."""


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
class ImageContent:
    """One image to put in containerd: its name, the manifest, config and layers,
    and the descriptor its record points at (the manifest, or the index the manifest
    was taken from)."""

    name: str
    manifest: Descriptor
    config: Descriptor
    layers: tuple[Descriptor, ...]
    diff_ids: tuple[str, ...]
    target: Descriptor

    @property
    def size(self) -> int:
        return sum(layer.size for layer in self.layers)


def manifest_labels(image: ImageContent) -> dict[str, str]:
    labels = {GC_REF_CONFIG: image.config.digest}
    for index, layer in enumerate(image.layers):
        labels[GC_REF_LAYER.format(index=index)] = layer.digest
    return labels


def config_labels(image: ImageContent, snapshotter: str) -> dict[str, str]:
    chains = chain_ids(image.diff_ids)
    return {GC_REF_SNAPSHOT.format(snapshotter=snapshotter): chains[-1]} if chains else {}


async def unpack_layers(client: ContainerdClient, image: ImageContent, lease: str) -> None:
    """Commit a snapshot per layer (its blob must be in the content store already).
    Raises :class:`UnpackError` when a layer's diff ID is not the config's."""
    parent = ""
    for layer, diff_id, chain in zip(
        image.layers, image.diff_ids, chain_ids(image.diff_ids), strict=True
    ):
        if not await _committed(client, chain):
            await _unpack_layer(client, layer, diff_id, chain, parent, lease)
        parent = chain


async def record_image(client: ContainerdClient, image: ImageContent) -> None:
    """Create the image record, or point an existing one at this image's target."""
    try:
        await client.create_image(image.name, image.target)
    except AlreadyExists:
        current = await client.get_image(image.name)
        if current.target.digest != image.target.digest:
            await client.update_image_target(image.name, image.target)


async def _committed(client: ContainerdClient, chain: str) -> bool:
    try:
        info = await client.stat_snapshot(chain)
    except NotFound:
        return False
    return info.kind == KIND_COMMITTED


async def _unpack_layer(
    client: ContainerdClient,
    layer: Descriptor,
    diff_id: str,
    chain: str,
    parent: str,
    lease: str,
) -> None:
    # A key of its own: two unpacks of the same layer never share an active snapshot.
    key = f"extract-{uuid.uuid4().hex} {chain}"
    mounts = await client.prepare_snapshot(key, parent, lease=lease)
    try:
        applied = await client.apply_diff(layer, mounts, lease=lease)
        if applied.digest != diff_id:
            raise UnpackError(
                f"layer {layer.digest} unpacks to {applied.digest}, but the image config "
                f"says its diff id is {diff_id} (corrupt)"
            )
        try:
            await client.commit_snapshot(chain, key, lease=lease)
        except AlreadyExists:
            pass  # committed meanwhile by another import or pull: ours is not needed
        else:
            return
    except BaseException:
        with contextlib.suppress(NotFound, ContainerdError, Unavailable):
            await client.remove_snapshot(key)
        raise
    with contextlib.suppress(NotFound):
        await client.remove_snapshot(key)
