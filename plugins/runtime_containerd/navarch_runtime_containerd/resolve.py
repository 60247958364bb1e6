"""From an image name in containerd to what a container of it needs: the image's
config (entrypoint, cmd, env…) and the chain ID of its top layer, the committed
snapshot a container's rootfs is prepared on.

All of it is read from containerd's content store: the image record points at a
manifest (or, for a multi-platform image, an index whose entry for this machine's
platform is taken), the manifest at the config, and the config lists the layers'
diff IDs, whose chain IDs name the snapshots the import or pull committed.

What a manifest resolves to is kept (a bounded cache keyed by the record's target
digest in a daemon's namespace): content is addressed by its digest, so it never
changes, and it stays as long as an image record names it — which the record read
first proves. Every container creation and image check then costs one call.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

import attrs

from navarch.runtime.archive import go_architecture
from navarch.runtime.errors import NotFound
from navarch_runtime_containerd.client import ContainerdClient
from navarch_runtime_containerd.errors import ContainerdError
from navarch_runtime_containerd.importer import chain_ids
from navarch_runtime_containerd.ocispec import ImageConfig
from navarch_runtime_containerd.records import ImageRecord

_INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}


# What target digests resolved to, least recently used first.
MAX_RESOLVED = 256
_RESOLVED: OrderedDict[tuple[str, str, str], ResolvedImage] = OrderedDict()


@attrs.frozen
class ResolvedImage:
    name: str
    config_digest: str  # the image's id
    config: ImageConfig
    top_chain_id: str  # "" for an image without layers


async def resolve_image(client: ContainerdClient, name: str) -> ResolvedImage:
    """Raises NotFound (kind ``image``) when containerd has no image ``name``, and
    ContainerdError when its manifest cannot be followed to a config."""
    return await resolve_record(client, await client.get_image(name))


async def resolve_record(client: ContainerdClient, record: ImageRecord) -> ResolvedImage:
    """What the image record ``record`` (just read) resolves to."""
    key = (client.address, client.namespace, record.target.digest)
    resolved = _RESOLVED.get(key)
    if resolved is None:
        resolved = await _follow(client, record)
        _RESOLVED[key] = resolved
        while len(_RESOLVED) > MAX_RESOLVED:
            _RESOLVED.popitem(last=False)
    else:
        _RESOLVED.move_to_end(key)
    return attrs.evolve(resolved, name=record.name)


async def _follow(client: ContainerdClient, record: ImageRecord) -> ResolvedImage:
    name = record.name
    manifest = await _json(client, record.target.digest)
    if record.target.media_type in _INDEX_TYPES or "manifests" in manifest:
        manifest = await _json(client, _platform_manifest(name, manifest))
    try:
        config_digest = manifest["config"]["digest"]
    except (KeyError, TypeError):
        raise ContainerdError(f"image {name}: its manifest names no config") from None
    document = await _json(client, config_digest)
    diff_ids = list((document.get("rootfs") or {}).get("diff_ids") or [])
    chains = chain_ids(diff_ids)
    return ResolvedImage(
        name=name,
        config_digest=config_digest,
        config=ImageConfig.from_image_config(document),
        top_chain_id=chains[-1] if chains else "",
    )


def _platform_manifest(name: str, index: Any) -> str:
    architecture = go_architecture()
    for entry in index.get("manifests") or []:
        platform = entry.get("platform") or {}
        if (
            platform.get("os", "linux") == "linux"
            and platform.get("architecture", architecture) == architecture
        ):
            return str(entry["digest"])
    raise NotFound("image", f"{name} for linux/{architecture}")


async def _json(client: ContainerdClient, digest: str) -> Any:
    data = await client.read_content(digest)
    try:
        return json.loads(data)
    except ValueError:
        raise ContainerdError(f"blob {digest} is not valid JSON") from None
