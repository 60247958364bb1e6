"""Writing a set of files so that a reader never sees half of it: the kubelet's atomic
writer (pkg/volume/util/atomic_writer.go), for configMap, secret, downwardAPI and
projected volumes.

Layout of a volume directory written twice (``config.yaml`` and ``tls/ca.crt``)::

    ..2026_12_07_20_30_01.123456/config.yaml     the current set, written in full
    ..2026_12_07_20_30_01.123456/tls/ca.crt
    ..data -> ..2026_12_07_20_30_01.123456       swapped by rename(2): atomic
    config.yaml -> ..data/config.yaml            what the container sees
    tls -> ..data/tls

A new set goes into a new timestamped directory; only once it is complete does the
``..data`` link move to it (a symlink made as ``..data_tmp``, then renamed over
``..data``), and only then is the previous directory removed. A reader going through
``..data`` sees the old set or the new, never a mix. A set equal to what is on disk
is not rewritten (the link stays, so nothing changes under a reader)."""

from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import attrs

DATA_LINK = "..data"
NEW_DATA_LINK = "..data_tmp"
MAX_PATH_LENGTH = 4096
MAX_NAME_LENGTH = 255


@attrs.frozen
class FileProjection:
    """One file of a volume's set: its bytes and permission bits."""

    data: bytes
    mode: int = 0o644


class PayloadError(ValueError):
    """A path of the set that may not be written (absolute, ``..``): Kubernetes'
    messages."""


def validate_path(path: str) -> None:
    """Kubernetes' validatePath, with its messages: relative, no ``..`` element, names
    of at most 255 characters, not starting with ``..`` (the writer's own names)."""
    if not path:
        raise PayloadError(f"invalid path: must not be empty: {path!r}")
    if posixpath.isabs(path):
        raise PayloadError(f"invalid path: must be relative path: {path}")
    if len(path) > MAX_PATH_LENGTH:
        raise PayloadError(
            f"invalid path: must be less than or equal to {MAX_PATH_LENGTH} characters"
        )
    items = path.split("/")
    for item in items:
        if item == "..":
            raise PayloadError(f"invalid path: must not contain '..': {path}")
        if len(item) > MAX_NAME_LENGTH:
            raise PayloadError(
                f"invalid path: filenames must be less than or equal to {MAX_NAME_LENGTH} "
                "characters"
            )
    if items[0].startswith("..") and len(items[0]) > 2:
        raise PayloadError(f"invalid path: must not start with '..': {path}")


def write_atomically(target: Path, payload: Mapping[str, FileProjection]) -> bool:
    """Make ``target`` hold exactly ``payload`` (relative path -> file); True when
    something was written, False when the set on disk was already this one. Raises
    PayloadError for a path that may not be written, before touching anything."""
    files = {}
    for path, projection in payload.items():
        validate_path(path)
        files[posixpath.normpath(path)] = projection
    target.mkdir(parents=True, exist_ok=True)
    data_link = target / DATA_LINK
    old_dir = os.readlink(data_link) if data_link.is_symlink() else None
    old_files = _read_set(target / old_dir) if old_dir else None
    if old_files is not None and old_files == files:
        return False
    new_dir = _write_set(target, files)
    new_link = target / NEW_DATA_LINK
    if new_link.is_symlink():  # left by a writer that died between the two steps
        new_link.unlink()
    os.symlink(new_dir.name, new_link)
    os.replace(new_link, data_link)  # the one atomic step
    new_top = {path.split("/", 1)[0] for path in files}
    for name in sorted(new_top):
        visible = target / name
        if not visible.is_symlink():
            os.symlink(f"{DATA_LINK}/{name}", visible)
    old_top = {path.split("/", 1)[0] for path in old_files or {}}
    for name in old_top - new_top:
        (target / name).unlink(missing_ok=True)
    if old_dir and old_dir != new_dir.name:
        shutil.rmtree(target / old_dir, ignore_errors=True)
    _remove_strays(target, keep=new_dir.name)
    return True


def _remove_strays(target: Path, keep: str) -> None:
    """Timestamped directories no link names: left by a writer that died before its
    swap (an agent killed mid-write). Nobody reads them; on a Secret's tmpfs they
    would hold memory for as long as the pod runs."""
    for entry in target.iterdir():
        stray = entry.name.startswith("..") and entry.name not in (DATA_LINK, NEW_DATA_LINK, keep)
        if stray and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)


def _write_set(target: Path, files: Mapping[str, FileProjection]) -> Path:
    prefix = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
    directory = Path(tempfile.mkdtemp(prefix=prefix, dir=target))
    directory.chmod(0o755)
    for path, projection in files.items():
        file = directory / path
        file.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        file.write_bytes(projection.data)
        file.chmod(projection.mode & 0o7777)
    return directory


def _read_set(directory: Path) -> dict[str, FileProjection] | None:
    """The set a timestamped directory holds; None when it cannot be read whole."""
    found: dict[str, FileProjection] = {}
    try:
        for root, _dirs, names in os.walk(directory):
            for name in names:
                file = Path(root) / name
                relative = file.relative_to(directory).as_posix()
                found[relative] = FileProjection(file.read_bytes(), file.stat().st_mode & 0o7777)
    except OSError:
        return None
    return found
