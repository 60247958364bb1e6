"""The user a container's process runs as, from its image's ``User`` (``name``,
``uid``, ``name:group``, ``uid:gid``; empty: root), as containerd's CRI resolves it:

* a number is taken as it is; a name is looked up in the image's ``/etc/passwd``
  (``/etc/group`` for a group name) and must be there;
* with no group given, the group is the user's primary group from ``/etc/passwd``
  (0 when a numeric user has no entry);
* the additional groups are those of ``/etc/group`` listing the user's name.

Only a user that needs a lookup reads the image's files (``needs_lookup``): they are
read straight from the container's fresh snapshot, whose mounts name the layer
directories (the top one first), without mounting anything. A layer that deleted a
file holds a whiteout (a 0:0 character device) in its place: the file is absent.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from navarch_runtime_containerd.records import Mount


@attrs.frozen
class ProcessUser:
    uid: int = 0
    gid: int = 0
    additional_gids: tuple[int, ...] = ()

    def spec(self) -> dict[str, object]:
        """The runtime spec's ``process.user``."""
        user: dict[str, object] = {"uid": self.uid, "gid": self.gid}
        if self.additional_gids:
            user["additionalGids"] = list(self.additional_gids)
        return user


class UserError(ValueError):
    """The image's user cannot be resolved (the message says why)."""


def needs_lookup(user: str) -> bool:
    """Whether ``user`` names anything that only the image's files can tell."""
    name, _, group = user.partition(":")
    return bool(user) and not (name.isdigit() and group.isdigit())


def numeric_user(user: str) -> ProcessUser:
    """A user given as ``uid:gid`` numbers (or empty: root)."""
    if not user:
        return ProcessUser()
    name, _, group = user.partition(":")
    return ProcessUser(int(name), int(group))


def layer_directories(mounts: Sequence[Mount]) -> list[Path]:
    """The directories of a snapshot's mounts, the topmost first: an overlay's
    ``upperdir`` then its ``lowerdir`` list, or a bind mount's source."""
    directories: list[Path] = []
    for mount in mounts:
        if mount.type == "bind":
            directories.append(Path(mount.source))
            continue
        options = dict(option.partition("=")[::2] for option in mount.options)
        if options.get("upperdir"):
            directories.append(Path(options["upperdir"]))
        directories += [Path(lower) for lower in options.get("lowerdir", "").split(":") if lower]
    return directories


def resolve_user(user: str, layers: Sequence[Path], image: str) -> ProcessUser:
    """``user`` (the image's ``User``) as numbers, looked up in the image's files
    found in ``layers`` (topmost first). Raises UserError naming ``image``."""
    name, _, group = user.partition(":")
    passwd = list(_entries(_read(layers, "etc/passwd")))
    if name.isdigit():
        uid = int(name)
        entry = next((fields for fields in passwd if _int(fields, 2) == uid), None)
    else:
        entry = next((fields for fields in passwd if fields[0] == name), None)
        if entry is None:
            raise UserError(f"image {image!r}: user {name!r} is not in its /etc/passwd")
        uid = _int(entry, 2)
    groups = list(_entries(_read(layers, "etc/group")))
    if group.isdigit():
        gid = int(group)
    elif group:
        found = next((fields for fields in groups if fields[0] == group), None)
        if found is None:
            raise UserError(f"image {image!r}: group {group!r} is not in its /etc/group")
        gid = _int(found, 2)
    else:
        gid = _int(entry, 3) if entry is not None else 0
    member = entry[0] if entry is not None else None
    extra = tuple(
        _int(fields, 2)
        for fields in groups
        if member and len(fields) > 3 and member in fields[3].split(",")
    )
    return ProcessUser(uid, gid, tuple(dict.fromkeys(extra)))


def _read(layers: Sequence[Path], relative: str) -> str:
    """The file as the container will see it; "" when absent."""
    for layer in layers:
        path = layer / relative
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            continue
        if stat.S_ISCHR(info.st_mode) and info.st_rdev == 0:
            return ""  # a whiteout: deleted by this layer
        if not stat.S_ISREG(info.st_mode):
            return ""  # a symbolic link or other: not followed out of the image
        return path.read_text(errors="replace")
    return ""


def _entries(text: str) -> Iterable[list[str]]:
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            yield line.split(":")


def _int(fields: list[str], index: int) -> int:
    try:
        return int(fields[index])
    except (IndexError, ValueError):
        return 0
