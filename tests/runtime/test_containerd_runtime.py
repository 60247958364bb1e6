"""ContainerdRuntime against a private containerd: the runtime conformance suite, and
what is the plugin's own: version, images (load, status by name and id, list,
remove), pod sandboxes (a state file, a network namespace of the plugin's own
holding only loopback), containers (exit codes, SIGTERM then SIGKILL, StartError and
CreateError, labels, CRI-format output), exits heard on the event stream and
reconciled after a restart, output re-attached after a restart. Each test works in
a containerd namespace and a data_dir of its own."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from navarch.assembly import assemble
from navarch.config import load_config
from navarch.options import OptionsError
from navarch.runtime import CreateError, NotFound, Runtime, StartError
from navarch.runtime.types import (
    STDERR,
    STDOUT,
    ContainerConfig,
    ContainerState,
    ContainerStatus,
    LogOptions,
    SandboxConfig,
    SandboxState,
)
from navarch.testing.containerd import ContainerdProcess
from navarch.testing.images import BUSYBOX_IMAGE, busybox_archive
from navarch.testing.runtime import (
    ATTACH,
    EXEC_STDIN,
    MEMORY_LIMITS,
    MOUNT_PROPAGATION,
    NETWORK_NAMESPACES,
    OOM_DETECTION,
    PULL,
    REAL_PROCESSES,
    RuntimeConformance,
)
from navarch_runtime_containerd import ContainerdOptions, ContainerdRuntime

pytestmark = pytest.mark.daemon


@pytest.fixture
def runtime(containerd_runtime: ContainerdRuntime) -> ContainerdRuntime:
    return containerd_runtime


async def test_version(runtime: ContainerdRuntime) -> None:
    version = await runtime.version()
    assert version.name == "containerd"
    assert version.version and not version.version.startswith("v")


async def test_images_load_status_list_remove(
    runtime: ContainerdRuntime, tmp_path_factory: pytest.TempPathFactory
) -> None:
    archive = busybox_archive(tmp_path_factory.getbasetemp())
    [loaded] = await runtime.load_image(archive)
    assert BUSYBOX_IMAGE in loaded.tags and loaded.id.startswith("sha256:")
    by_name = await runtime.image_status(BUSYBOX_IMAGE)
    by_id = await runtime.image_status(loaded.id)
    assert by_name is not None and by_name.id == loaded.id and by_id == by_name
    assert [ref.id for ref in await runtime.list_images()] == [loaded.id]
    assert await runtime.image_status("navarch.test/never-loaded:1") is None
    await runtime.remove_image(BUSYBOX_IMAGE)
    assert await runtime.image_status(BUSYBOX_IMAGE) is None
    assert await runtime.list_images() == []
    with pytest.raises(NotFound):
        await runtime.remove_image(BUSYBOX_IMAGE)


async def test_sandbox_has_its_own_netns(runtime: ContainerdRuntime) -> None:
    labels = {"navarch.io/pod-name": "web", "navarch.io/pod-uid": uuid.uuid4().hex}
    config = SandboxConfig("web", "default", "u1", labels=labels, annotations={"a": "b, c"})
    sandbox_id = await runtime.create_sandbox(config)
    status = await runtime.sandbox_status(sandbox_id)
    assert status.state == SandboxState.READY and not status.host_network
    assert dict(status.labels) == labels and dict(status.annotations) == {"a": "b, c"}
    assert status.created_at is not None
    netns = status.netns_path
    # a network namespace (nsfs), not the host's; its loopback: a container test below
    assert netns and os.stat(netns).st_ino != os.stat("/proc/self/ns/net").st_ino
    assert os.stat(netns).st_dev == os.stat("/proc/self/ns/net").st_dev

    assert [s.id for s in await runtime.list_sandboxes(labels)] == [sandbox_id]
    assert await runtime.list_sandboxes({**labels, "navarch.io/pod-name": "other"}) == []
    await runtime.stop_sandbox(sandbox_id)
    assert (await runtime.sandbox_status(sandbox_id)).state == SandboxState.NOT_READY
    await runtime.remove_sandbox(sandbox_id)
    assert not Path(netns).exists()
    with pytest.raises(NotFound):
        await runtime.sandbox_status(sandbox_id)
    with pytest.raises(NotFound):
        await runtime.remove_sandbox(sandbox_id)
    assert await runtime.list_sandboxes(labels) == []


async def test_host_network_sandbox_has_no_netns(runtime: ContainerdRuntime) -> None:
    sandbox_id = await runtime.create_sandbox(
        SandboxConfig("h", "default", "u2", host_network=True)
    )
    status = await runtime.sandbox_status(sandbox_id)
    assert status.host_network and status.netns_path == ""
    assert status.state == SandboxState.READY
    await runtime.remove_sandbox(sandbox_id)


# --- containers ---------------------------------------------------------------------

SLEEPER = "trap 'echo terminated; exit 7' TERM; echo ready; sleep 100000 & wait"
STUBBORN = "trap '' TERM; echo ready; sleep 100000 & wait"


@pytest_asyncio.fixture
async def pod(
    runtime: ContainerdRuntime, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, SandboxConfig]:
    await runtime.load_image(busybox_archive(tmp_path_factory.getbasetemp()))
    config = SandboxConfig("web", "default", uuid.uuid4().hex, hostname="web-0")
    return await runtime.create_sandbox(config), config


async def _container(
    runtime: ContainerdRuntime, pod: tuple[str, SandboxConfig], script: str, **fields: Any
) -> str:
    sandbox_id, sandbox = pod
    fields.setdefault("command", ("sh", "-c", script))
    fields.setdefault("image", BUSYBOX_IMAGE)
    config = ContainerConfig(name="main", **fields)
    return await runtime.create_container(sandbox_id, config, sandbox)


async def _until_state(
    runtime: ContainerdRuntime, container_id: str, state: ContainerState
) -> ContainerStatus:
    for _ in range(600):
        status = await runtime.container_status(container_id)
        if status.state == state:
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"{container_id} never reached {state}: {status}")


async def _output(runtime: ContainerdRuntime, container_id: str, stream: str = STDOUT) -> str:
    lines = [line async for line in runtime.logs(container_id, LogOptions())]
    return b"".join(line.data for line in lines if line.stream == stream).decode()


async def _until_output(runtime: ContainerdRuntime, container_id: str, needle: str) -> None:
    for _ in range(600):
        if needle in await _output(runtime, container_id):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{container_id} never wrote {needle!r}")


async def test_container_runs_in_its_pod_to_its_exit_code(
    runtime: ContainerdRuntime, pod: tuple[str, SandboxConfig]
) -> None:
    labels = {
        "navarch.io/container-name": "main",
        "example.com/odd": 'a b=c, d "quoted" \\ back',
        "example.com/empty": "",
    }
    container_id = await _container(
        runtime,
        pod,
        "hostname; ls /sys/class/net; cat /sys/class/net/lo/flags; echo oops >&2; exit 3",
        labels=labels,
    )
    created = await runtime.container_status(container_id)
    assert created.state == ContainerState.CREATED and created.image_id.startswith("sha256:")
    assert (created.name, created.sandbox_id, dict(created.labels)) == ("main", pod[0], labels)
    await runtime.start_container(container_id)
    exited = await _until_state(runtime, container_id, ContainerState.EXITED)
    assert (exited.exit_code, exited.reason) == (3, "Error")
    assert exited.created_at <= exited.started_at <= exited.finished_at  # type: ignore[operator]
    # the pod's namespace: loopback only, up (IFF_UP|IFF_LOOPBACK)
    assert await _output(runtime, container_id) == "web-0\nlo\n0x9\n"
    assert await _output(runtime, container_id, STDERR) == "oops\n"
    # filtered by containerd (the label's quotes and backslash escaped), and on the
    # state file for what containerd does not keep (an empty value)
    for wanted in (
        {"example.com/odd": labels["example.com/odd"]},
        {"example.com/odd": labels["example.com/odd"], "example.com/empty": ""},
    ):
        [listed] = await runtime.list_containers(wanted)
        assert listed.id == container_id and listed.state == ContainerState.EXITED
    assert await runtime.list_containers({"example.com/odd": "other"}) == []
    assert await runtime.list_containers({"example.com/empty": "x"}) == []
    await runtime.remove_container(container_id)
    with pytest.raises(NotFound):
        await runtime.container_status(container_id)
    with pytest.raises(NotFound):
        await runtime.remove_container(container_id)
    with pytest.raises(NotFound):
        await _output(runtime, container_id)
    assert await runtime.client.list_snapshots() != []  # the image's layers stay
    assert [s.name for s in await runtime.client.list_snapshots() if s.kind == "active"] == []


async def test_stop_sends_sigterm_then_sigkill_after_grace(
    runtime: ContainerdRuntime, pod: tuple[str, SandboxConfig]
) -> None:
    polite = await _container(runtime, pod, SLEEPER)
    stubborn = await _container(runtime, pod, STUBBORN)
    for container_id in (polite, stubborn):
        await runtime.start_container(container_id)
        await _until_output(runtime, container_id, "ready")
    assert (await runtime.container_status(polite)).state == ContainerState.RUNNING
    await runtime.stop_container(polite, grace=60)
    status = await runtime.container_status(polite)
    assert (status.state, status.exit_code) == (ContainerState.EXITED, 7)
    assert "terminated" in await _output(runtime, polite)
    await runtime.stop_container(stubborn, grace=1)
    status = await runtime.container_status(stubborn)
    assert (status.state, status.exit_code) == (ContainerState.EXITED, 137)
    await runtime.stop_container(stubborn, grace=1)  # stopping again is no error
    assert await runtime.client.list_tasks() == []  # exited tasks are deleted


async def test_missing_program_is_start_error_and_absent_image_create_error(
    runtime: ContainerdRuntime, pod: tuple[str, SandboxConfig]
) -> None:
    container_id = await _container(runtime, pod, "", command=("/navarch-no-such-command",))
    with pytest.raises(StartError) as info:
        await runtime.start_container(container_id)
    assert "/navarch-no-such-command" in info.value.message
    status = await runtime.container_status(container_id)
    assert status.state == ContainerState.EXITED and status.exit_code not in (None, 0)
    assert "/navarch-no-such-command" in status.message
    with pytest.raises(CreateError):
        await _container(runtime, pod, "exit 0", image="navarch.test/never-loaded:1")


async def test_remove_sandbox_removes_its_containers(
    runtime: ContainerdRuntime, pod: tuple[str, SandboxConfig]
) -> None:
    running = await _container(runtime, pod, SLEEPER)
    created = await _container(runtime, pod, "exit 0")
    await runtime.start_container(running)
    await _until_output(runtime, running, "ready")
    await runtime.stop_sandbox(pod[0])
    assert (await runtime.container_status(running)).state == ContainerState.EXITED
    await runtime.remove_sandbox(pod[0])
    for container_id in (running, created):
        with pytest.raises(NotFound):
            await runtime.container_status(container_id)
    assert await runtime.list_containers() == []
    assert await runtime.client.list_containers() == []


async def test_logs_times_streams_tail_since_follow(
    runtime: ContainerdRuntime, pod: tuple[str, SandboxConfig]
) -> None:
    script = "echo one; echo two >&2; sleep 2; echo three; printf no-newline"
    container_id = await _container(runtime, pod, script)
    before = time.time()
    await runtime.start_container(container_id)
    followed = [
        line async for line in runtime.logs(container_id, LogOptions(follow=True))
    ]  # ends when the output does
    # two pipes: the order between streams is the order the reads happened in
    out = [line for line in followed if line.stream == STDOUT]
    assert [line.data for line in out] == [b"one\n", b"three\n", b"no-newline"]
    assert [line.data for line in followed if line.stream == STDERR] == [b"two\n"]
    assert before <= out[0].time <= out[1].time <= out[2].time <= time.time()
    whole = [line async for line in runtime.logs(container_id, LogOptions())]
    assert whole == followed
    tail = [line.data async for line in runtime.logs(container_id, LogOptions(tail=2))]
    assert tail == [b"three\n", b"no-newline"]
    since = runtime.logs(container_id, LogOptions(since=out[1].time))
    assert [line.data async for line in since if line.stream == STDOUT] == tail


async def test_a_long_line_comes_back_whole(
    runtime: ContainerdRuntime, pod: tuple[str, SandboxConfig]
) -> None:
    container_id = await _container(runtime, pod, "head -c 100000 /dev/zero | tr '\\0' x; echo")
    await runtime.start_container(container_id)
    await _until_state(runtime, container_id, ContainerState.EXITED)
    [line] = [line async for line in runtime.logs(container_id, LogOptions(follow=True))]
    assert line.data == b"x" * 100000 + b"\n"


async def test_exec_output_stdin_exit_code_and_exec_sync(
    runtime: ContainerdRuntime, pod: tuple[str, SandboxConfig]
) -> None:
    container_id = await _container(runtime, pod, SLEEPER, env=(("GREETING", "hi"),))
    await runtime.start_container(container_id)
    await _until_output(runtime, container_id, "ready")
    session = await runtime.exec(
        container_id, ["sh", "-c", 'echo "$GREETING" $(hostname); echo err >&2; exit 4']
    )
    chunks = [chunk async for chunk in session.output()]
    assert await session.wait() == 4
    assert b"".join(d for s, d in chunks if s == STDOUT) == b"hi web-0\n"
    assert b"".join(d for s, d in chunks if s == STDERR) == b"err\n"
    await session.close()

    session = await runtime.exec(container_id, ["sh", "-c", "tr a-z A-Z"], stdin=True)
    await session.write_stdin(b"hello\n")
    await session.close_stdin()
    assert b"".join([d async for _, d in session.output()]) == b"HELLO\n"
    assert await session.wait() == 0

    result = await runtime.exec_sync(container_id, ["sh", "-c", "echo ok; exit 2"], timeout=60)
    assert (result.exit_code, result.stdout, result.stderr) == (2, b"ok\n", b"")
    with pytest.raises(TimeoutError):
        await runtime.exec_sync(container_id, ["sleep", "100000"], timeout=0.5)
    # the container's own log holds nothing of the execs
    assert await _output(runtime, container_id) == "ready\n"
    assert (await runtime.container_status(container_id)).state == ContainerState.RUNNING


async def test_registered_as_containerd_with_checked_options(
    containerd: ContainerdProcess, tmp_path: Path
) -> None:
    config = load_config(file=None, env={}, overrides=["runtime.name=containerd"])
    entry = assemble(config).runtime()
    assert entry.plugin == "runtime-containerd"
    runtime = entry.value(
        {"socket": f"unix://{containerd.socket_path}", "namespace": "reg", "timeout": 5},
        str(tmp_path),
    )
    try:
        assert isinstance(runtime, Runtime)
        assert runtime.options == ContainerdOptions(
            socket=f"unix://{containerd.socket_path}", namespace="reg", timeout=5
        )
        assert runtime.data_dir == tmp_path / "containerd"
        assert (await runtime.version()).node_info.startswith("containerd://")
    finally:
        await runtime.close()
    for key, bad in (("socket", "relative.sock"), ("timeout", 0), ("namespace", "")):
        with pytest.raises(OptionsError, match=f"runtime.options: {key}"):
            entry.value({key: bad}, str(tmp_path))


# --- the conformance suite ------------------------------------------------------------


class TestContainerdConformance(RuntimeConformance):
    """The whole runtime contract, pulls from a private docker-registry included."""

    runtime_name = "containerd"

    @pytest.fixture
    def features(self) -> frozenset[str]:
        return frozenset(
            {
                REAL_PROCESSES,
                NETWORK_NAMESPACES,
                EXEC_STDIN,
                MEMORY_LIMITS,
                OOM_DETECTION,
                PULL,
                ATTACH,
                MOUNT_PROPAGATION,
            }
        )

    @pytest.fixture
    def pull_image(self, registry_image: str) -> str:  # type: ignore[override]
        return registry_image

    @pytest.fixture
    def runtime(self, containerd_runtime: ContainerdRuntime) -> ContainerdRuntime:  # type: ignore[override]
        return containerd_runtime

    @pytest_asyncio.fixture
    async def test_image(  # type: ignore[override]
        self, runtime: ContainerdRuntime, tmp_path_factory: pytest.TempPathFactory
    ) -> str:
        await runtime.load_image(busybox_archive(tmp_path_factory.getbasetemp()))
        return BUSYBOX_IMAGE


async def test_output_is_read_again_after_a_restart(
    runtime: ContainerdRuntime, pod: tuple[str, SandboxConfig]
) -> None:
    """A new runtime object (the agent restarted) re-attaches to the FIFOs of a
    container that kept running: output written after the restart reaches the log."""
    script = "echo one; while [ ! -f /go ]; do sleep 0.1; done; echo two"
    container_id = await _container(runtime, pod, script)
    await runtime.start_container(container_id)
    await _until_output(runtime, container_id, "one")
    await runtime.close()
    again = ContainerdRuntime(runtime.options, runtime.data_dir)
    try:
        assert (await again.container_status(container_id)).state == ContainerState.RUNNING
        assert (await again.exec_sync(container_id, ["touch", "/go"], timeout=60)).exit_code == 0
        followed = [line async for line in again.logs(container_id, LogOptions(follow=True))]
        assert [line.data for line in followed] == [b"one\n", b"two\n"]
        exited = await _until_state(again, container_id, ContainerState.EXITED)
        assert exited.exit_code == 0
    finally:
        await again.close()


async def _until_task_gone(runtime: ContainerdRuntime, container_id: str) -> None:
    for _ in range(600):
        if container_id not in {task.container_id for task in await runtime.client.list_tasks()}:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the task of {container_id} was never deleted")


async def test_an_exit_is_taken_from_the_event_stream(
    runtime: ContainerdRuntime, pod: tuple[str, SandboxConfig]
) -> None:
    """Nobody asks for the container's status, yet its task goes once it exits (the
    runtime heard the exit event, recorded the exit and deleted the task)."""
    container_id = await _container(runtime, pod, "exit 3")
    await runtime.start_container(container_id)
    await _until_task_gone(runtime, container_id)
    status = await runtime.container_status(container_id)
    assert status.state == ContainerState.EXITED and status.exit_code == 3
    assert status.reason == "Error"


async def test_exits_missed_while_not_listening_are_reaped_on_subscribing(
    runtime: ContainerdRuntime, pod: tuple[str, SandboxConfig]
) -> None:
    """A runtime object made after the exit (the agent restarted meanwhile) finds it
    when its event stream opens, without a status read."""
    container_id = await _container(runtime, pod, "exit 4")
    await runtime.start_container(container_id)
    await runtime.close()  # stops listening; the container exits meanwhile
    for _ in range(600):
        task = await runtime.client.get_task(container_id)
        if task.status == "stopped":
            break
        await asyncio.sleep(0.05)
    again = ContainerdRuntime(runtime.options, runtime.data_dir)
    try:
        again._watch()  # what the first container operation does
        await _until_task_gone(again, container_id)
        assert (await again.container_status(container_id)).exit_code == 4
    finally:
        await again.close()
