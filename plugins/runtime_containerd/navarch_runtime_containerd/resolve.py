"""From an image name in containerd to what a container of it needs: the image's
config (entrypoint, cmd, env…) and the chain ID of its top layer, the committed
snapshot a container's rootfs is prepared on.

All of it is read from containerd's content store: the image record points at a
manifest (or, for a multi-platform image, an index whose entry for this machine's
platform is taken), the manifest at the config, and the config lists the layers'
diff IDs, whose chain IDs name the snapshots the import or pull committed.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from navarch.runtime.archive import go_architecture
from navarch.runtime.errors import NotFound
from navarch_runtime_containerd.client import ContainerdClient
from navarch_runtime_containerd.errors import ContainerdError
from navarch_runtime_containerd.importer import chain_ids
from navarch_runtime_containerd.ocispec import ImageConfig

_INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}


@attrs.frozen
class ResolvedImage:
    name: str
    config_digest: str  # the image's id
    config: ImageConfig
    top_chain_id: str  # "" for an image without layers


async def resolve_image(client: ContainerdClient, name: str) -> ResolvedImage:
    """Raises NotFound (kind ``image``) when containerd has no image ``name``, and
    ContainerdError when its manifest cannot be followed to a config."""
    record = await client.get_image(name)
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
