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
import os
import platform
import struct
import tarfile
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import IO, NamedTuple

# The format's facts and the reader live in their own modules; their public names
# stay importable from here, where callers have always found them.
from navarch.runtime.archive_format import (
    ANNOTATION_IMAGE_NAME,
    ANNOTATION_REF_NAME,
    MEDIA_OCI_CONFIG,
    MEDIA_OCI_INDEX,
    MEDIA_OCI_LAYER,
    MEDIA_OCI_MANIFEST,
    canonical_json,
    sha256_digest,
)
from navarch.runtime.archive_read import read_archive_manifest
from navarch.runtime.types import ImageRef

__all__ = [
    "ANNOTATION_IMAGE_NAME",
    "ANNOTATION_REF_NAME",
    "BUSYBOX",
    "BUSYBOX_APPLETS",
    "DEFAULT_ENV",
    "MEDIA_OCI_CONFIG",
    "MEDIA_OCI_INDEX",
    "MEDIA_OCI_LAYER",
    "MEDIA_OCI_MANIFEST",
    "ImageFiles",
    "busybox_files",
    "canonical_json",
    "go_architecture",
    "normalize_image_name",
    "read_archive_manifest",
    "sha256_digest",
    "write_busybox_archive",
    "write_image_archive",
]

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
    user: str = "",
    architecture: str | None = None,
) -> ImageRef:
    """Write a one-layer image named ``tag`` to the archive ``dest`` and return it.

    ``files`` maps a path in the image (``bin/busybox``; a leading ``/`` is ignored)
    to a source file or its bytes. A file is executable (0755) when its source is, or
    when its bytes start like a program (``#!`` or ELF); otherwise 0644. Parent
    directories are created (0755); ``directories`` adds empty ones with their mode
    (``{"tmp": 0o1777}``). ``user`` is the image's ``User`` (``name``, ``uid``,
    ``name:group``, ``uid:gid``; empty: root). ``architecture`` defaults to this
    machine's (Go naming).
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
                    **({"User": user} if user else {}),
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
        b"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
        b"app:x:1000:1000:app:/home/app:/bin/sh\n",
        # "app" also in "audio" and "video": an image user's additional groups
        "etc/group": b"root:x:0:\naudio:x:29:app\nvideo:x:44:app\napp:x:1000:\nnogroup:x:65534:\n",
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


def write_busybox_archive(
    dest: Path, tag: str, *, busybox: Path = BUSYBOX, user: str = ""
) -> ImageRef:
    """A busybox image (``sh`` as its command; ``user`` its ``User``) written to
    ``dest`` as ``tag``."""
    content = busybox_files(busybox)
    return write_image_archive(
        dest,
        tag,
        content.files,
        symlinks=content.symlinks,
        directories={"tmp": 0o1777, "root": 0o700, "var/www": 0o755},
        cmd=("sh",),
        user=user,
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
