"""The simulator's images: loaded from an archive (checked by
:func:`navarch.runtime.archive.read_archive_manifest`, and the layer's file names
kept, so a missing program fails to start as it would for real) or "pulled" (any name
succeeds unless the options say otherwise; the files are then unknown)."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from pathlib import Path

import attrs

from navarch.runtime.archive import read_archive_manifest
from navarch.runtime.errors import ImageLoadError, NotFound
from navarch.runtime.types import ImageRef


@attrs.define
class SimImage:
    id: str
    tags: list[str]
    digests: tuple[str, ...] = ()
    size: int = 0
    files: frozenset[str] | None = None  # "/bin/sh" …; None when unknown

    def ref(self) -> ImageRef:
        return ImageRef(self.id, tuple(self.tags), self.digests, self.size)


def with_tag(name: str) -> str:
    """``name`` with ``:latest`` when it names neither a tag nor a digest."""
    if "@" in name or ":" in name.rsplit("/", 1)[-1]:
        return name
    return name + ":latest"


class ImageStore:
    def __init__(self) -> None:
        self._by_id: dict[str, SimImage] = {}
        self._by_name: dict[str, str] = {}  # tag or digest -> id

    def find(self, name: str) -> SimImage | None:
        image_id = self._by_name.get(with_tag(name)) or self._by_name.get(name)
        if image_id is None and name in self._by_id:
            image_id = name
        return self._by_id.get(image_id) if image_id else None

    def all(self) -> list[SimImage]:
        return list(self._by_id.values())

    def add(self, image: SimImage) -> SimImage:
        """Add ``image``, or give an image of the same id its names too."""
        held = self._by_id.setdefault(image.id, image)
        if held is not image:
            held.files = held.files if image.files is None else image.files
            held.digests = tuple(dict.fromkeys((*held.digests, *image.digests)))
        for name in (*image.tags, *image.digests):
            previous = self._by_name.get(name)
            if previous is not None and previous != image.id:
                self._untag(previous, name)  # the name moves to the new image
            self._by_name[name] = image.id
            if name in image.tags and name not in held.tags:
                held.tags.append(name)
        return held

    def remove(self, name: str) -> None:
        """Remove a name (the image goes with its last one), or the image by id."""
        if name in self._by_id:
            image = self._by_id.pop(name)
            for alias in (*image.tags, *image.digests):
                self._by_name.pop(alias, None)
            return
        key = with_tag(name) if with_tag(name) in self._by_name else name
        image_id = self._by_name.get(key)
        if image_id is None:
            raise NotFound("image", name)
        self._untag(image_id, key)

    def _untag(self, image_id: str, name: str) -> None:
        self._by_name.pop(name, None)
        image = self._by_id[image_id]
        if name in image.tags:
            image.tags.remove(name)
        if not image.tags:
            self.remove(image_id)


def read_archive(archive: Path) -> list[SimImage]:
    """The images of ``archive`` (blocking: call it in a thread). Raises ImageLoadError
    naming the archive when it is not a complete image archive."""
    found = read_archive_manifest(archive)
    files = _files_by_config(archive)
    size = archive.stat().st_size
    return [
        SimImage(image_id, list(tags), size=size, files=files.get(image_id))
        for image_id, tags in found
    ]


def _files_by_config(archive: Path) -> dict[str, frozenset[str]]:
    """The paths each image's layers hold (from ``manifest.json``; an OCI-only archive
    gives none, and its programs are then assumed present)."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            manifest_member = tar.extractfile("manifest.json")
            if manifest_member is None:
                return {}
            manifest = json.loads(manifest_member.read())
            result = {}
            for entry in manifest:
                names: set[str] = set()
                for layer in entry.get("Layers") or []:
                    stream = tar.extractfile(os.path.normpath(layer))
                    if stream is None:
                        continue
                    with tarfile.open(fileobj=stream, mode="r:*") as layer_tar:
                        names.update(
                            "/" + os.path.normpath(name).lstrip("/")
                            for name in layer_tar.getnames()
                        )
                result[_config_id(entry["Config"])] = frozenset(names)
            return result
    except KeyError:
        return {}
    except (tarfile.TarError, OSError, ValueError) as exc:
        raise ImageLoadError(str(archive), f"cannot read its layers ({exc})") from exc


def _config_id(config_path: str) -> str:
    parts = os.path.normpath(config_path).split("/")
    if len(parts) == 3 and parts[0] == "blobs":
        return f"{parts[1]}:{parts[2]}"
    return "sha256:" + parts[-1].removesuffix(".json")  # docker save's "<hex>.json"


def pulled(name: str) -> SimImage:
    """The image a simulated pull of ``name`` gives: an id derived from the name."""
    digest = "sha256:" + hashlib.sha256(name.encode()).hexdigest()
    if "@" in name:
        return SimImage(digest, [], digests=(name,))
    repository = name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name
    return SimImage(digest, [with_tag(name)], digests=(f"{repository}@{digest}",))
