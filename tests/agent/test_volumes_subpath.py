"""subPath and subPathExpr: made when missing, never outside the volume (the kubelet's
checks and messages)."""

from __future__ import annotations

import errno
import functools
import os
from pathlib import Path

import pytest

from navarch import api
from navarch.agent.volumes import manager as manager_module
from navarch.agent.volumes.layout import PodDirectories
from navarch.agent.volumes.manager import VolumeManager, VolumePath
from navarch.agent.volumes.mounts import MountConfigError, container_mounts
from navarch.agent.volumes.subpath import (
    SubPathError,
    expand_sub_path_expr,
    open_pinned,
    prepare_sub_path,
)
from navarch.agent.volumes.tmpfs import MountError, mounts_below
from navarch.runtime import MountPropagation


def test_a_missing_sub_path_is_made_inside_the_volume(tmp_path: Path):
    volume = tmp_path / "vol"
    volume.mkdir(mode=0o777)
    volume.chmod(0o777)
    made = prepare_sub_path(volume, "a/b/c")
    assert made == volume.resolve() / "a" / "b" / "c"
    assert made.is_dir()
    assert made.stat().st_mode & 0o777 == 0o777  # the volume's own mode


@pytest.mark.parametrize(
    ("sub_path", "message"),
    [
        ("/etc", "error SubPath `/etc` must not be an absolute path"),
        ("a/../../etc", "unable to provision SubPath `a/../../etc`: must not contain '..'"),
    ],
)
def test_paths_out_of_the_volume_are_refused(tmp_path: Path, sub_path, message):
    (tmp_path / "vol").mkdir()
    with pytest.raises(SubPathError) as raised:
        prepare_sub_path(tmp_path / "vol", sub_path)
    assert str(raised.value) == message


def test_a_symlink_leading_out_of_the_volume_is_refused(tmp_path: Path):
    """A container plants ``escape -> /`` in a shared volume; the next container's
    subPath ``escape/etc`` must not become the host's /etc."""
    volume = tmp_path / "vol"
    volume.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, volume / "escape")
    with pytest.raises(SubPathError, match="not within volume path"):
        prepare_sub_path(volume, "escape/made")
    assert not (outside / "made").exists()  # nothing made outside either
    os.symlink("/etc/passwd", volume / "passwd")
    with pytest.raises(SubPathError, match="not within volume path"):
        prepare_sub_path(volume, "passwd")


def test_a_symlink_inside_the_volume_is_followed(tmp_path: Path):
    volume = tmp_path / "vol"
    (volume / "real").mkdir(parents=True)
    os.symlink("real", volume / "alias")
    assert prepare_sub_path(volume, "alias") == (volume / "real").resolve()


def test_sub_path_expr_expands_from_the_environment():
    assert expand_sub_path_expr("logs/$(POD_NAME)", {"POD_NAME": "web-0"}) == "logs/web-0"
    with pytest.raises(SubPathError, match="missing value for A, B"):
        expand_sub_path_expr("$(B)/$(A)", {"A": ""})


def container(mounts, privileged=None):
    body = {
        "name": "app",
        "image": "navarch.test/busybox:1",
        "volumeMounts": mounts,
    }
    if privileged is not None:
        body["securityContext"] = {"privileged": privileged}
    return api.load(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {
                "containers": [body],
                "volumes": [{"name": v, "emptyDir": {}} for v in ("data", "cfg", "logs")],
            },
        },
        check=False,  # the API server refuses some of these too; the agent checks anyway
    ).obj.spec.containers[0]


def test_container_mounts(tmp_path: Path):
    for name in ("data", "cfg", "logs"):
        (tmp_path / name).mkdir()
    volumes = {
        "data": VolumePath(tmp_path / "data"),
        "cfg": VolumePath(tmp_path / "cfg", read_only=True),
        "logs": VolumePath(tmp_path / "logs"),
    }
    c = container(
        [
            {"name": "data", "mountPath": "/data", "mountPropagation": "HostToContainer"},
            {"name": "cfg", "mountPath": "/etc/app"},
            {"name": "data", "mountPath": "/ro", "readOnly": True, "subPath": "sub"},
            {"name": "logs", "mountPath": "/logs", "subPathExpr": "$(POD)"},
        ]
    )
    mounts = container_mounts(c, volumes, {"POD": "web-1"})
    assert [(m.container_path, m.read_only) for m in mounts] == [
        ("/data", False),
        ("/etc/app", True),  # a configMap-like volume is always read-only
        ("/ro", True),
        ("/logs", False),
    ]
    assert mounts[0].propagation is MountPropagation.HOST_TO_CONTAINER
    assert mounts[2].host_path == str((tmp_path / "data" / "sub").resolve())
    assert mounts[3].host_path == str((tmp_path / "logs" / "web-1").resolve())


def test_container_mount_errors():
    with pytest.raises(MountConfigError, match="cannot find volume 'data' to mount"):
        container_mounts(container([{"name": "data", "mountPath": "/d"}]), {}, {})
    bidirectional = [{"name": "data", "mountPath": "/d", "mountPropagation": "Bidirectional"}]
    volumes = {"data": VolumePath(Path("/tmp"))}
    with pytest.raises(MountConfigError, match="only to privileged containers"):
        container_mounts(container(bidirectional), volumes, {})
    assert container_mounts(container(bidirectional, privileged=True), volumes, {})


def test_a_sub_path_swapped_for_a_symlink_after_the_check_stays_in_the_volume(tmp_path: Path):
    """CVE-2017-1002101's race: the agent checks ``data`` (a directory inside the shared
    volume), then a container sharing the volume swaps it for ``data -> <host dir>``
    before the runtime binds it. What the agent hands the runtime is a bind of the
    checked directory itself, so the swap changes nothing; the bind goes with the pod."""
    manager = VolumeManager(PodDirectories(tmp_path / "pods"), "n1", {})
    volume = manager.directories.volume("u-1", "kubernetes.io~empty-dir", "data")
    (volume / "data").mkdir(parents=True)
    (volume / "data" / "file").write_text("the pod's")
    host = tmp_path / "host"
    host.mkdir()
    (host / "file").write_text("the host's")
    mounts = container_mounts(
        container([{"name": "data", "mountPath": "/d", "subPath": "data"}]),
        {"data": VolumePath(volume)},
        {},
        functools.partial(manager.sub_path, "u-1", "app"),
    )
    try:
        os.rename(volume / "data", volume / "moved")
        os.symlink(host, volume / "data")
        assert (Path(mounts[0].host_path) / "file").read_text() == "the pod's"
    finally:
        manager.directories.remove("u-1")
    assert not mounts_below(tmp_path)
    assert (host / "file").read_text() == "the host's"


def test_a_sub_path_is_refused_when_a_link_appears_while_it_is_opened(tmp_path: Path):
    """The descriptor walk refuses a component that is a link by the time it is opened
    (the check saw a directory)."""
    volume = tmp_path / "vol"
    (volume / "a").mkdir(parents=True)
    checked = prepare_sub_path(volume, "a")
    os.rename(volume / "a", volume / "b")
    os.symlink(tmp_path, volume / "a")
    with pytest.raises(SubPathError, match="became a symbolic link"):
        open_pinned(volume.resolve(), checked)


def test_a_restarted_container_gets_a_fresh_bind_of_its_sub_path(tmp_path: Path):
    """The next instance of a container binds again on the same mount point: the earlier
    bind is replaced, not stacked, and the pod's removal leaves no mount behind."""
    manager = VolumeManager(PodDirectories(tmp_path / "pods"), "n1", {})
    volume = manager.directories.volume("u-1", "kubernetes.io~empty-dir", "data")
    (volume / "logs").mkdir(parents=True)
    (volume / "logs" / "first").write_text("1")
    try:
        first = manager.sub_path("u-1", "app", "data", 0, volume, "logs")
        second = manager.sub_path("u-1", "app", "data", 0, volume, "logs")
        assert first == second and (second / "first").read_text() == "1"
        assert mounts_below(second) == [second]
    finally:
        manager.directories.remove("u-1")
    assert not mounts_below(tmp_path)


def test_a_bind_failing_for_one_mount_does_not_stop_pinning_the_others(tmp_path, monkeypatch):
    """Only a lack of privilege (EPERM) makes the agent hand over checked paths from
    then on; any other failure refuses that mount alone (never the unpinned path)."""
    manager = VolumeManager(PodDirectories(tmp_path / "pods"), "n1", {})
    volume = manager.directories.volume("u-1", "kubernetes.io~empty-dir", "data")
    (volume / "logs").mkdir(parents=True)
    real_bind = manager_module.bind_mount

    def failing(source, target):
        raise MountError(errno.EINVAL, f"cannot bind {source} on {target}: Invalid argument")

    monkeypatch.setattr(manager_module, "bind_mount", failing)
    with pytest.raises(SubPathError, match="cannot bind subPath `logs`"):
        manager.sub_path("u-1", "app", "data", 0, volume, "logs")
    monkeypatch.setattr(manager_module, "bind_mount", real_bind)
    try:
        pinned = manager.sub_path("u-1", "app", "data", 0, volume, "logs")
        assert pinned == manager.directories.sub_path("u-1", "data", "app", 0)
        assert mounts_below(pinned) == [pinned]
    finally:
        manager.directories.remove("u-1")
    assert not mounts_below(tmp_path)
