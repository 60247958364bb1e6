"""The image half of :class:`~navarch_runtime_cri.runtime.CriRuntime`: CRI's
ImageService (PullImage, ImageStatus, ListImages, RemoveImage, ImageFsInfo), and
archives loaded with the runtime's own command (imagetool.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
from loguru import logger

from navarch.runtime.archive import read_archive_manifest
from navarch.runtime.errors import (
    ImageLoadError,
    ImagePullError,
    InvalidConfig,
    NotFound,
    RuntimeFault,
)
from navarch.runtime.types import ImageRef, RegistryAuth
from navarch_runtime_cri._proto import cri_subset_pb2 as pb
from navarch_runtime_cri.connection import IMAGE_SERVICE, CriConnection, socket_path
from navarch_runtime_cri.convert import image_ref
from navarch_runtime_cri.errors import refusal_message
from navarch_runtime_cri.imagetool import ToolError, fill, run_tool
from navarch_runtime_cri.options import CriOptions

# How long the runtime may take to show an image loaded (or a name removed) by its
# command: containerd's CRI plugin learns of it from containerd's events.
_SETTLE_SECONDS = 60.0


class ImageOps:
    options: CriOptions
    conn: CriConnection

    async def pull_image(self, image: str, auth: RegistryAuth | None = None) -> ImageRef:
        """PullImage; every refusal is an ImagePullError with the runtime's words (a
        runtime that does not answer at all is Unavailable)."""
        request = pb.PullImageRequest(image=pb.ImageSpec(image=image))
        if auth is not None:
            request.auth.CopyFrom(
                pb.AuthConfig(
                    username=auth.username,
                    password=auth.password,
                    identity_token=auth.identity_token,
                )
            )
        path = IMAGE_SERVICE + "PullImage"
        try:
            reply = await self.conn.raw(
                path, request, pb.PullImageResponse, timeout=self.options.pull_timeout
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAVAILABLE:
                raise self.conn.error(exc, path, "image", image) from None
            raise ImagePullError(image, refusal_message(exc)) from None
        ref = await self.image_status(reply.image_ref or image)
        if ref is None:
            raise ImagePullError(image, f"pulled as {reply.image_ref}, but the runtime lost it")
        return ref

    async def image_status(self, image: str) -> ImageRef | None:
        reply = await self.conn.call(
            IMAGE_SERVICE + "ImageStatus",
            pb.ImageStatusRequest(image=pb.ImageSpec(image=image)),
            pb.ImageStatusResponse,
            "image",
            image,
        )
        if not reply.HasField("image") or not reply.image.id:
            return None
        return image_ref(reply.image)

    async def list_images(self) -> list[ImageRef]:
        reply = await self.conn.call(
            IMAGE_SERVICE + "ListImages", pb.ListImagesRequest(), pb.ListImagesResponse
        )
        return [image_ref(image) for image in reply.images]

    async def remove_image(self, image: str) -> None:
        """Remove the name ``image`` (by the untag command when the image has other
        names: CRI's RemoveImage would take them all), or the whole image when it is
        its id or only name."""
        ref = await self.image_status(image)
        if ref is None:
            raise NotFound("image", image)
        others = [tag for tag in ref.tags if tag != image]
        if image in ref.tags and others and self.options.image_untag_command:
            await self._run(self.options.image_untag_command, image=image)
            await self._settle(lambda: self._names_gone([image]), f"{image} still listed")
            return
        await self.conn.call(
            IMAGE_SERVICE + "RemoveImage",
            pb.RemoveImageRequest(image=pb.ImageSpec(image=ref.id)),
            pb.RemoveImageResponse,
            "image",
            image,
        )

    async def image_fs_info(self) -> list[tuple[str, int]]:
        """Where the runtime keeps images and how many bytes they use (mountpoint,
        bytes) — CRI's ImageFsInfo, for the node's image file system."""
        reply = await self.conn.call(
            IMAGE_SERVICE + "ImageFsInfo", pb.ImageFsInfoRequest(), pb.ImageFsInfoResponse
        )
        return [
            (usage.fs_id.mountpoint, usage.used_bytes.value) for usage in reply.image_filesystems
        ]

    async def load_image(self, archive: Path) -> list[ImageRef]:
        """Check the archive whole (so a corrupt one loads nothing), load it with
        ``image_load_command``, then wait until the runtime lists its images."""
        archive = Path(archive)
        if not self.options.image_load_command:
            raise InvalidConfig(
                "this CRI runtime has no image_load_command: CRI itself cannot load "
                "an image archive"
            )
        images = await asyncio.to_thread(read_archive_manifest, archive)
        try:
            await self._run(self.options.image_load_command, archive=str(archive.resolve()))
        except ToolError as exc:
            raise ImageLoadError(str(archive), str(exc)) from None
        names = [tag for _, tags in images for tag in tags]
        wanted = names or [image_id for image_id, _ in images]
        try:
            await self._settle(lambda: self._names_present(wanted), "its images not listed")
        except RuntimeFault as exc:
            raise ImageLoadError(str(archive), f"loaded, but {exc.message}") from None
        logger.bind(archive=str(archive), images=wanted).debug("image archive loaded")
        refs = [await self.image_status(name) for name in wanted]
        return list({ref.id: ref for ref in refs if ref is not None}.values())

    async def _run(self, command: tuple[str, ...], **values: str) -> str:
        words = fill(command, socket=socket_path(self.options.endpoint), **values)
        return await run_tool(words)

    async def _names_present(self, names: list[str]) -> bool:
        return all([await self.image_status(name) is not None for name in names])

    async def _names_gone(self, names: list[str]) -> bool:
        for name in names:
            ref = await self.image_status(name)
            if ref is not None and name in ref.tags:
                return False
        return True

    async def _settle(self, done: Callable[[], Awaitable[bool]], what: str) -> None:
        deadline = time.monotonic() + _SETTLE_SECONDS
        while not await done():
            if time.monotonic() > deadline:
                raise RuntimeFault(f"{what} by the CRI runtime after {_SETTLE_SECONDS:g}s")
            await asyncio.sleep(0.05)
