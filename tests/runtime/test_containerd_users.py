"""The image user's resolution against layer directories as a snapshot's mounts name
them (no containerd needed: the layers are plain directories here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from navarch_runtime_containerd.records import Mount
from navarch_runtime_containerd.users import (
    ProcessUser,
    UserError,
    layer_directories,
    needs_lookup,
    numeric_user,
    resolve_user,
)

PASSWD = "root:x:0:0::/root:/bin/sh\nweb:x:33:34::/var/www:/bin/false\n"
GROUP = "root:x:0:\nwww:x:34:\nlog:x:4:web,other\n"


def _layer(root: Path, name: str, files: dict[str, str]) -> Path:
    layer = root / name
    for relative, content in files.items():
        (layer / relative).parent.mkdir(parents=True, exist_ok=True)
        (layer / relative).write_text(content)
    layer.mkdir(exist_ok=True)
    return layer


def test_overlay_mount_lists_upper_then_lower_dirs() -> None:
    mounts = [Mount("overlay", "overlay", "", ("workdir=/w", "upperdir=/u", "lowerdir=/a:/b"))]
    assert layer_directories(mounts) == [Path("/u"), Path("/a"), Path("/b")]
    assert layer_directories([Mount("bind", "/s", "", ("rbind", "rw"))]) == [Path("/s")]


def test_which_users_need_the_image_files() -> None:
    assert not needs_lookup("") and not needs_lookup("1:2")
    assert needs_lookup("web") and needs_lookup("33") and needs_lookup("33:www")
    assert numeric_user("") == ProcessUser(0, 0) and numeric_user("5:6") == ProcessUser(5, 6)


def test_name_gets_its_primary_and_additional_groups(tmp_path: Path) -> None:
    layer = _layer(tmp_path, "l1", {"etc/passwd": PASSWD, "etc/group": GROUP})
    assert resolve_user("web", [layer], "img") == ProcessUser(33, 34, (4,))
    assert resolve_user("web:root", [layer], "img") == ProcessUser(33, 0, (4,))
    assert resolve_user("33", [layer], "img") == ProcessUser(33, 34, (4,))
    assert resolve_user("77", [layer], "img") == ProcessUser(77, 0)  # no entry: gid 0
    assert resolve_user("77:www", [layer], "img") == ProcessUser(77, 34)
    assert ProcessUser(33, 34, (4,)).spec() == {"uid": 33, "gid": 34, "additionalGids": [4]}


def test_unknown_names_are_errors_naming_the_image(tmp_path: Path) -> None:
    layer = _layer(tmp_path, "l1", {"etc/passwd": PASSWD, "etc/group": GROUP})
    with pytest.raises(UserError, match=r"'img'.*user 'ghost'"):
        resolve_user("ghost", [layer], "img")
    with pytest.raises(UserError, match="group 'ghosts'"):
        resolve_user("web:ghosts", [layer], "img")


def test_the_topmost_layer_wins_and_a_whiteout_deletes(tmp_path: Path) -> None:
    lower = _layer(tmp_path, "lower", {"etc/passwd": PASSWD, "etc/group": GROUP})
    upper = _layer(tmp_path, "upper", {"etc/passwd": "web:x:500:501::/:/bin/sh\n"})
    assert resolve_user("web", [upper, lower], "img").uid == 500
    deleting = tmp_path / "deleting"
    (deleting / "etc").mkdir(parents=True)
    os.mknod(deleting / "etc" / "passwd", 0o600 | 0o020000, os.makedev(0, 0))
    with pytest.raises(UserError):
        resolve_user("web", [deleting, lower], "img")
