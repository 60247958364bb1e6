"""Reading image archives: which images an archive holds, after checking that every
blob they need is there and every stored blob matches its digest (``docker save``
archives and OCI layouts, as :mod:`navarch.runtime.archive` writes them and as
``docker save`` or other tools do)."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from pathlib import Path
from typing import Any, NamedTuple

from navarch.runtime.archive_format import ANNOTATION_IMAGE_NAME, sha256_digest
from navarch.runtime.errors import ImageLoadError


def read_archive_manifest(path: Path) -> list[tuple[str, list[str]]]:
    """The images in an archive, as ``(config digest, tags)``, after checking it.

    Reads ``docker save`` archives (``manifest.json``) and OCI layouts
    (``index.json``). Every blob the images need must be present, and every blob
    stored under ``blobs/sha256/`` must hash to its name, so a truncated or corrupt
    archive fails here rather than half-loaded in a runtime. Raises
    :class:`ImageLoadError` naming ``path``.
    """
    path = Path(path)
    try:
        with tarfile.open(path, "r:*") as archive:
            contents = _read_members(archive, path)
    except ImageLoadError:
        raise
    except FileNotFoundError as exc:
        raise ImageLoadError(str(path), "no such file") from exc
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        if "unexpected end of data" in str(exc):
            raise ImageLoadError(str(path), "truncated: the file ends inside an entry") from exc
        raise ImageLoadError(str(path), f"not a readable tar archive ({exc})") from exc
    if "manifest.json" in contents.documents:
        return _docker_images(path, contents)
    if "index.json" in contents.documents:
        return _oci_images(path, contents)
    if _cut_short(path):
        raise ImageLoadError(str(path), "truncated: the file ends inside an entry")
    raise ImageLoadError(str(path), "not an image archive: neither manifest.json nor index.json")


def _cut_short(path: Path) -> bool:
    """An uncompressed tar is whole 512-byte blocks; tarfile reads a partial last
    block as the end of the archive, so a cut there shows only as missing entries."""
    try:
        with open(path, "rb") as file:
            magic = file.read(6)
            size = file.seek(0, os.SEEK_END)
    except OSError:
        return False
    compressed = magic.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x28\xb5\x2f\xfd"))
    return not compressed and size % 512 != 0


class _Contents(NamedTuple):
    documents: dict[str, Any]  # manifest.json / index.json, parsed
    blobs: dict[str, bytes]  # small JSON blobs (configs, manifests) by digest
    members: set[str]  # every regular file's name
    digests: set[str]  # digests of the verified blobs/<alg>/<hex> files


# Anything bigger under blobs/ is a layer: hashed as it streams by, never kept.
_SMALL_BLOB = 4 << 20


def _read_members(archive: tarfile.TarFile, path: Path) -> _Contents:
    contents = _Contents({}, {}, set(), set())
    for member in archive:
        name = os.path.normpath(member.name).lstrip("/")
        if not member.isfile():
            continue
        contents.members.add(name)
        stream = archive.extractfile(member)
        assert stream is not None
        if name in ("manifest.json", "index.json"):
            try:
                contents.documents[name] = json.loads(stream.read())
            except ValueError as exc:
                raise ImageLoadError(str(path), f"{name} is not valid JSON ({exc})") from exc
            continue
        parts = name.split("/")
        if len(parts) != 3 or parts[0] != "blobs" or parts[1] not in hashlib.algorithms_available:
            if name.endswith(".json") and member.size <= _SMALL_BLOB:  # docker's <hex>.json
                data = stream.read()
                contents.blobs[name] = data
            continue
        digest, hasher = f"{parts[1]}:{parts[2]}", hashlib.new(parts[1])
        kept = member.size <= _SMALL_BLOB
        chunks = []
        read = 0
        while chunk := stream.read(1 << 20):
            hasher.update(chunk)
            read += len(chunk)
            if kept:
                chunks.append(chunk)
        if read != member.size:
            raise ImageLoadError(str(path), f"{name} is truncated")
        if hasher.hexdigest() != parts[2]:
            raise ImageLoadError(str(path), f"{name} does not match its digest (corrupt)")
        contents.digests.add(digest)
        if kept:
            contents.blobs[digest] = b"".join(chunks)
    return contents


def _docker_images(path: Path, contents: _Contents) -> list[tuple[str, list[str]]]:
    manifest = contents.documents["manifest.json"]
    if not isinstance(manifest, list) or not manifest:
        raise ImageLoadError(str(path), "manifest.json lists no image")
    images = []
    for entry in manifest:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise ImageLoadError(str(path), "manifest.json entry without Config")
        config_name = os.path.normpath(entry["Config"])
        config = contents.blobs.get(config_name) or contents.blobs.get(
            _digest_of_blob_path(config_name)
        )
        if config is None:
            raise ImageLoadError(str(path), f"config {entry['Config']} is missing")
        _check_config(path, config)
        for layer in entry.get("Layers") or []:
            if os.path.normpath(layer) not in contents.members:
                raise ImageLoadError(str(path), f"layer {layer} is missing")
        tags = entry.get("RepoTags") or []
        images.append((sha256_digest(config), [str(tag) for tag in tags]))
    return images


def _oci_images(path: Path, contents: _Contents) -> list[tuple[str, list[str]]]:
    index = contents.documents["index.json"]
    descriptors = index.get("manifests") if isinstance(index, dict) else None
    if not descriptors:
        raise ImageLoadError(str(path), "index.json lists no image")
    images = []
    for descriptor in descriptors:
        manifest_bytes = contents.blobs.get(str(descriptor.get("digest")))
        if manifest_bytes is None:
            raise ImageLoadError(str(path), f"manifest {descriptor.get('digest')} is missing")
        try:
            manifest = json.loads(manifest_bytes)
            config_digest = manifest["config"]["digest"]
            layer_digests = [layer["digest"] for layer in manifest.get("layers", [])]
        except (ValueError, KeyError, TypeError) as exc:
            raise ImageLoadError(str(path), f"manifest {descriptor['digest']} is invalid") from exc
        config = contents.blobs.get(config_digest)
        if config is None:
            raise ImageLoadError(str(path), f"config {config_digest} is missing")
        _check_config(path, config)
        for digest in layer_digests:
            if digest not in contents.digests:
                raise ImageLoadError(str(path), f"layer {digest} is missing")
        annotations = descriptor.get("annotations") or {}
        name = annotations.get(ANNOTATION_IMAGE_NAME)
        images.append((config_digest, [name] if name else []))
    return images


def _digest_of_blob_path(name: str) -> str:
    parts = name.split("/")
    return f"{parts[1]}:{parts[2]}" if len(parts) == 3 and parts[0] == "blobs" else name


def _check_config(path: Path, config: bytes) -> None:
    try:
        parsed = json.loads(config)
        parsed["rootfs"]["diff_ids"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ImageLoadError(str(path), "image config is not valid (no rootfs)") from exc
