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
    STDOUT,
    ContainerState,
    SandboxState,
)

# The helpers live in runtime_support; they are re-exported here, where runtimes'
# own tests have always imported them from.
from navarch.testing.runtime_processes import ProcessConformance
from navarch.testing.runtime_support import (
    ALL_FEATURES,
    ATTACH,
    EXEC_STDIN,
    MEMORY_LIMITS,
    MOUNT_PROPAGATION,
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
from navarch.testing.runtime_volumes import VolumeConformance

__all__ = [
    "ALL_FEATURES",
    "ATTACH",
    "EXEC_STDIN",
    "MEMORY_LIMITS",
    "MOUNT_PROPAGATION",
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


class RuntimeConformance(ProcessConformance, VolumeConformance):
    """Contract tests; a subclass supplies ``runtime`` and ``test_image`` and declares
    its ``runtime_name`` and ``features``. Images, sandboxes, containers and logs are
    here; exec, resources, the pod's network and concurrency in
    :class:`~navarch.testing.runtime_processes.ProcessConformance`, mounts in
    :class:`~navarch.testing.runtime_volumes.VolumeConformance`, its bases."""

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

    # --- helpers -------------------------------------------------------------------

    @staticmethod
    async def _remove_tags(runtime: Runtime, tags: Sequence[str]) -> None:
        for tag in tags:
            await runtime.remove_image(tag)
