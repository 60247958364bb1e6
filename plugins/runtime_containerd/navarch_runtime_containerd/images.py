"""containerd's image records: a name pointing at a manifest in the content store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from navarch_runtime_containerd import convert
from navarch_runtime_containerd._proto import containerd_subset_pb2 as pb
from navarch_runtime_containerd.connection import ContainerdConnection
from navarch_runtime_containerd.records import Descriptor, ImageRecord

_IMAGES = "/containerd.services.images.v1.Images/"


class ImageCalls(ContainerdConnection):
    """The Images service."""

    async def create_image(
        self, name: str, target: Descriptor, labels: Mapping[str, str] | None = None
    ) -> ImageRecord:
        """Create an image record; raises AlreadyExists when ``name`` exists."""
        request = pb.CreateImageRequest(
            image=pb.Image(name=name, target=convert.pb_descriptor(target), labels=labels or {})
        )
        response = await self._unary(
            _IMAGES + "Create", request, pb.CreateImageResponse, kind="image", ident=name
        )
        return _image(response.image)

    async def update_image_target(self, name: str, target: Descriptor) -> ImageRecord:
        """Point an existing image name at another manifest (a re-tag)."""
        request = pb.UpdateImageRequest(
            image=pb.Image(name=name, target=convert.pb_descriptor(target)),
            update_mask=pb.FieldMask(paths=["target"]),
        )
        response = await self._unary(
            _IMAGES + "Update", request, pb.UpdateImageResponse, kind="image", ident=name
        )
        return _image(response.image)

    async def get_image(self, name: str) -> ImageRecord:
        response = await self._unary(
            _IMAGES + "Get", pb.GetImageRequest(name=name), pb.GetImageResponse, "image", name
        )
        return _image(response.image)

    async def list_images(self, filters: Sequence[str] = ()) -> list[ImageRecord]:
        response = await self._unary(
            _IMAGES + "List",
            pb.ListImagesRequest(filters=list(filters)),
            pb.ListImagesResponse,
            kind="image",
            ident="*",
        )
        return [_image(image) for image in response.images]

    async def delete_image(self, name: str, *, sync: bool = False) -> None:
        """Delete an image record; what only it referenced is collected (before this
        returns when ``sync``)."""
        await self._unary(
            _IMAGES + "Delete",
            pb.DeleteImageRequest(name=name, sync=sync),
            pb.Empty,
            kind="image",
            ident=name,
            timeout=self.transfer_timeout if sync else None,
        )


def _image(raw: Any) -> ImageRecord:
    return ImageRecord(raw.name, convert.descriptor(raw.target), dict(raw.labels))
