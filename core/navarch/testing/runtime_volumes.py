"""The runtime conformance suite's tests of volumes: ``ContainerConfig.mounts`` bound into
containers (a host file read through a mount, read-only mounts refusing writes, writes
reaching the host, a directory two containers share, a file mounted onto a file path,
a missing host path refused and never created, mounts made later on the host reaching
a ``HostToContainer`` mount).
:class:`VolumeConformance` is a base of
:class:`navarch.testing.runtime.RuntimeConformance`, which supplies the fixtures
(``runtime``, ``pods``, ``features`` …); it is not a test class of its own.

The host paths are the test's ``tmp_path``: the agent's part (preparing volume
directories and files) is not the runtime's, so the tests play it.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from navarch.runtime.contract import Runtime
from navarch.runtime.errors import CreateError
from navarch.runtime.types import STDERR, STDOUT, ContainerState, Mount, MountPropagation
from navarch.testing.runtime_support import (
    MOUNT_PROPAGATION,
    SLEEPER,
    WAIT_SECONDS,
    Pods,
    read_logs,
    requires,
    sh,
    text,
    wait_for_output,
    wait_for_state,
)


def host_directory(tmp_path: Path, name: str, files: dict[str, str] | None = None) -> Path:
    """A directory on the host as the agent prepares one for a volume, with ``files``."""
    directory = tmp_path / name
    directory.mkdir()
    for file_name, content in (files or {}).items():
        (directory / file_name).write_text(content)
    return directory


class VolumeConformance:
    async def test_bind_mount_reads_host_file(self, runtime: Runtime, pods: Pods, tmp_path: Path):
        volume = host_directory(tmp_path, "config", {"greeting": "hello from the host\n"})
        status = await pods.run_until_exit(
            "cat /etc/navarch-config/greeting", mounts=(Mount("/etc/navarch-config", str(volume)),)
        )
        assert status.exit_code == 0, text(await read_logs(runtime, status.id))
        assert text(await read_logs(runtime, status.id), STDOUT) == "hello from the host\n"

    async def test_read_only_mount_refuses_writes(
        self, runtime: Runtime, pods: Pods, tmp_path: Path
    ):
        volume = host_directory(tmp_path, "readonly", {"kept": "original\n"})
        status = await pods.run_until_exit(
            "echo changed > /data/kept; echo new > /data/new; cat /data/kept",
            mounts=(Mount("/data", str(volume), read_only=True),),
        )
        # The container has exited: every write it tried is over.
        lines = await read_logs(runtime, status.id)
        assert text(lines, STDOUT) == "original\n"  # still readable
        assert text(lines, STDERR).count("Read-only file system") == 2, text(lines, STDERR)
        assert (volume / "kept").read_text() == "original\n"
        assert sorted(path.name for path in volume.iterdir()) == ["kept"]

    async def test_writes_reach_the_host_path(self, runtime: Runtime, pods: Pods, tmp_path: Path):
        volume = host_directory(tmp_path, "data")
        status = await pods.run_until_exit(
            "echo written > /data/out; echo more >> /data/out",
            mounts=(Mount("/data", str(volume)),),
        )
        assert status.exit_code == 0, text(await read_logs(runtime, status.id))
        assert (volume / "out").read_text() == "written\nmore\n"

    async def test_two_containers_share_a_mounted_dir(
        self, runtime: Runtime, pods: Pods, tmp_path: Path
    ):
        """A pod's two containers mount one volume (the reader read-only, elsewhere):
        what the first writes, the second reads."""
        volume = host_directory(tmp_path, "shared")
        sandbox_id = await pods.sandbox()
        writer = await pods.container(
            sandbox_id,
            "writer",
            mounts=(Mount("/out", str(volume)),),
            **sh("echo from-the-writer > /out/note"),
        )
        written = await wait_for_state(runtime, writer, ContainerState.EXITED)
        assert written.exit_code == 0, text(await read_logs(runtime, writer))
        reader = await pods.container(
            sandbox_id,
            "reader",
            mounts=(Mount("/in", str(volume), read_only=True),),
            **sh("cat /in/note"),
        )
        read = await wait_for_state(runtime, reader, ContainerState.EXITED)
        assert read.exit_code == 0, text(await read_logs(runtime, reader))
        assert text(await read_logs(runtime, reader), STDOUT) == "from-the-writer\n"

    async def test_file_mount_onto_a_path(self, runtime: Runtime, pods: Pods, tmp_path: Path):
        """One host file bound onto a file path (a configMap key's ``subPath``), in a
        directory the image does not have; it is the host's file, writes included."""
        volume = host_directory(tmp_path, "files", {"app.conf": "level=debug\n"})
        status = await pods.run_until_exit(
            "cat /etc/navarch-app/app.conf; echo appended >> /etc/navarch-app/app.conf",
            mounts=(Mount("/etc/navarch-app/app.conf", str(volume / "app.conf")),),
        )
        assert status.exit_code == 0, text(await read_logs(runtime, status.id))
        assert text(await read_logs(runtime, status.id), STDOUT) == "level=debug\n"
        assert (volume / "app.conf").read_text() == "level=debug\nappended\n"

    async def test_missing_host_path_is_create_error(self, pods: Pods, tmp_path: Path):
        """A runtime binds what the agent prepared and creates nothing: a host path
        that does not exist refuses the container, naming the path, and stays absent."""
        missing = tmp_path / "never-made"
        sandbox_id = await pods.sandbox()
        with pytest.raises(CreateError) as info:
            await pods.container(sandbox_id, mounts=(Mount("/data", str(missing)),), **sh("exit 0"))
        assert str(missing) in str(info.value)
        assert not missing.exists()

    @requires(MOUNT_PROPAGATION)
    async def test_mount_propagation_host_to_container(
        self, runtime: Runtime, pods: Pods, tmp_path: Path
    ):
        """A filesystem mounted on the host under a ``HostToContainer`` mount's host path
        after the container started shows in the container (rslave); the host path is
        made a shared mount first, as Kubernetes requires of it."""
        volume = host_directory(tmp_path, "propagated")
        with _shared_mount(volume):
            container_id = await pods.run(
                SLEEPER,
                mounts=(
                    Mount("/mnt/host", str(volume), propagation=MountPropagation.HOST_TO_CONTAINER),
                ),
            )
            await wait_for_output(runtime, container_id, "ready")
            late = volume / "late"
            late.mkdir()
            with _tmpfs(late):
                (late / "file").write_text("mounted after the start\n")
                result = await runtime.exec_sync(
                    container_id, ["cat", "/mnt/host/late/file"], timeout=WAIT_SECONDS
                )
                await runtime.stop_container(container_id, grace=WAIT_SECONDS)
        assert (result.exit_code, result.stdout) == (0, b"mounted after the start\n"), result


@contextlib.contextmanager
def _shared_mount(path: Path) -> Iterator[None]:
    """``path`` bound onto itself and made shared (a peer group of its own), so mounts
    made under it propagate to its slaves; undone afterwards."""
    _mount("--bind", str(path), str(path))
    try:
        _mount("--make-shared", str(path))
        yield
    finally:
        _umount(path)


@contextlib.contextmanager
def _tmpfs(path: Path) -> Iterator[None]:
    _mount("-t", "tmpfs", "-o", "size=1m", "navarch-conformance", str(path))
    try:
        yield
    finally:
        _umount(path)


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, timeout=WAIT_SECONDS)


def _umount(path: Path) -> None:
    # Lazily: a container still stopping may hold it; the mount goes once it is free.
    subprocess.run(["umount", "-l", str(path)], check=True, capture_output=True, timeout=60)


__all__ = ["VolumeConformance", "host_directory"]
