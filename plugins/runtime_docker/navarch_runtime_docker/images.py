"""Images through the Engine API: pull (with registry credentials), load from an
archive, status, list, remove."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
from loguru import logger

from navarch.api.imageref import InvalidImageReference, parse_image_reference
from navarch.runtime import ImageLoadError, ImagePullError, ImageRef, NotFound, RegistryAuth
from navarch.runtime.archive import read_archive_manifest
from navarch.runtime.registries import NO_REGISTRIES, Registries
from navarch_runtime_docker.engine import Engine, EngineError, path_part


def image_ref(info: dict[str, Any]) -> ImageRef:
    """An ImageRef from ``GET /images/{name}/json`` or one row of ``GET /images/json``."""
    tags = tuple(tag for tag in info.get("RepoTags") or () if tag != "<none>:<none>")
    digests = tuple(d for d in info.get("RepoDigests") or () if not d.startswith("<none>"))
    return ImageRef(id=info["Id"], tags=tags, digests=digests, size=int(info.get("Size") or 0))


def split_reference(image: str) -> tuple[str, str]:
    """``(repository, tag or digest)`` as ``POST /images/create`` wants them:
    ``127.0.0.1:5000/busybox:1`` -> ``("127.0.0.1:5000/busybox", "1")``; no tag means
    ``latest`` (an empty tag would pull every tag of the repository)."""
    if "@" in image:
        repository, _, digest = image.partition("@")
        return repository, digest
    head, _, last = image.rpartition("/")
    if ":" in last:
        name, _, tag = last.partition(":")
        return (f"{head}/{name}" if head else name), tag
    return image, "latest"


def registry_auth_header(image: str, auth: RegistryAuth) -> str:
    """X-Registry-Auth: base64url of the credentials' JSON, for the image's registry."""
    first = image.split("/", 1)[0]
    server = first if "/" in image and ("." in first or ":" in first) else "docker.io"
    document: dict[str, str] = {"serveraddress": server}
    if auth.identity_token:
        document["identitytoken"] = auth.identity_token
    else:
        document.update(username=auth.username, password=auth.password)
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode()


async def _progress(resp: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    """The JSON messages of a pull or load answer, one a line."""
    async for line in resp.content:
        line = line.strip()
        if not line:
            continue
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict):
            yield message


def _failure(message: dict[str, Any]) -> str | None:
    if message.get("error"):
        return str(message["error"])
    detail = message.get("errorDetail")
    if isinstance(detail, dict) and detail.get("message"):
        return str(detail["message"])
    return None


async def image_status(engine: Engine, image: str) -> ImageRef | None:
    try:
        info = await engine.call("GET", f"/images/{path_part(image)}/json")
    except EngineError as err:
        if err.status == 404:
            return None
        raise
    return image_ref(info)


async def pull_image(
    engine: Engine,
    image: str,
    auth: RegistryAuth | None,
    registries: Registries = NO_REGISTRIES,
) -> ImageRef:
    """Pull ``image`` from the first place ``registries`` names for its registry that
    serves it (its mirrors in order, then the registry itself). The engine pulls by
    name, so a mirror's copy is pulled under the mirror's name, tagged with the name
    the pod gave and the mirror's name removed: the image is held as ``image``."""
    try:
        parsed = parse_image_reference(image)
    except InvalidImageReference as exc:
        raise ImagePullError(image, f"invalid reference: {exc}") from None
    sources = registries.sources(parsed.domain, parsed.path, auth)
    failures: list[str] = []
    for source in sources:
        if not source.mirror:
            pulled = image
        else:
            reason = _mirror_unusable(source.base_url, parsed.digest)
            if reason:
                failures.append(f"{source.host}: {reason}")
                continue
            pulled = f"{source.host}/{source.repository}:{parsed.tag_or_default}"
        try:
            await _pull(engine, pulled, source.auth)
        except ImagePullError as exc:
            failures.append(f"{source.host}: {exc.reason}")
            continue
        if pulled != image:
            await _rename(engine, pulled, image)
        ref = await image_status(engine, image)
        if ref is None:
            raise ImagePullError(image, "the engine reported success but does not hold the image")
        logger.bind(runtime="docker", image=image, source=source.host, id=ref.id).info(
            "image pulled"
        )
        return ref
    if len(failures) == 1:
        raise ImagePullError(image, failures[0].partition(": ")[2])
    raise ImagePullError(image, "no source served it: " + "; ".join(failures))


async def _pull(engine: Engine, image: str, auth: RegistryAuth | None) -> None:
    repository, tag = split_reference(image)
    headers = {"X-Registry-Auth": registry_auth_header(image, auth)} if auth else {}
    try:
        async with engine.stream(
            "POST",
            "/images/create",
            params={"fromImage": repository, "tag": tag},
            headers=headers,
            timeout=engine.options.pull_timeout_seconds,
        ) as resp:
            # The engine answers 200 at once and reports a failure inside the stream.
            async for message in _progress(resp):
                reason = _failure(message)
                if reason:
                    raise ImagePullError(image, reason)
    except EngineError as err:
        raise ImagePullError(image, err.message) from err
    except TimeoutError as err:
        raise ImagePullError(
            image, f"not pulled within {engine.options.pull_timeout_seconds:g}s"
        ) from err


def _mirror_unusable(base_url: str, digest: str) -> str:
    """Why the engine cannot take this image from this mirror ("" when it can): it
    pulls by name only, and a digest cannot be re-tagged under the pod's name."""
    if "/" in base_url.partition("://")[2]:
        return "the engine cannot pull from a mirror with a path prefix"
    if digest:
        return "the engine cannot keep an image pulled by digest from a mirror under its own name"
    return ""


async def _rename(engine: Engine, pulled: str, image: str) -> None:
    """Tag ``pulled`` as ``image`` and drop the name ``pulled`` (the content stays)."""
    repository, tag = split_reference(image)
    try:
        await engine.call(
            "POST", f"/images/{path_part(pulled)}/tag", params={"repo": repository, "tag": tag}
        )
        await engine.call("DELETE", f"/images/{path_part(pulled)}", params={"noprune": 1})
    except EngineError as err:
        raise ImagePullError(image, f"pulled as {pulled} but not renamed: {err.message}") from err


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with open(path, "rb") as archive:
        while chunk := await asyncio.to_thread(archive.read, 1 << 20):
            yield chunk


async def load_image(engine: Engine, archive: Path) -> list[ImageRef]:
    archive = Path(archive)
    # Checked whole first (every blob against its digest): the engine loads an
    # archive's images one by one, so a corrupt second image would leave the first
    # loaded; this way a bad archive loads nothing, and the error names what is wrong.
    await asyncio.to_thread(read_archive_manifest, archive)
    loaded: list[str] = []
    try:
        async with engine.stream(
            "POST",
            "/images/load",
            params={"quiet": 1},
            body=_file_chunks(archive),
            headers={"Content-Type": "application/x-tar"},
            timeout=engine.options.pull_timeout_seconds,
        ) as resp:
            async for message in _progress(resp):
                reason = _failure(message)
                if reason:
                    raise ImageLoadError(str(archive), reason)
                # "Loaded image: name:tag" or, for an untagged image, "Loaded image ID: sha256:…"
                text = str(message.get("stream") or "").strip()
                for prefix in ("Loaded image ID: ", "Loaded image: "):
                    if text.startswith(prefix):
                        loaded.append(text.removeprefix(prefix))
                        break
    except EngineError as err:
        raise ImageLoadError(str(archive), err.message) from err
    refs: dict[str, ImageRef] = {}
    for name in loaded:
        ref = await image_status(engine, name)
        if ref is not None:
            refs.setdefault(ref.id, ref)
    if not refs:
        raise ImageLoadError(str(archive), "the engine loaded no image from it")
    logger.bind(runtime="docker", archive=str(archive), images=list(refs)).info("images loaded")
    return list(refs.values())


async def list_images(engine: Engine) -> list[ImageRef]:
    return [image_ref(row) for row in await engine.call("GET", "/images/json")]


async def remove_image(engine: Engine, image: str) -> None:
    try:
        await engine.call("DELETE", f"/images/{path_part(image)}")
    except EngineError as err:
        if err.status == 404:
            raise NotFound("image", image) from err
        raise
