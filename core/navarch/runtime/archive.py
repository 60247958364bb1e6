"""Image archives written from plain files, with no builder and no registry: what
``navarch up`` uses for its demo image, runtime_docker for its pause image, and the
tests for every image they run (the machine may reach no public registry).

One archive carries the same image twice over the same blobs, so every loader reads
it:

* ``manifest.json``: the ``docker save`` format that ``docker load`` reads (Docker
  20.10 reads only this; the legacy ``repositories`` file is left out, as loaders
  that find ``manifest.json`` ignore it);
* ``oci-layout`` + ``index.json``: an OCI image layout, which containerd's import
  prefers when present.

Blobs live once, under ``blobs/sha256/<hex>``; ``manifest.json`` points at them by
path (``docker load`` opens whatever path it names). The image is one uncompressed
layer, so the layer's digest is also its diff id. Everything is deterministic (sorted
entries, fixed times and owners, canonical JSON): the same inputs give the same image
id, so a test can tell "the image I built" from anything else.

Worked example::

    ref = write_image_archive(Path("hello.tar"), "navarch.test/hello:1",
                              {"bin/hello": Path("/usr/bin/hello")},
                              entrypoint=["/bin/hello"])
    ref.id   # 'sha256:…' — the config's digest, the id `docker images` shows
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import platform
import struct
import tarfile
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import IO, Any, NamedTuple

from navarch.runtime.errors import ImageLoadError
from navarch.runtime.types import ImageRef

DEFAULT_ENV = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)
BUSYBOX = Path("/usr/bin/busybox")

# Applets linked into /bin of the busybox image: enough for the tests' commands
# (sleep, echo, httpd, nc …) and for a user poking around with `kubectl exec`.
BUSYBOX_APPLETS = (
    "sh", "ash", "echo", "sleep", "cat", "ls", "true", "false", "env", "wc", "id",
    "hostname", "httpd", "nc", "kill", "ps", "pwd", "printf", "test", "[", "date",
    "yes", "head", "tail", "grep", "mkdir", "touch", "rm", "wget", "seq", "dd",
    "cp", "mv", "ln", "chmod", "sed", "awk", "sort", "uniq", "tr", "cut", "tee",
    "find", "xargs", "uname", "whoami", "nslookup", "ping", "top", "free", "df",
    "du", "stat", "timeout", "basename", "dirname", "md5sum", "sha256sum", "vi",
    "mount", "umount", "killall", "pidof", "usleep", "watch", "expr", "ip",
    "ifconfig", "netstat", "nproc", "tar", "gzip", "gunzip", "base64",
    "less", "more", "diff", "which", "sync", "tac", "rev", "logger",
)  # fmt: skip

# A fixed time for every tar entry and the config's "created": reproducible ids.
_EPOCH = 0
_CREATED = "1970-01-01T00:00:00Z"

MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
# containerd names an imported image by this annotation; OCI's own holds the tag only.
ANNOTATION_IMAGE_NAME = "io.containerd.image.name"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"

# Go's names for machines (GOARCH), which image configs and registries use.
_GO_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "armv6l": "arm",
    "i386": "386",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


class ImageFiles(NamedTuple):
    """The content of an image: ``files`` (path in the image -> source file or bytes)
    and ``symlinks`` (path in the image -> link target)."""

    files: dict[str, Path | bytes]
    symlinks: dict[str, str]


def go_architecture(machine: str | None = None) -> str:
    """This machine's architecture in Go's naming (``x86_64`` -> ``amd64``)."""
    machine = machine or platform.machine()
    return _GO_ARCH.get(machine.lower(), machine.lower())


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def normalize_image_name(name: str) -> str:
    """A reference as containerd stores it: ``busybox:1`` ->
    ``docker.io/library/busybox:1``; names with a registry host stay as they are;
    a missing tag is ``latest``."""
    first, _, rest = name.partition("/")
    if not rest or ("." not in first and ":" not in first and first != "localhost"):
        name = f"docker.io/{'library/' if not rest else ''}{name}"
    last = name.rsplit("/", 1)[-1]
    if ":" not in last and "@" not in last:
        name += ":latest"
    return name


def _with_tag(name: str) -> str:
    """``name`` with an explicit tag (``:latest`` when it has none); digests refused."""
    if "@" in name:
        raise ValueError(f"an archive's image name needs a tag, not a digest: {name!r}")
    if ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return name


def write_image_archive(
    dest: Path,
    tag: str,
    files: Mapping[str, Path | bytes],
    *,
    symlinks: Mapping[str, str] | None = None,
    directories: Mapping[str, int] | None = None,
    entrypoint: Sequence[str] = (),
    cmd: Sequence[str] = (),
    env: Sequence[str] = DEFAULT_ENV,
    working_dir: str = "",
    architecture: str | None = None,
) -> ImageRef:
    """Write a one-layer image named ``tag`` to the archive ``dest`` and return it.

    ``files`` maps a path in the image (``bin/busybox``; a leading ``/`` is ignored)
    to a source file or its bytes. A file is executable (0755) when its source is, or
    when its bytes start like a program (``#!`` or ELF); otherwise 0644. Parent
    directories are created (0755); ``directories`` adds empty ones with their mode
    (``{"tmp": 0o1777}``). ``architecture`` defaults to this machine's (Go naming).
    The archive is written to a temporary name and renamed, so a reader never sees
    half of it.
    """
    dest = Path(dest)
    tag = _with_tag(tag)
    layer_entries = _layer_entries(files, symlinks or {}, directories or {})
    with tempfile.TemporaryFile() as layer:
        _write_layer(layer, layer_entries)
        layer_size = layer.tell()
        layer.seek(0)
        layer_digest = _hash_stream(layer)
        config = canonical_json(
            {
                "architecture": architecture or go_architecture(),
                "os": "linux",
                "created": _CREATED,
                "config": {
                    "Env": list(env),
                    "Entrypoint": list(entrypoint) or None,
                    "Cmd": list(cmd) or None,
                    "WorkingDir": working_dir,
                },
                "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
                "history": [{"created": _CREATED, "created_by": "navarch write_image_archive"}],
            }
        )
        config_digest = sha256_digest(config)
        oci_manifest = canonical_json(
            {
                "schemaVersion": 2,
                "mediaType": MEDIA_OCI_MANIFEST,
                "config": {
                    "mediaType": MEDIA_OCI_CONFIG,
                    "digest": config_digest,
                    "size": len(config),
                },
                "layers": [
                    {"mediaType": MEDIA_OCI_LAYER, "digest": layer_digest, "size": layer_size}
                ],
            }
        )
        manifest_digest = sha256_digest(oci_manifest)
        short_tag = tag.rpartition(":")[2]
        index = canonical_json(
            {
                "schemaVersion": 2,
                "mediaType": MEDIA_OCI_INDEX,
                "manifests": [
                    {
                        "mediaType": MEDIA_OCI_MANIFEST,
                        "digest": manifest_digest,
                        "size": len(oci_manifest),
                        "annotations": {
                            ANNOTATION_IMAGE_NAME: normalize_image_name(tag),
                            ANNOTATION_REF_NAME: short_tag,
                        },
                    }
                ],
            }
        )
        docker_manifest = canonical_json(
            [
                {
                    "Config": _blob_path(config_digest),
                    "RepoTags": [tag],
                    "Layers": [_blob_path(layer_digest)],
                }
            ]
        )

        dest.parent.mkdir(parents=True, exist_ok=True)
        # A name of its own: two processes writing the same archive do not mix bytes.
        fd, partial_name = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
        partial = Path(partial_name)
        with os.fdopen(fd, "wb") as out, _removed_on_error(partial):
            _write_archive(
                out,
                [
                    (_blob_path(config_digest), config),
                    (_blob_path(layer_digest), (layer, layer_size)),
                    (_blob_path(manifest_digest), oci_manifest),
                    ("index.json", index),
                    ("manifest.json", docker_manifest),
                    ("oci-layout", canonical_json({"imageLayoutVersion": "1.0.0"})),
                ],
            )
        partial.chmod(0o644)
        partial.replace(dest)
    return ImageRef(id=config_digest, tags=(tag,), size=layer_size)


@contextlib.contextmanager
def _removed_on_error(path: Path) -> Iterator[None]:
    try:
        yield
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _write_archive(
    out: IO[bytes], entries: Sequence[tuple[str, bytes | tuple[IO[bytes], int]]]
) -> None:
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        _add_dir(archive, "blobs")
        _add_dir(archive, "blobs/sha256")
        for name, content in entries:
            if isinstance(content, bytes):
                _add_bytes(archive, name, content)
            else:
                _add_file(archive, name, *content)


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


def busybox_files(busybox: Path = BUSYBOX, applets: Iterable[str] = BUSYBOX_APPLETS) -> ImageFiles:
    """A busybox image's content from Debian's ``busybox-static`` (one static binary,
    so nothing else is needed): ``bin/busybox``, a link per applet in ``bin/``, and
    the ``/etc/passwd`` and ``/etc/group`` that ``id`` and ``whoami`` read."""
    if not Path(busybox).is_file():
        raise FileNotFoundError(
            f"{busybox} is missing: the busybox image is built from Debian's static "
            "busybox; run `apt-get install busybox-static` (or `make system-deps`)"
        )
    if _is_dynamically_linked(Path(busybox)):
        raise ValueError(
            f"{busybox} is dynamically linked and would not run in an image without its "
            "libraries: run `apt-get install busybox-static` (it replaces Debian's "
            "dynamically linked busybox package)"
        )
    files: dict[str, Path | bytes] = {
        "bin/busybox": Path(busybox),
        "etc/passwd": b"root:x:0:0:root:/root:/bin/sh\n"
        b"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        "etc/group": b"root:x:0:\nnogroup:x:65534:\n",
    }
    symlinks = {f"bin/{applet}": "busybox" for applet in applets if applet != "busybox"}
    return ImageFiles(files, symlinks)


def _is_dynamically_linked(binary: Path) -> bool:
    """Whether an ELF program names an interpreter (PT_INTERP, the dynamic loader)."""
    with open(binary, "rb") as file:
        header = file.read(64)
        if header[:4] != b"\x7fELF":
            return False
        wide, order = header[4] == 2, "<" if header[5] == 1 else ">"
        if wide:
            phoff, phentsize, phnum = struct.unpack_from(f"{order}Q14xHH", header, 0x20)
        else:
            phoff, phentsize, phnum = struct.unpack_from(f"{order}I10xHH", header, 0x1C)
        file.seek(phoff)
        table = file.read(phentsize * phnum)
    PT_INTERP = 3
    return any(
        struct.unpack_from(f"{order}I", table, i * phentsize)[0] == PT_INTERP
        for i in range(phnum)
        if (i + 1) * phentsize <= len(table)
    )


def write_busybox_archive(dest: Path, tag: str, *, busybox: Path = BUSYBOX) -> ImageRef:
    """A busybox image (``sh`` as its command) written to ``dest`` as ``tag``."""
    content = busybox_files(busybox)
    return write_image_archive(
        dest,
        tag,
        content.files,
        symlinks=content.symlinks,
        directories={"tmp": 0o1777, "root": 0o700, "var/www": 0o755},
        cmd=("sh",),
    )


# --- writing ---------------------------------------------------------------------


class _Entry(NamedTuple):
    path: str
    kind: bytes  # tarfile.DIRTYPE, REGTYPE or SYMTYPE
    mode: int
    source: Path | bytes | str | None  # file source, or the link target


def _clean_path(path: str) -> str:
    parts = PurePosixPath("/", path).parts[1:]
    if not parts or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"invalid path in image: {path!r}")
    return "/".join(parts)


def _layer_entries(
    files: Mapping[str, Path | bytes], symlinks: Mapping[str, str], directories: Mapping[str, int]
) -> list[_Entry]:
    entries: dict[str, _Entry] = {}
    for raw, mode in directories.items():
        path = _clean_path(raw)
        entries[path] = _Entry(path, tarfile.DIRTYPE, mode, None)
    for raw, source in files.items():
        path = _clean_path(raw)
        entries[path] = _Entry(path, tarfile.REGTYPE, _file_mode(source), source)
    for raw, target in symlinks.items():
        path = _clean_path(raw)
        entries[path] = _Entry(path, tarfile.SYMTYPE, 0o777, target)
    for path in list(entries):
        parent = PurePosixPath(path).parent
        while str(parent) != ".":
            key = str(parent)
            if key in entries and entries[key].kind != tarfile.DIRTYPE:
                raise ValueError(f"{key!r} is both a directory and a file in the image")
            entries.setdefault(key, _Entry(key, tarfile.DIRTYPE, 0o755, None))
            parent = parent.parent
    # Sorting by path components puts every directory before what it holds.
    return sorted(entries.values(), key=lambda entry: entry.path.split("/"))


def _file_mode(source: Path | bytes) -> int:
    if isinstance(source, bytes):
        executable = source.startswith((b"#!", b"\x7fELF"))
    else:
        try:
            executable = bool(Path(source).stat().st_mode & 0o111)
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"image file source {source} does not exist") from exc
    return 0o755 if executable else 0o644


def _write_layer(out: IO[bytes], entries: list[_Entry]) -> None:
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as layer:
        for entry in entries:
            info = _tar_info(entry.path, entry.mode, entry.kind)
            if entry.kind == tarfile.SYMTYPE:
                assert isinstance(entry.source, str)
                info.linkname = entry.source
                layer.addfile(info)
            elif entry.kind == tarfile.DIRTYPE:
                layer.addfile(info)
            elif isinstance(entry.source, bytes):
                info.size = len(entry.source)
                layer.addfile(info, io.BytesIO(entry.source))
            else:
                assert isinstance(entry.source, Path)
                with open(entry.source, "rb") as source:
                    info.size = os.fstat(source.fileno()).st_size
                    layer.addfile(info, source)


def _tar_info(name: str, mode: int, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = kind, mode, _EPOCH
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _hash_stream(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
    stream.seek(0)
    return "sha256:" + digest.hexdigest()


def _blob_path(digest: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    return f"blobs/{algorithm}/{hexdigest}"


def _add_dir(archive: tarfile.TarFile, name: str) -> None:
    archive.addfile(_tar_info(name, 0o755, tarfile.DIRTYPE))


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = _tar_info(name, 0o644, tarfile.REGTYPE)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def _add_file(archive: tarfile.TarFile, name: str, source: IO[bytes], size: int) -> None:
    info = _tar_info(name, 0o644, tarfile.REGTYPE)
    info.size = size
    archive.addfile(info, source)


# --- reading ---------------------------------------------------------------------


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
