"""The atomic writer of configMap/secret volumes (the kubelet's atomic_writer.go): a
``..data`` link swapped by rename, user-visible names through it, and a reader that
never sees half of a set."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from navarch.agent.volumes.atomicwriter import (
    DATA_LINK,
    FileProjection,
    PayloadError,
    write_atomically,
)


def test_layout_is_the_kubelets(tmp_path: Path):
    payload = {
        "config.yaml": FileProjection(b"a: 1\n", 0o644),
        "tls/ca.crt": FileProjection(b"CERT", 0o400),
    }
    assert write_atomically(tmp_path, payload)
    data = tmp_path / DATA_LINK
    assert data.is_symlink()
    assert os.readlink(data).startswith("..") and "/" not in os.readlink(data)
    assert os.readlink(tmp_path / "config.yaml") == "..data/config.yaml"
    assert os.readlink(tmp_path / "tls") == "..data/tls"
    assert (tmp_path / "config.yaml").read_bytes() == b"a: 1\n"
    assert (tmp_path / "tls" / "ca.crt").stat().st_mode & 0o777 == 0o400
    assert (tmp_path / "config.yaml").stat().st_mode & 0o777 == 0o644


def test_an_unchanged_set_is_not_rewritten_and_a_changed_one_replaces_the_old(tmp_path: Path):
    write_atomically(tmp_path, {"a": FileProjection(b"1"), "b": FileProjection(b"2")})
    first = os.readlink(tmp_path / DATA_LINK)
    assert not write_atomically(tmp_path, {"a": FileProjection(b"1"), "b": FileProjection(b"2")})
    assert os.readlink(tmp_path / DATA_LINK) == first
    assert write_atomically(tmp_path, {"a": FileProjection(b"changed")})
    second = os.readlink(tmp_path / DATA_LINK)
    assert second != first
    assert not (tmp_path / first).exists()  # the old set is gone
    assert not (tmp_path / "b").is_symlink()  # a name no longer in the set is removed
    assert (tmp_path / "a").read_bytes() == b"changed"
    leftovers = {p.name for p in tmp_path.iterdir()}
    assert leftovers == {DATA_LINK, second, "a"}


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/etc/passwd", "must be relative path"),
        ("a/../../b", "must not contain '..'"),
        ("..secret", "must not start with '..'"),
        ("", "must not be empty"),
    ],
)
def test_paths_that_may_not_be_written_are_refused_before_anything_is(tmp_path, path, message):
    with pytest.raises(PayloadError, match=message):
        write_atomically(tmp_path / "v", {"ok": FileProjection(b"x"), path: FileProjection(b"y")})
    assert not (tmp_path / "v").exists()


def test_a_reader_never_sees_a_half_written_set(tmp_path: Path):
    """While the set is rewritten again and again (each version stamps every file), a
    reader going through ..data always finds every file of one version."""
    names = [f"file-{i}" for i in range(20)]
    write_atomically(tmp_path, {n: FileProjection(b"0") for n in names})
    stop = threading.Event()
    seen: list[set[bytes]] = []
    problems: list[str] = []

    def read() -> None:
        while not stop.is_set():
            try:
                resolved = Path(os.path.realpath(tmp_path / DATA_LINK))
                contents = {n: (resolved / n).read_bytes() for n in names}
            except FileNotFoundError:
                continue  # the set read was replaced and removed meanwhile: read again
            if set(contents) != set(names):
                problems.append(f"incomplete set: {sorted(contents)}")
            seen.append(set(contents.values()))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for version in range(1, 200):
            stamp = str(version).encode()
            write_atomically(tmp_path, {n: FileProjection(stamp) for n in names})
    finally:
        stop.set()
        reader.join()
    assert not problems
    assert seen, "the reader read nothing"
    mixed = [versions for versions in seen if len(versions) != 1]
    assert not mixed, f"a read saw several versions at once: {mixed[:3]}"


def test_a_set_left_half_written_by_a_writer_that_died_is_removed(tmp_path: Path):
    """An agent killed between writing a timestamped directory and swapping ``..data``
    leaves that directory behind; the next write removes it (and only it)."""
    target = tmp_path / "vol"
    write_atomically(target, {"a": FileProjection(b"1")})
    stray = target / "..2026_12_07_21_00_00.abc123"
    (stray / "half").mkdir(parents=True)
    os.symlink("..data/a", target / "..data_tmp")
    write_atomically(target, {"a": FileProjection(b"2")})
    assert not stray.exists() and not (target / "..data_tmp").exists()
    assert (target / "a").read_bytes() == b"2"
    current = os.readlink(target / DATA_LINK)
    assert {p.name for p in target.iterdir()} == {current, DATA_LINK, "a"}
