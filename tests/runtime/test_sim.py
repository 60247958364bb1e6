"""The runtime conformance suite against the simulated runtime, and what only the
simulator does: configured latency, exits, crash loops, pull failures, probe answers,
annotations, and thousands of containers in one process."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio

from navarch.assembly import assemble
from navarch.config import load_config
from navarch.runtime import (
    ContainerConfig,
    ContainerState,
    ImagePullError,
    InvalidConfig,
    LogOptions,
    Mount,
    Runtime,
    SandboxConfig,
    StartError,
    Unavailable,
)
from navarch.testing.images import BUSYBOX_IMAGE, busybox_archive
from navarch.testing.runtime import (
    ATTACH,
    EXEC_STDIN,
    MOUNT_PROPAGATION,
    PULL,
    RuntimeConformance,
    read_logs,
    text,
    wait_for_state,
    wait_until,
)
from navarch_runtime_sim import ImageBehaviour, SimOptions, SimRuntime
from navarch_runtime_sim.interactive import InteractiveShell
from navarch_runtime_sim.mounts import MountedFiles
from navarch_runtime_sim.shell import Exit

REGISTRY = "127.0.0.1:5000"
MISSING = f"{REGISTRY}/navarch-conformance/missing:1"


@pytest.fixture(scope="session")
def busybox(tmp_path_factory):
    return busybox_archive(tmp_path_factory.getbasetemp())


class TestSimConformance(RuntimeConformance):
    runtime_name = "sim"

    @pytest.fixture
    def features(self):
        # No real processes, no network namespaces, no cgroups: the simulator acts out
        # a few shell commands only (see navarch_runtime_sim.shell), and files only
        # under its mounts, read through to the host path at each access (so a mount
        # made there later shows, as with HostToContainer).
        return frozenset({PULL, EXEC_STDIN, ATTACH, MOUNT_PROPAGATION})

    @pytest_asyncio.fixture
    async def runtime(self):
        # A pull of MISSING fails as a registry would answer (configured behaviour).
        runtime = SimRuntime(
            SimOptions(images={MISSING: ImageBehaviour(pull_error="manifest unknown")})
        )
        yield runtime
        await runtime.close()

    @pytest_asyncio.fixture
    async def test_image(self, runtime, busybox):
        await runtime.load_image(busybox)
        return BUSYBOX_IMAGE

    @pytest.fixture
    def pull_image(self):
        return f"{REGISTRY}/navarch.test/busybox:1"  # the simulator needs no registry

    @pytest.fixture
    def missing_image(self):
        return MISSING


# --- what only the simulator does --------------------------------------------------------


@pytest_asyncio.fixture
async def sim(busybox):
    runtimes = []

    async def make(**options) -> SimRuntime:
        runtime = SimRuntime(SimOptions(**options))
        await runtime.load_image(busybox)
        runtimes.append(runtime)
        return runtime

    yield make
    for runtime in runtimes:
        await runtime.close()


async def _pod(runtime, annotations=None, name="pod"):
    config = SandboxConfig(name, "default", f"uid-{name}", annotations=annotations or {})
    return await runtime.create_sandbox(config), config


async def _container(runtime, pod, name="main", image=BUSYBOX_IMAGE, start=True, **fields):
    sandbox_id, config = pod
    container_id = await runtime.create_container(
        sandbox_id, ContainerConfig(name, image, **fields), config
    )
    if start:
        await runtime.start_container(container_id)
    return container_id


async def test_registered_as_sim_with_typed_options():
    entry = assemble(load_config(file=None, env={}, overrides=["runtime.name=sim"])).runtime()
    assert entry.plugin == "runtime-sim"
    runtime = entry.value({"start_latency_seconds": 0.5, "images": {"a:1": {"exit_code": 3}}}, "/d")
    assert runtime.options.start_latency_seconds == 0.5
    assert runtime.options.images["a:1"] == ImageBehaviour(exit_code=3)
    assert (await runtime.version()).node_info == "sim://0.1.0"
    assert isinstance(runtime, Runtime)
    with pytest.raises(InvalidConfig, match="exit_code"):
        SimOptions.from_mapping({"images": {"a:1": {"exit_code": "x"}}})


async def test_start_latency_keeps_the_container_created_meanwhile(sim):
    runtime = await sim(start_latency_seconds=0.2)
    container_id = await _container(
        runtime, await _pod(runtime), start=False, command=("sleep", "inf")
    )
    starting = asyncio.ensure_future(runtime.start_container(container_id))
    await asyncio.sleep(0)  # the start is under way, waiting out its latency
    assert not starting.done()
    assert (await runtime.container_status(container_id)).state == ContainerState.CREATED
    await starting
    assert (await runtime.container_status(container_id)).state == ContainerState.RUNNING


async def test_exit_after_with_code_from_image_options(sim):
    image = ImageBehaviour(exit_after_seconds=0.05, exit_code=2, output="booted\n")
    runtime = await sim(images={BUSYBOX_IMAGE: image})
    # The configured exit wins over the command, which is not acted out.
    container_id = await _container(runtime, await _pod(runtime), command=("sleep", "inf"))
    status = await wait_for_state(runtime, container_id, ContainerState.EXITED)
    assert (status.exit_code, status.reason) == (2, "Error")
    assert text(await read_logs(runtime, container_id)) == "booted\n"


async def test_crash_loop_recovers_from_the_configured_attempt(sim):
    image = ImageBehaviour(exit_after_seconds=0.05, exit_code=1, crash_until_attempt=2)
    runtime = await sim(images={BUSYBOX_IMAGE: image})
    pod = await _pod(runtime)
    # The recovering attempt starts first: had it an exit timer, that would fire first.
    recovered = await _container(runtime, pod, "late", attempt=2, command=("sleep", "inf"))
    crashing = await _container(runtime, pod, "early", attempt=1, command=("sleep", "inf"))
    status = await wait_for_state(runtime, crashing, ContainerState.EXITED)
    assert (status.exit_code, status.reason) == (1, "Error")
    assert (await runtime.container_status(recovered)).state == ContainerState.RUNNING


async def test_annotations_override_image_options_per_pod_and_container(sim):
    runtime = await sim(images={BUSYBOX_IMAGE: ImageBehaviour(exit_code=9)})
    pod = await _pod(
        runtime,
        {
            "sim.navarch.io/exit-after": "0",
            "sim.navarch.io/exit-code": "3",
            "sim.navarch.io/exit-code.web": "4",
        },
    )
    web = await _container(runtime, pod, "web")
    side = await _container(runtime, pod, "side")
    # The container's own annotations win over the pod's.
    own = await _container(runtime, pod, "own", annotations={"sim.navarch.io/exit-code": "5"})
    codes = [
        (await wait_for_state(runtime, cid, ContainerState.EXITED)).exit_code
        for cid in (web, side, own)
    ]
    assert codes == [4, 3, 5]


async def test_bad_annotation_is_invalid_config_naming_it(sim):
    runtime = await sim()
    pod = await _pod(runtime, {"sim.navarch.io/exit-after": "soon"})
    with pytest.raises(InvalidConfig, match=r"sim\.navarch\.io/exit-after = 'soon'"):
        await _container(runtime, pod, start=False)


async def test_configured_start_error(sim):
    runtime = await sim(images={BUSYBOX_IMAGE: ImageBehaviour(start_error="no GPU here")})
    container_id = await _container(runtime, await _pod(runtime), start=False)
    with pytest.raises(StartError, match="no GPU here"):
        await runtime.start_container(container_id)
    status = await runtime.container_status(container_id)
    assert (status.state, status.reason, status.message) == (
        ContainerState.EXITED,
        "StartError",
        "no GPU here",
    )


async def test_pull_failure_and_latency_from_options(sim):
    gone = f"{REGISTRY}/gone:1"
    runtime = await sim(images={gone: ImageBehaviour(pull_error="unauthorized: no")})
    with pytest.raises(ImagePullError) as info:
        await runtime.pull_image(gone)
    assert (info.value.image, info.value.reason) == (gone, "unauthorized: no")
    ref = await runtime.pull_image(f"{REGISTRY}/app")  # any other name succeeds
    assert ref.tags == (f"{REGISTRY}/app:latest",)
    assert await runtime.image_status(f"{REGISTRY}/app:latest") == ref


async def test_pulled_images_run_any_program_until_stopped(sim):
    runtime = await sim()
    image = f"{REGISTRY}/app:1"
    await runtime.pull_image(image)
    # The files of a pulled image are unknown: its program is taken to exist.
    container_id = await _container(
        runtime, await _pod(runtime), image=image, command=("/app/server",)
    )
    assert (await runtime.container_status(container_id)).state == ContainerState.RUNNING
    await runtime.stop_container(container_id, grace=30)
    status = await runtime.container_status(container_id)
    assert (status.exit_code, status.reason) == (143, "Error")  # SIGTERM ends it


async def test_probe_answers_for_commands_not_acted_out(sim):
    runtime = await sim(images={BUSYBOX_IMAGE: ImageBehaviour(probe_exit_code=1)})
    pod = await _pod(runtime)
    failing = await _container(runtime, pod, "a", command=("sleep", "inf"))
    result = await runtime.exec_sync(failing, ["wget", "-q", "http://127.0.0.1/healthz"], timeout=5)
    assert result.exit_code == 1
    # Acted-out commands give their own result, whatever the probe answer.
    assert (await runtime.exec_sync(failing, ["true"], timeout=5)).exit_code == 0
    not_yet = await _container(
        runtime,
        pod,
        "b",
        command=("sleep", "inf"),
        annotations={
            "sim.navarch.io/probe-exit-code": "0",
            "sim.navarch.io/probe-ok-after": "3600",
        },
    )
    assert (await runtime.exec_sync(not_yet, ["ls", "/ready"], timeout=5)).exit_code == 1
    ready = await _container(
        runtime,
        pod,
        "c",
        command=("sleep", "inf"),
        annotations={"sim.navarch.io/probe-exit-code": "0"},
    )
    assert (await runtime.exec_sync(ready, ["ls", "/ready"], timeout=5)).exit_code == 0
    missing = await runtime.exec_sync(ready, ["/no/such/probe"], timeout=5)
    assert missing.exit_code == 127 and b"no such file" in missing.stderr


async def test_opaque_scripts_run_until_stopped_and_missing_programs_say_not_found(sim):
    runtime = await sim()
    pod = await _pod(runtime)
    opaque = await _container(runtime, pod, "a", command=("sh", "-c", "echo a | tr a b"))
    assert (await runtime.container_status(opaque)).state == ContainerState.RUNNING
    assert await read_logs(runtime, opaque) == []
    missing = await _container(runtime, pod, "b", command=("sh", "-c", "nosuch; echo after; exit"))
    status = await wait_for_state(runtime, missing, ContainerState.EXITED)
    lines = await read_logs(runtime, missing)
    assert text(lines, "stderr") == "sh: nosuch: not found\n"
    assert text(lines, "stdout") == "after\n"
    assert status.exit_code == 0  # `exit` gives the last status: echo's


async def test_files_outside_the_mounts_are_opaque_and_mounts_are_reported(sim, tmp_path):
    """The simulator has no image filesystem: ``cat`` of a path no mount covers, or a
    write there, is not acted out (the container runs until stopped); a path under a
    mount reads the host's file, a symlink in it (a configMap's ``..data``) followed."""
    runtime = await sim()
    pod = await _pod(runtime)
    opaque = await _container(runtime, pod, "a", command=("cat", "/etc/hostname"))
    writes = await _container(runtime, pod, "b", command=("sh", "-c", "echo x > /tmp/x; exit 3"))
    for container_id in (opaque, writes):
        assert (await runtime.container_status(container_id)).state == ContainerState.RUNNING
    (tmp_path / "..2026_12_07").mkdir()
    (tmp_path / "..2026_12_07" / "key").write_text("value\n")
    (tmp_path / "..data").symlink_to("..2026_12_07")
    (tmp_path / "key").symlink_to("..data/key")
    mounts = (Mount("/config", str(tmp_path), read_only=True),)
    reader = await _container(
        runtime,
        pod,
        "c",
        command=("sh", "-c", "cat key /config/missing"),
        mounts=mounts,
        working_dir="/config",
    )
    status = await wait_for_state(runtime, reader, ContainerState.EXITED)
    lines = await read_logs(runtime, reader)
    assert text(lines, "stdout") == "value\n"
    assert text(lines, "stderr") == (
        "cat: can't open '/config/missing': No such file or directory\n"
    )
    assert status.exit_code == 1
    assert runtime.mounts(reader) == mounts


def test_an_interactive_shell_reaches_files_only_through_mounts(tmp_path):
    (tmp_path / "motd").write_text("through the mount\n")
    written: list[tuple[str, bytes]] = []
    interactive = InteractiveShell(
        lambda stream, data: written.append((stream, data)),
        env={},
        workdir="/",
        lookup=lambda program: None,
        processes=list,
        files=MountedFiles((Mount("/etc/motd", str(tmp_path / "motd")),)),
    )
    interactive.feed(b"cat /etc/passwd\ncat /etc/motd\n")
    first = interactive.next_process()
    assert first is not None and first.run() == Exit(0)  # the second line
    assert written == [
        ("stderr", b"sh: the simulator does not act out /etc/passwd\n"),
        ("stdout", b"through the mount\n"),
    ]


async def test_quoting_expansion_and_comments(sim):
    runtime = await sim()
    script = """# a comment
echo 'single $HOME' "double $HOME" ${HOME}x \\$HOME "$MISSING" -$MISSING-
echo -n no-newline"""
    container_id = await _container(
        runtime, await _pod(runtime), command=("sh", "-c", script), env=(("HOME", "/root"),)
    )
    await wait_for_state(runtime, container_id, ContainerState.EXITED)
    assert text(await read_logs(runtime, container_id)) == (
        "single $HOME double /root /rootx $HOME  --\nno-newline"
    )


async def test_follow_ends_when_the_container_is_removed(sim):
    runtime = await sim()
    container_id = await _container(
        runtime, await _pod(runtime), command=("sh", "-c", "echo a; sleep inf")
    )
    lines = []

    async def follow():
        async for line in runtime.logs(container_id, LogOptions(follow=True)):
            lines.append(line)

    following = asyncio.ensure_future(follow())
    await wait_until_true(lambda: lines)
    await runtime.remove_container(container_id)
    await asyncio.wait_for(following, 30)
    assert text(lines) == "a\n"


async def wait_until_true(condition):
    async def check():
        return condition()

    return await wait_until(check)


async def test_unavailable_and_back_keeps_everything(sim):
    runtime = await sim()
    container_id = await _container(runtime, await _pod(runtime), command=("sleep", "inf"))
    runtime.set_unavailable("cannot connect to the sim daemon")
    with pytest.raises(Unavailable, match="cannot connect"):
        await runtime.version()
    with pytest.raises(Unavailable):
        await runtime.container_status(container_id)
    runtime.set_unavailable(None)
    assert (await runtime.container_status(container_id)).state == ContainerState.RUNNING


async def test_killed_from_outside(sim):
    runtime = await sim()
    container_id = await _container(runtime, await _pod(runtime), command=("sleep", "inf"))
    runtime.kill_container(container_id)
    status = await runtime.container_status(container_id)
    assert (status.state, status.exit_code, status.reason) == (ContainerState.EXITED, 137, "Error")


async def test_four_thousand_containers_without_a_task_each(sim):
    runtime = await sim(images={BUSYBOX_IMAGE: ImageBehaviour()})
    tasks_before = len(asyncio.all_tasks())
    ids = []
    for pod_index in range(200):
        pod = await _pod(runtime, name=f"p{pod_index}")
        for index in range(20):
            # Half run until stopped, half sleep with a pending timer.
            command = ("sleep", "inf") if index % 2 else ("sleep", "3600")
            ids.append(await _container(runtime, pod, f"c{index}", command=command))
    assert len(ids) == 4000
    assert len(asyncio.all_tasks()) == tasks_before
    running = await runtime.list_containers()
    assert len(running) == 4000
    assert {status.state for status in running} == {ContainerState.RUNNING}
    for sandbox in await runtime.list_sandboxes():
        await runtime.remove_sandbox(sandbox.id)
    assert await runtime.list_containers() == []
