"""CriRuntime's own behaviour against containerd's CRI plugin in a private containerd
(what the conformance suite does not cover): Version and ImageFsInfo, the plugin's
registration and options, an endpoint that is missing or refuses, a registry that
refuses or wants credentials, logs removed with their container and sandbox, a log
rotated through ReopenContainerLog while followed, exec over the streaming server
(SPDY: large output, stdin closed alone, a terminal's size), the sandbox's network
namespace (while it is ready)."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest

from navarch.assembly import assemble
from navarch.config import load_config
from navarch.options import OptionsError
from navarch.runtime import ImagePullError, InvalidConfig, NotFound, Runtime, Unavailable
from navarch.runtime.types import ContainerState, LogOptions
from navarch.testing.cri import CriContainerdProcess
from navarch.testing.images import BUSYBOX_IMAGE, busybox_archive
from navarch.testing.registry import RegistryProcess, push_archive
from navarch.testing.runtime import (
    SLEEPER,
    Pods,
    read_logs,
    sh,
    text,
    wait_for_output,
    wait_for_state,
)
from navarch_runtime_cri import CriOptions, CriRuntime
from tests.runtime.cri_fixtures import cri_containerd, cri_runtime

__all__ = ["cri_containerd", "cri_runtime"]

pytestmark = pytest.mark.daemon


@pytest.fixture
async def pods(cri_runtime: CriRuntime, tmp_path: Path):  # type: ignore[no-untyped-def]
    await cri_runtime.load_image(busybox_archive(tmp_path))
    pods = Pods(cri_runtime, BUSYBOX_IMAGE)
    yield pods
    await pods.cleanup()


async def test_version_and_image_fs_info(cri_runtime: CriRuntime) -> None:
    version = await cri_runtime.version()
    assert (version.name, version.api_version) == ("containerd", "v1")
    assert version.node_info == f"containerd://{version.version}"
    filesystems = await cri_runtime.image_fs_info()
    assert filesystems and all(mountpoint for mountpoint, _ in filesystems)


async def test_registered_as_cri_with_checked_options(
    cri_containerd: CriContainerdProcess, tmp_path: Path
) -> None:
    config = load_config(file=None, env={}, overrides=["runtime.name=cri"])
    entry = assemble(config).runtime()
    assert entry.plugin == "runtime-cri"
    runtime = entry.value({"endpoint": cri_containerd.endpoint, "timeout": 5}, str(tmp_path))
    try:
        assert isinstance(runtime, Runtime) and isinstance(runtime, CriRuntime)
        assert runtime.options == CriOptions(endpoint=cri_containerd.endpoint, timeout=5)
        assert runtime.data_dir == tmp_path / "cri"
        assert (await runtime.version()).name == "containerd"
    finally:
        await runtime.close()
    for key, bad in (
        ("endpoint", "relative.sock"),
        ("timeout", 0),
        ("image_load_command", ["ctr", "import"]),  # no {archive}
    ):
        with pytest.raises(OptionsError, match=f"runtime.options: {key}"):
            entry.value({key: bad}, str(tmp_path))


async def test_a_missing_or_refusing_endpoint_is_unavailable(tmp_path: Path) -> None:
    missing = CriRuntime(CriOptions(endpoint=str(tmp_path / "none.sock")), tmp_path / "a")
    # a socket file nobody listens on: connections are refused
    refusing_path = tmp_path / "refusing.sock"
    bound = socket.socket(socket.AF_UNIX)
    bound.bind(str(refusing_path))
    refusing = CriRuntime(CriOptions(endpoint=f"unix://{refusing_path}"), tmp_path / "b")
    try:
        for runtime in (missing, refusing):
            with pytest.raises(Unavailable, match="does not answer") as info:
                await runtime.version()
            assert runtime.options.endpoint in info.value.message
            with pytest.raises(Unavailable):
                await runtime.list_containers()
    finally:
        bound.close()
        await missing.close()
        await refusing.close()


async def test_a_refusing_registry_is_image_pull_error_with_the_runtimes_words(
    cri_runtime: CriRuntime, cri_containerd: CriContainerdProcess
) -> None:
    with socket.socket() as closed:  # a loopback port nobody listens on
        closed.bind(("127.0.0.1", 0))
        host = f"127.0.0.1:{closed.getsockname()[1]}"
    cri_containerd.trust_plain_http(host)
    image = f"{host}/navarch/nothing:1"
    with pytest.raises(ImagePullError) as info:
        await cri_runtime.pull_image(image)
    assert info.value.image == image
    assert "connection refused" in info.value.reason, info.value.reason


async def test_logs_go_with_their_container_and_sandbox(
    cri_runtime: CriRuntime, pods: Pods
) -> None:
    sandbox_id = await pods.sandbox()
    first = await pods.container(sandbox_id, "a", **sh("echo a"))
    second = await pods.container(sandbox_id, "b", **sh("echo b"))
    for container_id in (first, second):
        await wait_for_state(cri_runtime, container_id, ContainerState.EXITED)
    config = pods.configs[sandbox_id]
    directory = cri_runtime.log_root / f"{config.namespace}_{config.name}_{config.uid}"
    assert sorted(p.name for p in directory.rglob("*.log")) == ["0.log", "0.log"]
    await cri_runtime.remove_container(first)
    assert [p.parent.name for p in directory.rglob("*.log")] == ["b"]
    with pytest.raises(NotFound):
        await cri_runtime.remove_container(first)
    with pytest.raises(NotFound):
        await read_logs(cri_runtime, first)
    await cri_runtime.remove_sandbox(sandbox_id)
    pods.sandboxes.remove(sandbox_id)
    assert not directory.exists()
    with pytest.raises(NotFound):
        await cri_runtime.remove_sandbox(sandbox_id)


async def test_a_followed_log_goes_on_after_reopen_container_log(
    cri_runtime: CriRuntime, pods: Pods
) -> None:
    """Rotation as the kubelet does it: the log renamed away, ReopenContainerLog; a
    reader following the log sees every line, the old file's and the new one's."""
    script = "while [ ! -f /done ]; do if [ -f /go ]; then echo tick; fi; sleep 0.1; done"
    sandbox_id = await pods.sandbox()
    container_id = await pods.container(sandbox_id, **sh(f"echo first; {script}; echo last"))
    await wait_for_output(cri_runtime, container_id, "first")
    seen: list[bytes] = []

    async def follow() -> None:
        async for line in cri_runtime.logs(container_id, LogOptions(follow=True)):
            seen.append(line.data)

    reader = asyncio.create_task(follow())
    for _ in range(600):  # the reader has the file open
        if seen:
            break
        await asyncio.sleep(0.05)
    status = await cri_runtime._status_reply(container_id)
    path = Path(status.log_path)
    path.rename(path.with_name(path.name + ".1"))
    await cri_runtime.reopen_container_log(container_id)
    assert path.exists()  # the runtime writes a new file at the path
    await cri_runtime.exec_sync(container_id, ["touch", "/go"], timeout=60)
    await wait_for_output(cri_runtime, container_id, "tick")
    await cri_runtime.exec_sync(container_id, ["touch", "/done"], timeout=60)
    await asyncio.wait_for(reader, 60)
    assert seen[0] == b"first\n" and seen[-1] == b"last\n" and b"tick\n" in seen, seen
    # a new reader reads the live file only, as the kubelet does
    assert "first" not in text(await read_logs(cri_runtime, container_id))


async def test_exec_over_spdy_large_output_stdin_terminal_size(
    cri_runtime: CriRuntime, pods: Pods
) -> None:
    """Through the streaming server: output far beyond SPDY's initial 64 KiB window,
    stdin closed on its own, the terminal's size set by a resize, an exit code read
    without reading the output."""
    container_id = await pods.run(SLEEPER)
    await wait_for_output(cri_runtime, container_id, "ready")
    session = await cri_runtime.exec(container_id, ["sh", "-c", "head -c 1000000 /dev/zero"])
    try:
        received = sum([len(data) async for _, data in session.output()])
        assert received == 1_000_000
        assert await asyncio.wait_for(session.wait(), 60) == 0
    finally:
        await session.close()

    session = await cri_runtime.exec(container_id, ["wc", "-c"], stdin=True)
    try:
        for _ in range(10):
            await session.write_stdin(b"x" * 10_000)
        await session.close_stdin()
        output = b"".join([data async for _, data in session.output()])
        assert output.strip() == b"100000"
        with pytest.raises(InvalidConfig):
            await session.write_stdin(b"after the end")
    finally:
        await session.close()

    # the resize and stdin streams are served apart: wait for the size, bounded
    script = (
        "for i in $(seq 1 600); do [ \"$(stty size 2>/dev/null)\" = '45 123' ] && "
        "echo sized && exit 0; sleep 0.1; done; stty size; exit 1"
    )
    session = await cri_runtime.exec(container_id, ["sh", "-c", script], stdin=True, tty=True)
    try:
        await session.resize(123, 45)
        output = b"".join([data async for _, data in session.output()])
        assert b"sized" in output, output
        assert await asyncio.wait_for(session.wait(), 60) == 0
    finally:
        await session.close()

    session = await cri_runtime.exec(container_id, ["sh", "-c", "echo unread; exit 9"])
    assert await asyncio.wait_for(session.wait(), 60) == 9
    await session.close()


async def test_the_sandbox_has_a_network_namespace_with_loopback_only(
    cri_runtime: CriRuntime, pods: Pods
) -> None:
    sandbox_id = await pods.sandbox()
    status = await cri_runtime.sandbox_status(sandbox_id)
    # the pod's network holds only loopback: no pod IP, a namespace to probe in
    assert status.ip == "" and status.netns_path and os.path.exists(status.netns_path)
    container_id = await pods.container(sandbox_id, **sh("cat /proc/net/dev"))
    await wait_for_state(cri_runtime, container_id, ContainerState.EXITED)
    interfaces = [
        line.split(":")[0].strip()
        for line in text(await read_logs(cri_runtime, container_id)).splitlines()
        if ":" in line
    ]
    assert interfaces == ["lo"], interfaces
    # read again (from the runtime's short status): the same namespace
    assert (await cri_runtime.sandbox_status(sandbox_id)).netns_path == status.netns_path
    [listed] = await cri_runtime.list_sandboxes(pods.labels_of(sandbox_id))
    assert listed.netns_path == status.netns_path
    await cri_runtime.stop_sandbox(sandbox_id)  # its network torn down: no namespace
    stopped = await cri_runtime.sandbox_status(sandbox_id)
    assert stopped.netns_path == "" and not os.path.exists(status.netns_path)


async def test_pull_with_credentials_and_without(
    cri_runtime: CriRuntime, cri_containerd: CriContainerdProcess, tmp_path: Path
) -> None:
    """The pull's credentials reach the registry through CRI's AuthConfig; without
    them the pull is an ImagePullError with the runtime's words."""
    with RegistryProcess(tmp_path / "registry", htpasswd={"navarch": "s3cret"}) as registry:
        push_archive(
            registry.host, busybox_archive(tmp_path), "navarch/private", "1", registry.auth
        )
        cri_containerd.trust_plain_http(registry.host)
        image = f"{registry.host}/navarch/private:1"
        with pytest.raises(ImagePullError) as info:
            await cri_runtime.pull_image(image)
        assert "401" in info.value.reason or "unauthorized" in info.value.reason.lower()
        assert await cri_runtime.image_status(image) is None
        ref = await cri_runtime.pull_image(image, registry.auth)
        assert image in ref.tags and ref.id.startswith("sha256:")
        await cri_runtime.remove_image(image)
        assert await cri_runtime.image_status(image) is None
