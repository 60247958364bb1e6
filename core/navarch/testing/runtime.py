"""The runtime conformance suite: one set of contract tests for every container runtime
plugin, ours and third parties' (the rules are in :mod:`navarch.runtime.contract`).

Use it from your own tests::

    import pytest, pytest_asyncio
    from navarch.testing.images import BUSYBOX_IMAGE, busybox_archive
    from navarch.testing.runtime import PULL, REAL_PROCESSES, RuntimeConformance

    class TestMyRuntime(RuntimeConformance):
        runtime_name = "mine"                      # the report's column

        @pytest.fixture
        def features(self):                        # what your runtime can do
            return frozenset({REAL_PROCESSES, PULL})

        @pytest_asyncio.fixture
        async def runtime(self, tmp_path):
            runtime = MyRuntime(tmp_path)
            yield runtime
            await runtime.close()

        @pytest_asyncio.fixture
        async def test_image(self, runtime, tmp_path_factory):
            await runtime.load_image(busybox_archive(tmp_path_factory.getbasetemp()))
            return BUSYBOX_IMAGE

Fixtures a subclass provides: ``runtime`` (required), ``test_image`` (required: the
name of the busybox test image, already loaded in ``runtime``), ``features`` (the
optional behaviours it has; default: all of them), ``archive`` (an archive to load;
default: a busybox archive under a tag of its own), ``pull_image`` (a
``127.0.0.1:PORT/…`` image in a local registry; default None) and ``missing_image``
(a name that registry does not hold; default derived from ``pull_image``).

A test needing a feature the runtime lacks is skipped with a reason starting
``n/a:``; the report plugin (:mod:`navarch.testing.runtime_report`, enable it with
``pytest_plugins``) shows those as ``n/a`` and, under ``CI=true``, turns every other
skip of a conformance test into a failure.

Each test creates its own sandboxes, labelled with a fresh pod uid, and removes
them afterwards, so the runtime may be shared by tests (a daemon started once per
session). No test asserts on timing: waits are on conditions, with generous deadlines.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from navarch.runtime import labels as runtime_labels
from navarch.runtime.archive import read_archive_manifest, write_busybox_archive
from navarch.runtime.contract import Runtime
from navarch.runtime.errors import (
    CreateError,
    ImageLoadError,
    ImagePullError,
    NotFound,
    StartError,
)
from navarch.runtime.types import (
    STDERR,
    STDOUT,
    ContainerState,
    LogOptions,
    SandboxState,
)

# The helpers live in runtime_support; they are re-exported here, where runtimes'
# own tests have always imported them from.
from navarch.testing.runtime_support import (
    ALL_FEATURES,
    EXEC_STDIN,
    MEMORY_LIMITS,
    NETWORK_NAMESPACES,
    NOT_APPLICABLE,
    OOM_DETECTION,
    PULL,
    REAL_PROCESSES,
    SLEEPER,
    STUBBORN,
    WAIT_SECONDS,
    Pods,
    _image_names,
    not_applicable,
    read_logs,
    requires,
    sh,
    text,
    wait_for_output,
    wait_for_state,
    wait_until,
)

__all__ = [
    "ALL_FEATURES",
    "EXEC_STDIN",
    "MEMORY_LIMITS",
    "NETWORK_NAMESPACES",
    "NOT_APPLICABLE",
    "OOM_DETECTION",
    "PULL",
    "REAL_PROCESSES",
    "SLEEPER",
    "STUBBORN",
    "WAIT_SECONDS",
    "Pods",
    "RuntimeConformance",
    "not_applicable",
    "read_logs",
    "requires",
    "sh",
    "text",
    "wait_for_output",
    "wait_for_state",
    "wait_until",
]


class RuntimeConformance:
    """Contract tests; a subclass supplies ``runtime`` and ``test_image`` and declares
    its ``runtime_name`` and ``features``."""

    runtime_name: str = ""
    # What a registry answers for a tag it does not hold (the distribution API's
    # MANIFEST_UNKNOWN); the ImagePullError's reason must carry it.
    missing_image_reason: str = "manifest unknown"

    pytestmark = [pytest.mark.asyncio]

    # --- fixtures ------------------------------------------------------------------

    @pytest.fixture
    def runtime(self) -> Runtime:
        raise NotImplementedError("subclass RuntimeConformance and define a 'runtime' fixture")

    @pytest.fixture
    def test_image(self) -> str:
        raise NotImplementedError(
            "define a 'test_image' fixture: the name of navarch.testing.images' busybox "
            "image, loaded in the runtime"
        )

    @pytest.fixture
    def features(self) -> frozenset[str]:
        return ALL_FEATURES

    @pytest.fixture
    def archive(self, tmp_path_factory: pytest.TempPathFactory) -> Path:
        from navarch.testing.images import BUSYBOX_REPOSITORY, busybox_archive

        # A tag of its own: the tests remove it without touching test_image.
        tag = f"{BUSYBOX_REPOSITORY}-conformance:{secrets.token_hex(4)}"
        return busybox_archive(tmp_path_factory.mktemp("conformance-archive"), tag)

    @pytest.fixture
    def pull_image(self) -> str | None:
        return None

    @pytest.fixture
    def missing_image(self, pull_image: str | None) -> str | None:
        if pull_image is None:
            return None
        registry = pull_image.split("/", 1)[0]
        return f"{registry}/navarch-conformance/missing:{secrets.token_hex(4)}"

    @pytest_asyncio.fixture
    async def pods(self, runtime: Runtime, test_image: str) -> AsyncIterator[Pods]:
        pods = Pods(runtime, test_image)
        yield pods
        await pods.cleanup()

    @pytest.fixture(autouse=True)
    def _navarch_requirements(self, request: pytest.FixtureRequest) -> None:
        needed: frozenset[str] = getattr(request.function, "__navarch_requires__", frozenset())
        if not needed:
            return
        missing = needed - request.getfixturevalue("features")
        if missing:
            not_applicable(f"the runtime lacks {', '.join(sorted(missing))}")

    # --- the daemon ----------------------------------------------------------------

    async def test_version(self, runtime: Runtime):
        version = await runtime.version()
        assert version.name and version.version
        assert version.node_info == f"{version.name}://{version.version}"

    # --- images --------------------------------------------------------------------

    async def test_load_image(self, runtime: Runtime, archive: Path):
        expected = read_archive_manifest(archive)
        refs = await runtime.load_image(archive)
        for image_id, tags in expected:
            loaded = [ref for ref in refs if ref.id == image_id]
            assert loaded, f"load_image returned {refs}, not image {image_id}"
            assert set(tags) <= set(loaded[0].tags)
            for tag in tags:
                status = await runtime.image_status(tag)
                assert status is not None and status.id == image_id
            assert (await runtime.image_status(image_id)) is not None
        await self._remove_tags(runtime, [tag for _, tags in expected for tag in tags])

    async def test_image_status_and_list(self, runtime: Runtime, test_image: str):
        status = await runtime.image_status(test_image)
        assert status is not None and test_image in status.tags
        assert status.id.startswith("sha256:")
        listed = {ref.id: ref for ref in await runtime.list_images()}
        assert status.id in listed and test_image in listed[status.id].tags
        assert await runtime.image_status("navarch.test/never-loaded:1") is None

    async def test_remove_image(self, runtime: Runtime, archive: Path, test_image: str):
        ((_, tags),) = read_archive_manifest(archive)
        await runtime.load_image(archive)
        await self._remove_tags(runtime, tags)
        for tag in tags:
            assert await runtime.image_status(tag) is None
            assert tag not in _image_names(await runtime.list_images())
        # The archive's image has the same content as test_image: removing one name
        # leaves the other.
        assert await runtime.image_status(test_image) is not None

    async def test_corrupt_archive_is_image_load_error(
        self, runtime: Runtime, archive: Path, tmp_path: Path
    ):
        before = _image_names(await runtime.list_images())
        truncated = tmp_path / "truncated.tar"
        truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
        garbage = tmp_path / "garbage.tar"
        garbage.write_bytes(b"this is not an image archive\n" * 100)
        for path in (truncated, garbage):
            with pytest.raises(ImageLoadError) as info:
                await runtime.load_image(path)
            assert str(path) in str(info.value)
        assert _image_names(await runtime.list_images()) == before  # nothing half-loaded

    @requires(PULL)
    async def test_pull_image(self, runtime: Runtime, pull_image: str | None):
        if pull_image is None:
            pytest.skip("the runtime declares PULL but the pull_image fixture gives None")
        ref = await runtime.pull_image(pull_image)
        status = await runtime.image_status(pull_image)
        assert status is not None and status.id == ref.id
        await runtime.remove_image(pull_image)

    @requires(PULL)
    async def test_pull_missing_image_is_image_pull_error(
        self, runtime: Runtime, missing_image: str | None
    ):
        if missing_image is None:
            pytest.skip("the runtime declares PULL but the pull_image fixture gives None")
        with pytest.raises(ImagePullError) as info:
            await runtime.pull_image(missing_image)
        assert info.value.image == missing_image
        assert self.missing_image_reason in info.value.reason
        assert await runtime.image_status(missing_image) is None

    # --- sandboxes -----------------------------------------------------------------

    async def test_sandbox_lifecycle(self, runtime: Runtime, pods: Pods):
        annotations = {"example.com/note": "kept verbatim: a=b, c"}
        sandbox_id = await pods.sandbox(annotations=annotations)
        config = pods.configs[sandbox_id]
        status = await runtime.sandbox_status(sandbox_id)
        assert status.id == sandbox_id and status.state == SandboxState.READY
        assert dict(status.labels) == dict(config.labels)
        assert dict(status.annotations) == annotations
        assert status.created_at is not None and not status.host_network
        listed = await runtime.list_sandboxes(pods.labels_of(sandbox_id))
        assert [sandbox.id for sandbox in listed] == [sandbox_id]

        container_id = await pods.container(sandbox_id, **sh(SLEEPER))
        await wait_for_output(runtime, container_id, "ready")
        await runtime.stop_sandbox(sandbox_id)  # stops its containers too
        assert (await runtime.sandbox_status(sandbox_id)).state == SandboxState.NOT_READY
        stopped = await runtime.container_status(container_id)
        assert stopped.state == ContainerState.EXITED
        await runtime.remove_sandbox(sandbox_id)
        with pytest.raises(NotFound):
            await runtime.sandbox_status(sandbox_id)
        with pytest.raises(NotFound):
            await runtime.remove_sandbox(sandbox_id)
        assert await runtime.list_sandboxes(pods.labels_of(sandbox_id)) == []

    async def test_host_network_sandbox(self, runtime: Runtime, pods: Pods):
        sandbox_id = await pods.sandbox(host_network=True)
        status = await runtime.sandbox_status(sandbox_id)
        assert status.host_network and status.state == SandboxState.READY

    async def test_remove_sandbox_removes_its_containers(self, runtime: Runtime, pods: Pods):
        sandbox_id = await pods.sandbox()
        running = await pods.container(sandbox_id, "a", **sh(SLEEPER))
        created = await pods.container(sandbox_id, "b", start=False, **sh("exit 0"))
        await runtime.remove_sandbox(sandbox_id)
        for container_id in (running, created):
            with pytest.raises(NotFound):
                await runtime.container_status(container_id)
        assert await runtime.list_containers(pods.labels_of(sandbox_id)) == []

    # --- containers ----------------------------------------------------------------

    async def test_created_then_running(self, runtime: Runtime, pods: Pods, test_image: str):
        sandbox_id = await pods.sandbox()
        container_id = await pods.container(sandbox_id, start=False, **sh(SLEEPER))
        status = await runtime.container_status(container_id)
        assert status.state == ContainerState.CREATED and status.created_at is not None
        assert (status.id, status.name, status.sandbox_id) == (container_id, "main", sandbox_id)
        assert status.image == test_image and status.image_id.startswith("sha256:")
        await runtime.start_container(container_id)
        status = await wait_for_state(runtime, container_id, ContainerState.RUNNING)
        assert status.created_at is not None and status.started_at is not None
        assert status.started_at >= status.created_at
        assert status.finished_at is None and status.exit_code is None

    async def test_exit_code_reason_and_times(self, runtime: Runtime, pods: Pods):
        failed = await pods.run_until_exit("exit 3")
        assert (failed.exit_code, failed.reason) == (3, "Error")
        completed = await pods.run_until_exit("exit 0")
        assert (completed.exit_code, completed.reason) == (0, "Completed")
        for status in (failed, completed):
            assert status.created_at is not None and status.started_at is not None
            assert status.finished_at is not None
            assert status.created_at <= status.started_at <= status.finished_at

    async def test_command_args_env_and_working_dir(self, runtime: Runtime, pods: Pods):
        status = await pods.run_until_exit(
            'echo "$GREETING" "$0" "$1"; pwd',
            "first",
            "second",
            env=(("GREETING", "hello world"), ("OTHER", "x")),
            working_dir="/tmp",
        )
        assert status.exit_code == 0
        output = text(await read_logs(runtime, status.id), STDOUT)
        assert output == "hello world first second\n/tmp\n"

    async def test_command_without_shell(self, runtime: Runtime, pods: Pods):
        sandbox_id = await pods.sandbox()
        container_id = await pods.container(sandbox_id, command=("echo",), args=("a", "b c"))
        await wait_for_state(runtime, container_id, ContainerState.EXITED)
        assert text(await read_logs(runtime, container_id)) == "a b c\n"

    @requires(REAL_PROCESSES)
    async def test_the_image_user_runs_the_process(
        self, runtime: Runtime, pods: Pods, tmp_path: Path
    ):
        """The image's ``User`` by name (its group and additional groups from the
        image's /etc/passwd and /etc/group), by numbers, and one the image lacks."""
        expected = {"app": "1000 1000 1000 29 44", "1234:5678": "1234 5678 5678"}
        sandbox_id = await pods.sandbox()
        for index, user in enumerate([*expected, "nosuchuser"]):
            tag = f"navarch.test/busybox-user-{index}:{secrets.token_hex(4)}"
            archive = tmp_path / f"{index}.tar"
            write_busybox_archive(archive, tag, user=user)
            await runtime.load_image(archive)
            script = sh('echo "$(id -u) $(id -g) $(id -G)"')
            if user not in expected:
                with pytest.raises(CreateError) as info:
                    await pods.container(sandbox_id, f"c{index}", image=tag, **script)
                assert user in str(info.value)
                continue
            container_id = await pods.container(sandbox_id, f"c{index}", image=tag, **script)
            await wait_for_state(runtime, container_id, ContainerState.EXITED)
            assert text(await read_logs(runtime, container_id)) == expected[user] + "\n"

    async def test_missing_command_is_start_error(self, runtime: Runtime, pods: Pods):
        sandbox_id = await pods.sandbox()
        missing = "/navarch-no-such-command"
        container_id = await pods.container(sandbox_id, start=False, command=(missing,))
        with pytest.raises(StartError) as info:
            await runtime.start_container(container_id)
        assert missing in info.value.message
        status = await wait_for_state(runtime, container_id, ContainerState.EXITED)
        assert status.exit_code not in (None, 0)

    async def test_create_with_absent_image_is_create_error(self, runtime: Runtime, pods: Pods):
        sandbox_id = await pods.sandbox()
        with pytest.raises(CreateError):
            await pods.container(sandbox_id, image="navarch.test/never-loaded:1", **sh("exit 0"))

    async def test_stop_sends_sigterm(self, runtime: Runtime, pods: Pods):
        container_id = await pods.run(SLEEPER)
        await wait_for_output(runtime, container_id, "ready")
        await runtime.stop_container(container_id, grace=WAIT_SECONDS)
        status = await runtime.container_status(container_id)  # stop returns once gone
        assert status.state == ContainerState.EXITED
        assert status.exit_code == 7  # the TERM trap ran
        assert "terminated" in text(await read_logs(runtime, container_id))

    async def test_stop_kills_after_grace(self, runtime: Runtime, pods: Pods):
        container_id = await pods.run(STUBBORN)
        await wait_for_output(runtime, container_id, "ready")
        await runtime.stop_container(container_id, grace=1)
        status = await runtime.container_status(container_id)
        assert status.state == ContainerState.EXITED
        assert status.exit_code == 137  # SIGKILL
        await runtime.stop_container(container_id, grace=1)  # stopping again is no error

    async def test_remove_container(self, runtime: Runtime, pods: Pods):
        sandbox_id = await pods.sandbox()
        container_id = await pods.container(sandbox_id, **sh(SLEEPER))
        await wait_for_output(runtime, container_id, "ready")
        await runtime.stop_container(container_id, grace=WAIT_SECONDS)
        await runtime.remove_container(container_id)
        with pytest.raises(NotFound):
            await runtime.container_status(container_id)
        with pytest.raises(NotFound):
            await runtime.remove_container(container_id)
        assert await runtime.list_containers(pods.labels_of(sandbox_id)) == []
        with pytest.raises(NotFound):
            await read_logs(runtime, container_id)
        # The sandbox outlives its containers.
        assert (await runtime.sandbox_status(sandbox_id)).state == SandboxState.READY

    async def test_labels_round_trip_and_filter_lists(self, runtime: Runtime, pods: Pods):
        odd = {
            "example.com/spaces": "a b=c, d",
            "example.com/empty": "",
            "example.com/unicode": "héllo ✓",
        }
        first = await pods.sandbox("first", labels=odd)
        second = await pods.sandbox("second")
        a = await pods.container(
            first, "a", attempt=2, labels=odd, annotations={"k": "v"}, **sh(SLEEPER)
        )
        b = await pods.container(first, "b", start=False, **sh("exit 0"))
        c = await pods.container(second, "c", start=False, **sh("exit 0"))

        status = await runtime.container_status(a)
        sandbox = pods.configs[first]
        assert dict(status.labels) == {
            **runtime_labels.container_labels(
                Pods.NODE, sandbox.namespace, sandbox.name, sandbox.uid, "a", 2
            ),
            **odd,
        }
        assert dict(status.annotations) == {"k": "v"} and status.attempt == 2
        sandbox_status = await runtime.sandbox_status(first)
        assert dict(sandbox_status.labels) == dict(sandbox.labels)

        async def ids(**query: Any) -> set[str]:
            return {container.id for container in await runtime.list_containers(**query)}

        assert await ids(labels=pods.labels_of(first)) == {a, b}
        assert await ids(labels=pods.labels_of(second)) == {c}
        assert await ids(labels={**pods.labels_of(first), **odd}) == {a}
        assert await ids(labels={**pods.labels_of(first), runtime_labels.RESTART_COUNT: "2"}) == {a}
        assert await ids(sandbox_id=second) == {c}
        assert await ids(labels=pods.labels_of(first), sandbox_id=second) == set()
        assert {a, b, c} <= await ids()
        listed = await runtime.list_sandboxes({**pods.labels_of(first), **odd})
        assert [s.id for s in listed] == [first]
        assert {first, second} <= {s.id for s in await runtime.list_sandboxes()}

    async def test_exited_containers_stay_listed(self, runtime: Runtime, pods: Pods):
        status = await pods.run_until_exit("echo done; exit 4")
        uid = status.labels[runtime_labels.POD_UID]
        (listed,) = await runtime.list_containers({runtime_labels.POD_UID: uid})
        assert listed.id == status.id and listed.state == ContainerState.EXITED
        assert (listed.exit_code, listed.reason) == (4, "Error")
        assert listed.finished_at is not None
        assert text(await read_logs(runtime, status.id)) == "done\n"

    # --- logs --------------------------------------------------------------------------

    async def test_logs_stdout_and_stderr(self, runtime: Runtime, pods: Pods):
        status = await pods.run_until_exit("echo out1; echo err1 >&2; echo out2")
        lines = await read_logs(runtime, status.id)
        assert text(lines, STDOUT) == "out1\nout2\n"
        assert text(lines, STDERR) == "err1\n"
        assert all(line.data.endswith(b"\n") for line in lines)
        times = [line.time for line in lines]
        assert times == sorted(times)

    async def test_logs_tail(self, runtime: Runtime, pods: Pods):
        status = await pods.run_until_exit("echo one; echo two; echo three; echo four")
        assert text(await read_logs(runtime, status.id, LogOptions(tail=2))) == "three\nfour\n"
        assert text(await read_logs(runtime, status.id, LogOptions(tail=0))) == ""

    async def test_logs_since(self, runtime: Runtime, pods: Pods):
        status = await pods.run_until_exit("echo one; sleep 1; echo two; sleep 1; echo three")
        lines = await read_logs(runtime, status.id)
        assert text(lines) == "one\ntwo\nthree\n"
        # Between the first two lines (a second apart), so no rounding of a time
        # decides the answer.
        since = (lines[0].time + lines[1].time) / 2
        got = await read_logs(runtime, status.id, LogOptions(since=since))
        assert text(got) == "two\nthree\n"
        assert all(line.time >= since for line in got)

    async def test_logs_follow_until_exit(self, runtime: Runtime, pods: Pods):
        container_id = await pods.run("echo first; sleep 2; echo second")
        lines = await read_logs(runtime, container_id, LogOptions(follow=True))
        assert text(lines) == "first\nsecond\n"
        # Following ends because the container exited.
        status = await runtime.container_status(container_id)
        assert status.state == ContainerState.EXITED

    async def test_logs_of_missing_container_is_not_found(self, runtime: Runtime):
        with pytest.raises(NotFound):
            await read_logs(runtime, "navarch-no-such-container")

    # --- exec ----------------------------------------------------------------------

    async def _sleeper(self, runtime: Runtime, pods: Pods) -> str:
        container_id = await pods.run(SLEEPER)
        await wait_for_output(runtime, container_id, "ready")
        return container_id

    async def test_exec_output_and_exit_code(self, runtime: Runtime, pods: Pods):
        container_id = await self._sleeper(runtime, pods)
        session = await runtime.exec(container_id, ["sh", "-c", "echo out; echo err >&2; exit 5"])
        try:
            out, err = await asyncio.wait_for(_drain(session.output()), WAIT_SECONDS)
            assert (out, err) == (b"out\n", b"err\n")
            assert await asyncio.wait_for(session.wait(), WAIT_SECONDS) == 5
        finally:
            await session.close()

    @requires(EXEC_STDIN)
    async def test_exec_stdin(self, runtime: Runtime, pods: Pods):
        container_id = await self._sleeper(runtime, pods)
        session = await runtime.exec(container_id, ["cat"], stdin=True)
        try:
            await session.write_stdin(b"hello\n")
            await session.write_stdin(b"again\n")
            await session.close_stdin()
            out, _ = await asyncio.wait_for(_drain(session.output()), WAIT_SECONDS)
            assert out == b"hello\nagain\n"
            assert await asyncio.wait_for(session.wait(), WAIT_SECONDS) == 0
        finally:
            await session.close()

    @requires(REAL_PROCESSES, EXEC_STDIN)
    async def test_tty_exec_and_resize(self, runtime: Runtime, pods: Pods):
        container_id = await self._sleeper(runtime, pods)
        session = await runtime.exec(
            container_id, ["sh", "-c", "test -t 0 && echo on-a-tty; cat"], stdin=True, tty=True
        )
        try:
            await session.resize(120, 40)
            # ^D at the start of a line: end of input on a terminal.
            await session.write_stdin(b"typed\n\x04")
            out, err = await asyncio.wait_for(_drain(session.output()), WAIT_SECONDS)
            assert err == b""  # a terminal is one stream
            assert b"on-a-tty" in out and b"typed" in out
            assert await asyncio.wait_for(session.wait(), WAIT_SECONDS) == 0
        finally:
            await session.close()

    @requires(REAL_PROCESSES)
    async def test_tty_container_logs(self, runtime: Runtime, pods: Pods):
        status = await pods.run_until_exit("echo one; echo two >&2", tty=True)
        lines = await read_logs(runtime, status.id)
        # A terminal merges both streams into one, with its line endings.
        assert [line.data for line in lines] == [b"one\r\n", b"two\r\n"]
        assert all(line.stream == STDOUT for line in lines)

    async def test_exec_sync(self, runtime: Runtime, pods: Pods):
        container_id = await self._sleeper(runtime, pods)
        result = await runtime.exec_sync(
            container_id, ["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=WAIT_SECONDS
        )
        assert (result.exit_code, result.stdout, result.stderr) == (3, b"out\n", b"err\n")
        ok = await runtime.exec_sync(container_id, ["true"], timeout=WAIT_SECONDS)
        assert ok.exit_code == 0

    async def test_exec_sync_timeout(self, runtime: Runtime, pods: Pods):
        container_id = await self._sleeper(runtime, pods)
        with pytest.raises(TimeoutError):
            await runtime.exec_sync(container_id, ["sleep", "600"], timeout=1)
        # The container itself goes on.
        status = await runtime.container_status(container_id)
        assert status.state == ContainerState.RUNNING

    # --- resources -----------------------------------------------------------------

    async def test_limits_are_accepted(self, runtime: Runtime, pods: Pods):
        status = await pods.run_until_exit(
            "echo limited", memory_limit_bytes=64 << 20, cpu_limit_millis=500
        )
        assert status.exit_code == 0
        assert text(await read_logs(runtime, status.id)) == "limited\n"

    @requires(REAL_PROCESSES, MEMORY_LIMITS)
    async def test_memory_limit_applied(self, runtime: Runtime, pods: Pods):
        limit = 64 << 20
        container_id = await self._sleeper_with(runtime, pods, memory_limit_bytes=limit)
        result = await runtime.exec_sync(
            container_id,
            [
                "sh",
                "-c",
                "cat /sys/fs/cgroup/memory.max 2>/dev/null"
                " || cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
            ],
            timeout=WAIT_SECONDS,
        )
        assert result.exit_code == 0 and int(result.stdout.strip()) == limit

    @requires(REAL_PROCESSES, MEMORY_LIMITS, OOM_DETECTION)
    async def test_oom_killed(self, runtime: Runtime, pods: Pods):
        # dd's block buffer (256 MiB) is filled from /dev/zero: far above the limit.
        status = await pods.run_until_exit(
            "dd if=/dev/zero of=/dev/null bs=256M count=1", memory_limit_bytes=16 << 20
        )
        assert status.reason == "OOMKilled", status
        assert status.exit_code == 137

    async def _sleeper_with(self, runtime: Runtime, pods: Pods, **fields: Any) -> str:
        container_id = await pods.run(SLEEPER, **fields)
        await wait_for_output(runtime, container_id, "ready")
        return container_id

    # --- the pod's network -----------------------------------------------------------

    @requires(REAL_PROCESSES, NETWORK_NAMESPACES)
    async def test_containers_of_a_sandbox_share_the_network(self, runtime: Runtime, pods: Pods):
        port = 20000 + secrets.randbelow(20000)
        sandbox_id = await pods.sandbox()
        server = await pods.container(sandbox_id, "server", command=("nc", "-l", "-p", str(port)))
        # The client retries until the server listens (no sleep-and-hope).
        await pods.container(
            sandbox_id,
            "client",
            **sh(
                f"for i in $(seq 1 600); do echo through-loopback | nc 127.0.0.1 {port}"
                " && exit 0; sleep 0.1; done; exit 1"
            ),
        )
        assert "through-loopback" in await wait_for_output(runtime, server, "through-loopback")

    # --- concurrency ---------------------------------------------------------------

    async def test_parallel_creates(self, runtime: Runtime, pods: Pods):
        sandbox_id = await pods.sandbox()
        names = [f"c{index}" for index in range(10)]
        ids = await asyncio.gather(
            *(pods.container(sandbox_id, name, **sh(f"echo {name}")) for name in names)
        )
        assert len(set(ids)) == len(ids)
        for name, container_id in zip(names, ids, strict=True):
            status = await wait_for_state(runtime, container_id, ContainerState.EXITED)
            assert (status.name, status.exit_code) == (name, 0)
            assert text(await read_logs(runtime, container_id)) == f"{name}\n"
        listed = await runtime.list_containers(pods.labels_of(sandbox_id))
        assert {container.id for container in listed} == set(ids)

    # --- helpers -------------------------------------------------------------------

    @staticmethod
    async def _remove_tags(runtime: Runtime, tags: Sequence[str]) -> None:
        for tag in tags:
            await runtime.remove_image(tag)


async def _drain(output: AsyncIterator[tuple[str, bytes]]) -> tuple[bytes, bytes]:
    out, err = bytearray(), bytearray()
    async for stream, data in output:
        (err if stream == STDERR else out).extend(data)
    return bytes(out), bytes(err)
