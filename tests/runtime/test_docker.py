"""runtime_docker against a private dockerd started for this module: the conformance
suite, then what only Docker has (the pause container, docker inspect, a daemon
restart under a live runtime object)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import shutil
import signal
import tarfile
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from navarch.runtime import (
    ContainerState,
    CreateError,
    ImageLoadError,
    ImagePullError,
    LogOptions,
    NotFound,
    RegistryAuth,
    SandboxConfig,
    SandboxState,
    Unavailable,
)
from navarch.runtime.archive import write_image_archive
from navarch.runtime.labels import sandbox_labels
from navarch.testing.daemon import require_or_skip, stop_process
from navarch.testing.dockerd import DockerdProcess, dockerd_problem, engine_get
from navarch.testing.images import BUSYBOX_IMAGE, busybox_archive
from navarch.testing.registry import RegistryProcess, push_archive
from navarch.testing.runtime import (
    SLEEPER,
    Pods,
    RuntimeConformance,
    sh,
    wait_for_output,
    wait_until,
)
from navarch_runtime_docker import DockerOptions, DockerRuntime
from navarch_runtime_docker.options import DEFAULT_SANDBOX_IMAGE
from navarch_runtime_docker.pause import write_pause_archive

pytestmark = pytest.mark.daemon


@pytest.fixture(scope="module")
def dockerd() -> Iterator[DockerdProcess]:
    require_or_skip(dockerd_problem())
    # A short directory: the socket's path must fit a unix socket address.
    directory = Path(tempfile.mkdtemp(prefix="nd", dir="/tmp"))
    process = DockerdProcess(directory)
    try:
        process.start()
        yield process
    finally:
        process.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def loaded_busybox(dockerd: DockerdProcess, tmp_path_factory) -> str:
    async def load() -> None:
        runtime = DockerRuntime(DockerOptions(socket=dockerd.socket_url))
        try:
            await runtime.load_image(busybox_archive(tmp_path_factory.getbasetemp()))
        finally:
            await runtime.close()

    asyncio.run(load())
    return BUSYBOX_IMAGE


class TestDockerConformance(RuntimeConformance):
    runtime_name = "docker"

    @pytest_asyncio.fixture
    async def runtime(self, dockerd: DockerdProcess) -> AsyncIterator[DockerRuntime]:
        runtime = DockerRuntime(DockerOptions(socket=dockerd.socket_url))
        yield runtime
        await runtime.close()

    @pytest.fixture
    def test_image(self, loaded_busybox: str) -> str:
        return loaded_busybox

    @pytest.fixture
    def pull_image(self, registry_image: str) -> str:
        return registry_image


# --- what only Docker has -------------------------------------------------------------


@pytest_asyncio.fixture
async def runtime(dockerd: DockerdProcess) -> AsyncIterator[DockerRuntime]:
    runtime = DockerRuntime(DockerOptions(socket=dockerd.socket_url))
    yield runtime
    await runtime.close()


@pytest_asyncio.fixture
async def pods(runtime: DockerRuntime, loaded_busybox: str) -> AsyncIterator[Pods]:
    pods = Pods(runtime, loaded_busybox)
    yield pods
    await pods.cleanup()


def inspect(dockerd: DockerdProcess, container_id: str) -> dict:
    status, info = engine_get(dockerd.socket_path, f"/containers/{container_id}/json")
    assert status == 200, info
    return info


def namespace(pid: int, kind: str) -> str:
    return os.readlink(f"/proc/{pid}/ns/{kind}")


async def test_containers_join_the_sandbox_namespaces(
    dockerd: DockerdProcess, runtime: DockerRuntime, pods: Pods
):
    config = SandboxConfig(
        "web",
        Pods.NAMESPACE,
        "uid-ns",
        hostname="web-0",
        labels=sandbox_labels(Pods.NODE, Pods.NAMESPACE, "web", "uid-ns"),
    )
    sandbox_id = await runtime.create_sandbox(config)
    pods.sandboxes.append(sandbox_id)
    pods.configs[sandbox_id] = config
    container_id = await pods.container(sandbox_id, **sh(f"hostname; {SLEEPER}"))
    await wait_for_output(runtime, container_id, "ready")

    sandbox, container = inspect(dockerd, sandbox_id), inspect(dockerd, container_id)
    assert sandbox["HostConfig"]["NetworkMode"] == "none"  # loopback only
    assert container["HostConfig"]["NetworkMode"] == f"container:{sandbox_id}"
    for kind in ("net", "ipc"):
        assert namespace(sandbox["State"]["Pid"], kind) == namespace(
            container["State"]["Pid"], kind
        ), kind
    # Its own mount namespace: only the network and IPC are the pod's (the engine
    # copies the sandbox's hostname into each container, checked below).
    assert namespace(sandbox["State"]["Pid"], "mnt") != namespace(container["State"]["Pid"], "mnt")
    await wait_for_output(runtime, container_id, "web-0\n")
    # The agent probes the pod's ports from inside this namespace.
    netns = (await runtime.sandbox_status(sandbox_id)).netns_path
    assert os.stat(netns).st_ino == os.stat(f"/proc/{container['State']['Pid']}/ns/net").st_ino


async def test_host_network_sandbox_uses_the_host_namespace(
    dockerd: DockerdProcess, runtime: DockerRuntime, pods: Pods
):
    sandbox_id = await pods.sandbox(host_network=True)
    container_id = await pods.container(sandbox_id, **sh(SLEEPER))
    await wait_for_output(runtime, container_id, "ready")
    pid = inspect(dockerd, container_id)["State"]["Pid"]
    assert namespace(pid, "net") == namespace(os.getpid(), "net")
    assert (await runtime.sandbox_status(sandbox_id)).netns_path == ""  # the agent's own


async def test_host_network_sandbox_is_a_record_with_no_process(
    dockerd: DockerdProcess, runtime: DockerRuntime, pods: Pods
):
    """A hostNetwork pod costs one container start, not two: its sandbox is created,
    never started, and stopping it is said by its name (specs.py)."""
    sandbox_id = await pods.sandbox(host_network=True)
    record = inspect(dockerd, sandbox_id)
    assert record["State"]["Status"] == "created" and record["State"]["Pid"] == 0
    container_id = await pods.container(sandbox_id, **sh(SLEEPER))
    await wait_for_output(runtime, container_id, "ready")
    host_config = inspect(dockerd, container_id)["HostConfig"]
    assert (host_config["NetworkMode"], host_config["IpcMode"]) == ("host", "private")
    labels = pods.labels_of(sandbox_id)
    assert [s.state for s in await runtime.list_sandboxes(labels)] == [SandboxState.READY]

    # Two stops at once (the agent's second, shorter grace period): both succeed.
    await asyncio.gather(runtime.stop_sandbox(sandbox_id), runtime.stop_sandbox(sandbox_id))
    assert (await runtime.container_status(container_id)).state == ContainerState.EXITED
    # The same object (its inspections cached) and a fresh one (a restarted agent).
    fresh = DockerRuntime(DockerOptions(socket=dockerd.socket_url))
    try:
        for seen_by in (runtime, fresh):
            listed = await seen_by.list_sandboxes(labels)
            assert [s.state for s in listed] == [SandboxState.NOT_READY]
            assert (await seen_by.sandbox_status(sandbox_id)).state == SandboxState.NOT_READY
    finally:
        await fresh.close()
    await runtime.stop_sandbox(sandbox_id)  # stopping it again is no error
    with pytest.raises(CreateError, match="stopped"):
        await pods.container(sandbox_id, "late", **sh(SLEEPER))
    await runtime.remove_sandbox(sandbox_id)
    assert await runtime.list_sandboxes(labels) == []
    assert await runtime.list_containers(labels) == []


async def test_starting_a_container_it_created_is_one_engine_call(
    dockerd: DockerdProcess, runtime: DockerRuntime, pods: Pods
):
    sandbox_id = await pods.sandbox(host_network=True)
    made = await pods.container(sandbox_id, start=False, **sh(SLEEPER))
    calls: list[tuple[str, str]] = []
    call = runtime.engine.call

    async def counted(method: str, path: str, **kwargs):
        calls.append((method, path))
        return await call(method, path, **kwargs)

    runtime.engine.call = counted  # type: ignore[method-assign]
    await runtime.start_container(made)
    assert calls == [("POST", f"/containers/{made}/start")]
    # Another object (a restarted agent) checks what it is given first.
    other = await pods.container(sandbox_id, "other", start=False, **sh(SLEEPER))
    fresh = DockerRuntime(DockerOptions(socket=dockerd.socket_url))
    try:
        with pytest.raises(NotFound):
            await fresh.start_container(sandbox_id)  # a sandbox is no container
        await fresh.start_container(other)
        await wait_for_output(fresh, other, "ready")
    finally:
        await fresh.close()


async def test_limits_visible_in_docker_inspect(
    dockerd: DockerdProcess, runtime: DockerRuntime, pods: Pods
):
    sandbox_id = await pods.sandbox()
    container_id = await pods.container(
        sandbox_id,
        start=False,
        cpu_limit_millis=1500,
        cpu_request_millis=250,
        memory_limit_bytes=96 << 20,
        **sh("exit 0"),
    )
    host_config = inspect(dockerd, container_id)["HostConfig"]
    assert host_config["NanoCpus"] == 1_500_000_000
    assert host_config["CpuShares"] == 256  # 1024 per CPU
    assert host_config["Memory"] == host_config["MemorySwap"] == 96 << 20
    assert host_config["IpcMode"] == f"container:{sandbox_id}"

    tiny = await pods.container(sandbox_id, "tiny", start=False, cpu_request_millis=1, **sh(":"))
    assert inspect(dockerd, tiny)["HostConfig"]["CpuShares"] == 2  # the kernel's minimum


async def test_pause_image_is_built_offline_when_missing(
    dockerd: DockerdProcess, runtime: DockerRuntime, pods: Pods, tmp_path: Path
):
    expected = write_pause_archive(tmp_path / "pause.tar", DEFAULT_SANDBOX_IMAGE)
    # This runtime object has seen the image once ...
    await runtime.remove_sandbox(await pods.sandbox())
    # ... and then it goes missing (no sandbox of an earlier test is left running).
    await runtime.engine.call("DELETE", f"/images/{DEFAULT_SANDBOX_IMAGE}", params={"force": 1})
    assert await runtime.image_status(DEFAULT_SANDBOX_IMAGE) is None

    sandbox_id = await pods.sandbox()
    ref = await runtime.image_status(DEFAULT_SANDBOX_IMAGE)
    assert ref is not None and ref.id == expected.id  # ours, byte for byte
    assert ref.digests == ()  # loaded, never pulled
    assert inspect(dockerd, sandbox_id)["Image"] == expected.id
    # It answers docker stop's SIGTERM at once (exit 0, no SIGKILL).
    await runtime.stop_sandbox(sandbox_id)
    assert inspect(dockerd, sandbox_id)["State"]["ExitCode"] == 0


async def test_another_sandbox_image_is_never_pulled(dockerd: DockerdProcess, pods: Pods):
    runtime = DockerRuntime(
        DockerOptions(socket=dockerd.socket_url, sandbox_image="navarch.test/own-pause:1")
    )
    try:
        with pytest.raises(CreateError, match=r"navarch\.test/own-pause:1.*not loaded"):
            await runtime.create_sandbox(SandboxConfig("p", "ns", "uid-own"))
    finally:
        await runtime.close()


async def test_missing_socket_is_unavailable(tmp_path: Path):
    runtime = DockerRuntime(DockerOptions(socket=f"unix://{tmp_path}/nothing.sock"))
    try:
        for call in (runtime.version(), runtime.list_containers(), runtime.list_images()):
            with pytest.raises(Unavailable, match=r"nothing\.sock"):
                await call
        with pytest.raises(Unavailable):
            await runtime.exec("some-id", ["true"])
    finally:
        await runtime.close()


async def test_daemon_restart_unavailable_while_down_then_works(
    dockerd: DockerdProcess, runtime: DockerRuntime, pods: Pods
):
    container_id = await pods.run(SLEEPER)
    await wait_for_output(runtime, container_id, "ready")
    assert (await runtime.version()).name == "docker"  # a pooled connection is open

    dockerd.stop()
    try:
        for call in (runtime.version(), runtime.container_status(container_id)):
            with pytest.raises(Unavailable):
                await call
    finally:
        dockerd.start()

    # The same object, no reconnect call: it works again.
    assert (await runtime.version()).name == "docker"
    # dockerd stops running containers on its way down; the runtime reports it.
    status = await wait_until(
        lambda: _exited(runtime, container_id), what="the container to show as exited"
    )
    assert status.state == ContainerState.EXITED
    assert container_id in {
        c.id for c in await runtime.list_containers(pods.labels_of(status.sandbox_id))
    }
    restarted = await pods.run("echo after-restart")
    await wait_for_output(runtime, restarted, "after-restart")

    # restart() in one call: same roots, so images and exited containers are kept.
    dockerd.restart()
    assert await runtime.image_status(BUSYBOX_IMAGE) is not None
    assert (await runtime.container_status(restarted)).state == ContainerState.EXITED


def test_dockerd_refuses_a_socket_path_too_long(tmp_path: Path):
    with pytest.raises(ValueError, match="shorter directory"):
        DockerdProcess(tmp_path / ("d" * 120))


async def _exited(runtime: DockerRuntime, container_id: str):
    with contextlib.suppress(Unavailable):
        status = await runtime.container_status(container_id)
        if status.state == ContainerState.EXITED:
            return status
    return None


async def test_pull_with_credentials(dockerd: DockerdProcess, runtime: DockerRuntime, tmp_path):
    with RegistryProcess(tmp_path / "registry", htpasswd={"navarch": "s3cret"}) as registry:
        image = f"{registry.host}/private/busybox:1"
        push_archive(
            registry.host, busybox_archive(tmp_path), "private/busybox", "1", auth=registry.auth
        )
        with pytest.raises(ImagePullError) as refused:
            await runtime.pull_image(image)
        assert "no basic auth credentials" in refused.value.reason  # the engine's words
        with pytest.raises(ImagePullError) as wrong:
            await runtime.pull_image(image, RegistryAuth("navarch", "wrong"))
        assert "unauthorized" in wrong.value.reason
        ref = await runtime.pull_image(image, registry.auth)
        assert image in ref.tags and ref.digests
        await runtime.remove_image(image)


async def test_api_version_pinned_or_negotiated(dockerd: DockerdProcess):
    pinned = DockerRuntime(DockerOptions(socket=dockerd.socket_url, api_version="1.40"))
    negotiated = DockerRuntime(DockerOptions(socket=dockerd.socket_url))
    try:
        assert (await pinned.version()).api_version == "1.40"
        assert isinstance(await pinned.list_containers(), list)
        # Debian's dockerd 20.10 speaks 1.41, the newest this plugin asks for.
        assert (await negotiated.version()).api_version == "1.41"
    finally:
        await pinned.close()
        await negotiated.close()


async def test_hung_daemon_is_unavailable_after_the_deadline(dockerd: DockerdProcess):
    runtime = DockerRuntime(DockerOptions(socket=dockerd.socket_url, request_timeout_seconds=1))
    assert dockerd.process is not None
    try:
        await runtime.version()
        try:
            await stop_process(dockerd.process.pid)
            with pytest.raises(Unavailable, match="deadline"):
                await runtime.list_containers()
        finally:
            dockerd.process.send_signal(signal.SIGCONT)
        assert (await runtime.version()).name == "docker"
    finally:
        await runtime.close()


def _two_image_archive(directory: Path) -> tuple[Path, list[str]]:
    """A docker-save archive holding two images, the second's layer corrupt (same
    size, other bytes): what a half-copied multi-image archive looks like."""
    tags = ["navarch.test/first:1", "navarch.test/second:1"]
    members: dict[str, bytes] = {}
    manifest = []
    for index, tag in enumerate(tags):
        single = directory / f"{index}.tar"
        write_image_archive(single, tag, {"data": f"image {index}\n".encode()})
        with tarfile.open(single) as archive:
            for member in archive.getmembers():
                if member.isfile():
                    data = archive.extractfile(member).read()  # type: ignore[union-attr]
                    if member.name == "manifest.json":
                        manifest += json.loads(data)
                    elif member.name.startswith("blobs/"):
                        members[member.name] = data
    layer = manifest[1]["Layers"][0]
    members[layer] = members[layer].replace(b"image 1", b"IMAGE 1")
    members["manifest.json"] = json.dumps(manifest).encode()
    combined = directory / "two.tar"
    with tarfile.open(combined, "w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return combined, tags


async def test_corrupt_second_image_loads_nothing(runtime: DockerRuntime, tmp_path: Path):
    archive, tags = _two_image_archive(tmp_path)
    with pytest.raises(ImageLoadError) as info:
        await runtime.load_image(archive)
    for tag in tags:  # not even the sound first image
        assert await runtime.image_status(tag) is None, tag
    assert str(archive) in info.value.message


async def test_many_followed_logs_do_not_block_other_calls(runtime: DockerRuntime, pods: Pods):
    container_id = await pods.run(SLEEPER)
    await wait_for_output(runtime, container_id, "ready")
    following = 0

    async def follow() -> None:
        nonlocal following
        async for _ in runtime.logs(container_id, LogOptions(follow=True)):
            following += 1
            await asyncio.Event().wait()  # hold the stream open, as a reader would

    tasks = [asyncio.create_task(follow()) for _ in range(110)]
    try:
        await wait_until(
            lambda: _true(following == len(tasks)), what="every follower to get its first line"
        )
        # More followers than aiohttp's default pool size, and the engine still answers.
        assert (await asyncio.wait_for(runtime.version(), 30)).name == "docker"
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _true(value: bool) -> bool:
    return value


async def test_lists_reuse_inspections_until_the_state_changes(runtime: DockerRuntime, pods: Pods):
    """The agent lists every second: a container whose state did not change is not
    inspected again; one that exited is (its exit code is new)."""
    sandbox_id = await pods.sandbox()
    container_id = await pods.container(sandbox_id, **sh(SLEEPER))
    inspected: list[str] = []
    real = runtime._inspect

    async def counting(kind: str, ident: str):
        inspected.append(ident)
        return await real(kind, ident)

    runtime._inspect = counting  # type: ignore[method-assign]
    (first,) = await runtime.list_containers(sandbox_id=sandbox_id)
    (again,) = await runtime.list_containers(sandbox_id=sandbox_id)
    assert again == first and first.state == ContainerState.RUNNING
    assert inspected.count(container_id) <= 1
    await runtime.stop_container(container_id, 0)
    inspected.clear()
    (stopped,) = await runtime.list_containers(sandbox_id=sandbox_id)
    assert stopped.state == ContainerState.EXITED and stopped.exit_code is not None
    assert inspected == [container_id]
