"""Image archives written from files: deterministic ids, both layouts (docker save's
manifest.json and OCI's index.json) over the same blobs, and a reader that names the
archive when it is truncated, corrupt or not an image at all."""

from __future__ import annotations

import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path

import pytest

from navarch.runtime.archive import (
    ANNOTATION_IMAGE_NAME,
    ANNOTATION_REF_NAME,
    busybox_files,
    go_architecture,
    normalize_image_name,
    read_archive_manifest,
    write_busybox_archive,
    write_image_archive,
)
from navarch.runtime.errors import ImageLoadError
from navarch.testing.images import BUSYBOX_IMAGE, busybox_archive

SCRIPT = b"#!/bin/sh\necho hello\n"


def _members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {
            member.name: tar.extractfile(member).read()  # type: ignore[union-attr]
            for member in tar
            if member.isfile()
        }


def _layer(archive: Path) -> tarfile.TarFile:
    members = _members(archive)
    manifest = json.loads(members["manifest.json"])
    return tarfile.open(fileobj=io.BytesIO(members[manifest[0]["Layers"][0]]))


def test_same_inputs_give_the_same_image_id_and_bytes(tmp_path):
    first = write_busybox_archive(tmp_path / "a.tar", "navarch.test/same:1")
    second = write_busybox_archive(tmp_path / "b.tar", "navarch.test/same:1")
    assert first == second
    assert first.id.startswith("sha256:") and len(first.id) == 71
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()


def test_different_content_or_config_gives_a_different_id(tmp_path):
    base = write_image_archive(tmp_path / "a.tar", "t/a:1", {"hello": SCRIPT})
    other_file = write_image_archive(tmp_path / "b.tar", "t/a:1", {"hello": SCRIPT + b"#"})
    other_cmd = write_image_archive(tmp_path / "c.tar", "t/a:1", {"hello": SCRIPT}, cmd=["x"])
    assert len({base.id, other_file.id, other_cmd.id}) == 3


def test_the_id_is_the_config_digest_and_both_layouts_share_the_blobs(tmp_path):
    archive = tmp_path / "img.tar"
    ref = write_image_archive(
        archive,
        "127.0.0.1:5000/navarch/app:2",
        {"bin/app": SCRIPT, "/etc/app.conf": b"x=1\n"},
        entrypoint=["/bin/app"],
        cmd=["--flag"],
        env=["A=1"],
        working_dir="/etc",
        architecture="arm64",
    )
    members = _members(archive)
    config_name = f"blobs/sha256/{ref.id.removeprefix('sha256:')}"
    config = json.loads(members[config_name])
    assert hashlib.sha256(members[config_name]).hexdigest() == ref.id.removeprefix("sha256:")
    assert config["architecture"] == "arm64" and config["os"] == "linux"
    assert config["config"] == {
        "Entrypoint": ["/bin/app"],
        "Cmd": ["--flag"],
        "Env": ["A=1"],
        "WorkingDir": "/etc",
    }

    # docker save's format, pointing into blobs/
    (entry,) = json.loads(members["manifest.json"])
    assert entry["Config"] == config_name
    assert entry["RepoTags"] == ["127.0.0.1:5000/navarch/app:2"]
    (layer_name,) = entry["Layers"]
    layer_digest = "sha256:" + hashlib.sha256(members[layer_name]).hexdigest()
    # one uncompressed layer: its digest is its diff id
    assert config["rootfs"] == {"type": "layers", "diff_ids": [layer_digest]}
    assert ref.size == len(members[layer_name])

    # the OCI layout over the same blobs, named as containerd names imports
    assert json.loads(members["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    (descriptor,) = json.loads(members["index.json"])["manifests"]
    assert descriptor["annotations"] == {
        ANNOTATION_IMAGE_NAME: "127.0.0.1:5000/navarch/app:2",
        ANNOTATION_REF_NAME: "2",
    }
    manifest_bytes = members[f"blobs/sha256/{descriptor['digest'].removeprefix('sha256:')}"]
    assert descriptor["size"] == len(manifest_bytes)
    manifest = json.loads(manifest_bytes)
    assert manifest["config"]["digest"] == ref.id
    assert [layer["digest"] for layer in manifest["layers"]] == [layer_digest]

    assert read_archive_manifest(archive) == [(ref.id, ["127.0.0.1:5000/navarch/app:2"])]


def test_layer_has_parents_first_fixed_owners_and_times_and_executable_modes(tmp_path):
    source = tmp_path / "tool"
    source.write_bytes(b"\x00binary")
    source.chmod(0o755)
    plain = tmp_path / "data"
    plain.write_bytes(b"data")
    write_image_archive(
        tmp_path / "img.tar",
        "t/modes:1",
        {"usr/bin/tool": source, "srv/data": plain, "bin/script": SCRIPT},
        symlinks={"bin/t": "/usr/bin/tool"},
        directories={"tmp": 0o1777},
    )
    with _layer(tmp_path / "img.tar") as layer:
        members = layer.getmembers()
    names = [member.name for member in members]
    assert names == [
        "bin", "bin/script", "bin/t", "srv", "srv/data", "tmp", "usr", "usr/bin", "usr/bin/tool",
    ]  # fmt: skip
    by_name = {member.name: member for member in members}
    assert by_name["usr/bin/tool"].mode == 0o755
    assert by_name["bin/script"].mode == 0o755  # "#!" bytes
    assert by_name["srv/data"].mode == 0o644
    assert by_name["tmp"].mode == 0o1777 and by_name["tmp"].isdir()
    assert by_name["usr"].isdir() and by_name["usr"].mode == 0o755
    assert by_name["bin/t"].issym() and by_name["bin/t"].linkname == "/usr/bin/tool"
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}


def test_a_name_without_tag_is_latest_and_bad_paths_are_refused(tmp_path):
    ref = write_image_archive(tmp_path / "a.tar", "127.0.0.1:5000/app", {"f": b"x"})
    assert ref.tags == ("127.0.0.1:5000/app:latest",)
    with pytest.raises(ValueError, match="invalid path"):
        write_image_archive(tmp_path / "b.tar", "t/b:1", {"../etc/x": b"x"})
    with pytest.raises(ValueError, match="both a directory and a file"):
        write_image_archive(tmp_path / "c.tar", "t/c:1", {"a": b"x", "a/b": b"y"})


def test_architecture_defaults_to_the_machine_in_go_naming(tmp_path):
    assert go_architecture("x86_64") == "amd64"
    assert go_architecture("aarch64") == "arm64"
    ref = write_image_archive(tmp_path / "a.tar", "t/a:1", {"f": b"x"})
    config = _members(tmp_path / "a.tar")[f"blobs/sha256/{ref.id.removeprefix('sha256:')}"]
    assert json.loads(config)["architecture"] == go_architecture()


def test_normalized_names_as_containerd_stores_them():
    assert normalize_image_name("busybox:1") == "docker.io/library/busybox:1"
    assert normalize_image_name("user/app") == "docker.io/user/app:latest"
    assert normalize_image_name("navarch.test/busybox:1") == "navarch.test/busybox:1"
    assert normalize_image_name("127.0.0.1:5000/a/b:2") == "127.0.0.1:5000/a/b:2"
    assert normalize_image_name("localhost/app") == "localhost/app:latest"


def test_busybox_image_has_the_binary_and_applet_links(tmp_path):
    archive = busybox_archive(tmp_path)
    assert busybox_archive(tmp_path) == archive  # written once per directory
    ((_, tags),) = read_archive_manifest(archive)
    assert tags == [BUSYBOX_IMAGE]
    with _layer(archive) as layer:
        busybox = layer.getmember("bin/busybox")
        assert busybox.mode == 0o755
        assert busybox.size == Path("/usr/bin/busybox").stat().st_size
        for applet in ("sh", "sleep", "echo", "httpd", "nc", "wget"):
            assert layer.getmember(f"bin/{applet}").linkname == "busybox"
        assert b"root:x:0:0" in layer.extractfile("etc/passwd").read()  # type: ignore[union-attr]


def test_busybox_missing_or_dynamic_says_what_to_install(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install busybox-static"):
        busybox_files(tmp_path / "no-busybox")
    # Debian's plain `busybox` package is dynamically linked: useless in an image
    dynamic = Path(sys.executable).resolve()
    with pytest.raises(ValueError, match=r"dynamically linked.*apt-get install busybox-static"):
        busybox_files(dynamic)


# --- broken archives --------------------------------------------------------------


def _layer_span(archive: Path) -> tuple[int, int]:
    """Where the layer's data starts and ends in the archive file."""
    with tarfile.open(archive) as tar:
        layer = max(tar.getmembers(), key=lambda member: member.size)
        return layer.offset_data, layer.offset_data + layer.size


@pytest.mark.parametrize("where", ["inside_header", "inside_layer", "after_layer"])
def test_truncated_archive_is_an_image_load_error_naming_it(tmp_path, where):
    good = busybox_archive(tmp_path)
    start, end = _layer_span(good)
    cut = {
        "inside_header": 700,  # tarfile alone reads a partial block as the end
        "inside_layer": (start + end) // 2,
        "after_layer": end + 512,
    }
    broken = tmp_path / "broken.tar"
    broken.write_bytes(good.read_bytes()[: cut[where]])
    with pytest.raises(ImageLoadError, match="truncated") as caught:
        read_archive_manifest(broken)
    assert caught.value.archive == str(broken)
    assert str(broken) in caught.value.message


def test_flipped_byte_in_a_blob_is_reported_as_corrupt(tmp_path):
    good = busybox_archive(tmp_path)
    start, end = _layer_span(good)
    data = bytearray(good.read_bytes())
    data[(start + end) // 2] ^= 0xFF
    broken = tmp_path / "corrupt.tar"
    broken.write_bytes(bytes(data))
    with pytest.raises(ImageLoadError, match="does not match its digest") as caught:
        read_archive_manifest(broken)
    assert str(broken) in caught.value.message


def test_files_that_are_no_image_archive(tmp_path):
    missing = tmp_path / "missing.tar"
    with pytest.raises(ImageLoadError, match="no such file"):
        read_archive_manifest(missing)

    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"this is not a tar file\n" * 100)
    with pytest.raises(ImageLoadError, match="not a readable tar archive") as caught:
        read_archive_manifest(garbage)
    assert str(garbage) in caught.value.message

    plain_tar = tmp_path / "plain.tar"
    with tarfile.open(plain_tar, "w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    with pytest.raises(ImageLoadError, match=r"neither manifest\.json nor index\.json"):
        read_archive_manifest(plain_tar)


def _rewrite(source: Path, dest: Path, drop: set[str], replace: dict[str, bytes]) -> None:
    with tarfile.open(source) as old, tarfile.open(dest, "w") as new:
        for member in old:
            if member.name in drop:
                continue
            if member.name in replace:
                member.size = len(replace[member.name])
                new.addfile(member, io.BytesIO(replace[member.name]))
            else:
                new.addfile(member, old.extractfile(member) if member.isfile() else None)


def test_missing_layer_or_broken_manifest_is_reported(tmp_path):
    good = busybox_archive(tmp_path)
    with tarfile.open(good) as tar:
        layer = max(tar.getmembers(), key=lambda member: member.size).name

    no_layer = tmp_path / "no-layer.tar"
    _rewrite(good, no_layer, {layer}, {})
    with pytest.raises(ImageLoadError, match="is missing"):
        read_archive_manifest(no_layer)

    bad_json = tmp_path / "bad-json.tar"
    _rewrite(good, bad_json, set(), {"manifest.json": b"[{"})
    with pytest.raises(ImageLoadError, match=r"manifest\.json is not valid JSON"):
        read_archive_manifest(bad_json)


def test_an_oci_layout_alone_is_read_too(tmp_path):
    good = busybox_archive(tmp_path)
    ((image_id, _),) = read_archive_manifest(good)
    oci_only = tmp_path / "oci.tar"
    _rewrite(good, oci_only, {"manifest.json"}, {})
    assert read_archive_manifest(oci_only) == [(image_id, [BUSYBOX_IMAGE])]


def test_a_missing_source_file_leaves_nothing_behind(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(FileNotFoundError, match="nope"):
        write_image_archive(out / "a.tar", "t/a:1", {"bin/x": tmp_path / "nope"})
    assert not out.exists() or list(out.iterdir()) == []
