"""runtime_containerd's containers and tasks against a private containerd: a busybox
container run end to end through the gRPC API alone (image import, rootfs snapshot,
container record with the plugin's OCI spec, task create/start/wait/delete), and a
sleeping task ended with SIGTERM. Each test works in a namespace of its own.

stdout/stderr go to plain files: for a path that is not a FIFO, containerd 1.6's
runc shim (io.containerd.runc.v2) opens the existing file O_WRONLY|O_APPEND and
copies the process's pipes into it, so the output lands there with no reader on
Navarch's side."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from navarch.runtime import NotFound, RuntimeFault
from navarch.runtime.types import ContainerConfig
from navarch.testing.containerd import ContainerdProcess
from navarch.testing.images import BUSYBOX_IMAGE, busybox_archive
from navarch_runtime_containerd import ContainerdClient, ContainerdError, import_image_archive
from navarch_runtime_containerd.ocispec import build_spec, exec_process
from navarch_runtime_containerd.records import TASK_RUNNING, TASK_STOPPED
from navarch_runtime_containerd.resolve import resolve_image

pytestmark = pytest.mark.daemon


@pytest_asyncio.fixture
async def client(
    containerd: ContainerdProcess, tmp_path_factory
) -> AsyncIterator[ContainerdClient]:
    async with ContainerdClient(
        containerd.socket_path, namespace=f"t{uuid.uuid4().hex[:12]}"
    ) as client:
        await import_image_archive(client, busybox_archive(tmp_path_factory.getbasetemp()))
        try:
            yield client
        finally:
            await _clean_up(client)


async def _clean_up(client: ContainerdClient) -> None:
    """Whatever a failed test left running: a shim outlives its containerd, so a
    task not deleted here would stay on the machine after the daemon stops."""
    for task in await client.list_tasks():
        with contextlib.suppress(RuntimeFault):
            await client.kill_task(task.container_id, signal.SIGKILL, all_processes=True)
        with contextlib.suppress(RuntimeFault, TimeoutError):
            await client.wait_task(task.container_id, timeout=30)
        with contextlib.suppress(RuntimeFault):
            await client.delete_task(task.container_id)
    for container in await client.list_containers():
        with contextlib.suppress(RuntimeFault):
            await client.remove_snapshot(container.snapshot_key)
        await client.delete_container(container.id)


async def _create(
    client: ContainerdClient,
    tmp_path: Path,
    command: tuple[str, ...],
    *,
    netns_path: str | None = None,
    hostname: str = "",
    **config: Any,
) -> tuple[str, Path, Path]:
    """A container of busybox running ``command`` (host network unless
    ``netns_path``), its task created (not started) with stdout/stderr to two files;
    returns (id, stdout, stderr)."""
    container_id = f"c{uuid.uuid4().hex[:12]}"
    image = await resolve_image(client, BUSYBOX_IMAGE)
    spec = build_spec(
        ContainerConfig("app", BUSYBOX_IMAGE, command=command, env=(("GREETING", "hi"),), **config),
        image.config,
        cgroups_path=f"/{client.namespace}/{container_id}",
        netns_path=netns_path,
        hostname=hostname,
    )
    # the record first: it names the snapshot, which keeps it from the collector
    await client.create_container(
        container_id, spec, image=BUSYBOX_IMAGE, snapshot_key=container_id
    )
    mounts = await client.prepare_snapshot(container_id, image.top_chain_id)
    stdout, stderr = tmp_path / f"{container_id}.out", tmp_path / f"{container_id}.err"
    stdout.touch()
    stderr.touch()
    pid = await client.create_task(container_id, mounts, stdout=str(stdout), stderr=str(stderr))
    assert pid > 0
    return container_id, stdout, stderr


async def _remove(client: ContainerdClient, container_id: str) -> None:
    # the snapshot before the record: the record is what keeps it from the collector
    await client.delete_task(container_id)
    await client.remove_snapshot(container_id)
    await client.delete_container(container_id)


async def _until_contains(path: Path, text: str) -> None:
    for _ in range(600):
        if text in path.read_text():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} never held {text!r}: {path.read_text()!r}")


async def test_busybox_runs_to_its_exit_code(client: ContainerdClient, tmp_path: Path) -> None:
    container_id, stdout, stderr = await _create(
        client, tmp_path, ("sh", "-c", 'echo "$GREETING from $(pwd)"; echo oops >&2; exit 3')
    )
    record = await client.get_container(container_id)
    assert record.runtime == "io.containerd.runc.v2"
    assert record.spec["process"]["args"][0] == "sh"
    assert [c.id for c in await client.list_containers()] == [container_id]

    await client.start_task(container_id)
    ended = await client.wait_task(container_id, timeout=60)
    assert ended.exit_status == 3
    # containerd names a listed task's container in Process.id alone
    [task] = await client.list_tasks()
    assert (task.container_id, task.exec_id) == (container_id, "")
    assert ended.exited_at is not None
    task_info = await client.get_task(container_id)
    assert (task_info.container_id, task_info.status) == (container_id, TASK_STOPPED)
    assert stdout.read_text() == "hi from /\n"
    assert stderr.read_text() == "oops\n"

    deleted = await client.delete_task(container_id)
    assert deleted.exit_status == 3
    await client.remove_snapshot(container_id)
    await client.delete_container(container_id)
    assert await client.list_tasks() == []
    assert await client.list_containers() == []
    # only the image's committed layer is left
    assert [s.kind for s in await client.list_snapshots()] == ["committed"]
    with pytest.raises(NotFound):
        await client.get_container(container_id)


async def test_sigterm_ends_a_sleeping_task(client: ContainerdClient, tmp_path: Path) -> None:
    # PID 1 gets no signal it has no handler for: the shell traps TERM, and says
    # "ready" once the trap is set, so the signal is never sent before it.
    script = "trap 'echo terminated; exit 7' TERM; echo ready; sleep 300 & wait"
    container_id, stdout, _ = await _create(client, tmp_path, ("sh", "-c", script))
    await client.start_task(container_id)
    await _until_contains(stdout, "ready")
    assert (await client.get_task(container_id)).status == TASK_RUNNING
    with pytest.raises(TimeoutError):
        await client.wait_task(container_id, timeout=0.5)

    await client.kill_task(container_id, signal.SIGTERM)
    ended = await client.wait_task(container_id, timeout=60)
    assert ended.exit_status == 7
    assert "terminated" in stdout.read_text()
    await _remove(client, container_id)
    assert await client.list_containers() == []


async def test_sigkill_ends_a_task_that_ignores_sigterm(
    client: ContainerdClient, tmp_path: Path
) -> None:
    script = "trap '' TERM; echo ready; sleep 300 & wait"
    container_id, stdout, _ = await _create(client, tmp_path, ("sh", "-c", script))
    await client.start_task(container_id)
    await _until_contains(stdout, "ready")
    await client.kill_task(container_id, signal.SIGKILL, all_processes=True)
    ended = await client.wait_task(container_id, timeout=60)
    assert ended.exit_status == 128 + signal.SIGKILL
    await _remove(client, container_id)


async def test_exec_runs_in_the_container_with_its_env(
    client: ContainerdClient, tmp_path: Path
) -> None:
    script = "echo ready; sleep 300 & wait"
    container_id, stdout, _ = await _create(client, tmp_path, ("sh", "-c", script))
    await client.start_task(container_id)
    await _until_contains(stdout, "ready")
    spec = (await client.get_container(container_id)).spec
    exec_out = tmp_path / "exec.out"
    exec_out.touch()
    process = exec_process(spec, ["sh", "-c", 'echo "exec says $GREETING"; exit 5'])
    with pytest.raises(ValueError, match="both"):
        await client.exec_process(container_id, "e0", process, stdout=str(exec_out))
    await client.exec_process(
        container_id, "e1", process, stdout=str(exec_out), stderr=str(exec_out)
    )
    assert await client.start_task(container_id, "e1") > 0
    process_info = await client.get_task(container_id, "e1")
    assert (process_info.container_id, process_info.exec_id) == (container_id, "e1")
    ended = await client.wait_task(container_id, "e1", timeout=60)
    assert ended.exit_status == 5
    assert exec_out.read_text() == "exec says hi\n"
    assert (await client.delete_process(container_id, "e1")).exit_status == 5
    # the container's own process runs on
    assert (await client.get_task(container_id)).status == TASK_RUNNING

    await client.kill_task(container_id, signal.SIGKILL)
    await client.wait_task(container_id, timeout=60)
    await _remove(client, container_id)


@pytest.fixture
def netns() -> Iterator[str]:
    """A network namespace holding only loopback: that of a process started in a new
    one for the test (its /proc/<pid>/ns/net), ended by pid afterwards."""
    holder = subprocess.Popen(["unshare", "--net", "sleep", "600"])
    try:
        path = f"/proc/{holder.pid}/ns/net"
        for _ in range(200):
            if os.readlink(path) != os.readlink("/proc/self/ns/net"):
                break
            time.sleep(0.02)
        else:
            raise AssertionError("unshare --net never entered its namespace")
        yield path
    finally:
        holder.kill()
        holder.wait()


async def test_pod_network_namespace_and_hostname(
    client: ContainerdClient, tmp_path: Path, netns: str
) -> None:
    script = "hostname; ls /sys/class/net; echo pid $$"
    container_id, stdout, _ = await _create(
        client, tmp_path, ("sh", "-c", script), netns_path=netns, hostname="web-0"
    )
    await client.start_task(container_id)
    assert (await client.wait_task(container_id, timeout=60)).exit_status == 0
    assert stdout.read_text().split("\n") == ["web-0", "lo", "pid 1", ""]
    await _remove(client, container_id)


async def test_cpu_and_memory_limits_reach_the_cgroup(
    client: ContainerdClient, tmp_path: Path
) -> None:
    # cgroup v2 (one file system) or v1 (a hierarchy per controller) inside
    script = (
        "if [ -f /sys/fs/cgroup/cgroup.controllers ]; then"
        " cat /sys/fs/cgroup/memory.max; cut -d' ' -f1 /sys/fs/cgroup/cpu.max;"
        " else cat /sys/fs/cgroup/memory/memory.limit_in_bytes;"
        " cat /sys/fs/cgroup/cpu*/cpu.cfs_quota_us | head -n1; fi"
    )
    container_id, stdout, stderr = await _create(
        client,
        tmp_path,
        ("sh", "-c", script),
        cpu_limit_millis=250,
        memory_limit_bytes=64 << 20,
    )
    await client.start_task(container_id)
    assert (await client.wait_task(container_id, timeout=60)).exit_status == 0, stderr.read_text()
    assert stdout.read_text().split() == [str(64 << 20), "25000"]
    await _remove(client, container_id)


async def test_a_program_that_is_not_there_fails_at_task_create_with_runcs_words(
    client: ContainerdClient, tmp_path: Path
) -> None:
    """runc looks the program up when it creates the container, so task Create (not
    Start) refuses it, with runc's message: what RunContainerError will carry."""
    with pytest.raises(ContainerdError) as error:
        await _create(client, tmp_path, ("/no/such/program",))
    assert "/no/such/program" in error.value.message
    assert "no such file or directory" in error.value.message
    assert await client.list_tasks() == []
    # the record and the snapshot are the caller's to remove
    [container] = await client.list_containers()
    await client.remove_snapshot(container.snapshot_key)
    await client.delete_container(container.id)
