"""The runtime conformance suite on ``cri``: against containerd's CRI plugin in a
private containerd the fixtures start, and against CRI-O (or any CRI runtime) when
``NAVARCH_CRI_ENDPOINT`` names its socket."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from navarch.runtime import CreateError
from navarch.runtime.archive import write_busybox_archive
from navarch.runtime.types import ContainerState
from navarch.testing.cri import CriContainerdProcess
from navarch.testing.images import BUSYBOX_IMAGE, busybox_archive
from navarch.testing.runtime import (
    EXEC_STDIN,
    MEMORY_LIMITS,
    MOUNT_PROPAGATION,
    NETWORK_NAMESPACES,
    OOM_DETECTION,
    PULL,
    REAL_PROCESSES,
    Pods,
    RuntimeConformance,
    not_applicable,
    read_logs,
    sh,
    text,
    wait_for_state,
)
from navarch_runtime_cri import CriOptions, CriRuntime
from tests.runtime.cri_fixtures import cri_containerd, cri_runtime

__all__ = ["cri_containerd", "cri_runtime"]

pytestmark = pytest.mark.daemon

CRI_FEATURES = frozenset(
    {
        REAL_PROCESSES,
        NETWORK_NAMESPACES,
        EXEC_STDIN,
        MEMORY_LIMITS,
        OOM_DETECTION,
        PULL,
        MOUNT_PROPAGATION,
    }
)


class TestCriConformance(RuntimeConformance):
    """The whole contract on containerd's CRI plugin, pulls from a private
    docker-registry on 127.0.0.1 included."""

    runtime_name = "cri"
    # containerd's resolver says "not found" for a tag the registry lacks (the
    # registry's own "manifest unknown" stays in containerd)
    missing_image_reason = "not found"

    @pytest.fixture
    def features(self) -> frozenset[str]:
        return CRI_FEATURES

    @pytest.fixture
    def pull_image(  # type: ignore[override]
        self, registry_image: str, cri_containerd: CriContainerdProcess
    ) -> str:
        cri_containerd.trust_plain_http(registry_image.split("/", 1)[0])
        return registry_image

    @pytest.fixture
    def runtime(self, cri_runtime: CriRuntime) -> CriRuntime:  # type: ignore[override]
        return cri_runtime

    @pytest_asyncio.fixture
    async def test_image(  # type: ignore[override]
        self, runtime: CriRuntime, tmp_path_factory: pytest.TempPathFactory
    ) -> str:
        await runtime.load_image(busybox_archive(tmp_path_factory.getbasetemp()))
        return BUSYBOX_IMAGE

    async def test_the_image_user_runs_the_process(self) -> None:  # type: ignore[override]
        # The user's uid and gid are the image's (test_image_user_without_its_groups
        # below), but containerd 1.6's CRI plugin leaves out the additional groups
        # the image's /etc/group gives the user, which the suite's test asks for.
        not_applicable(
            "containerd 1.6's CRI plugin does not add the image user's groups from the "
            "image's /etc/group (uid and gid: test_image_user_without_its_groups)"
        )


async def test_image_user_without_its_groups(cri_runtime: CriRuntime, tmp_path: Path) -> None:
    """The image's User by name and by numbers sets the uid and gid; one the image
    lacks is a CreateError with containerd's words (which do not name the user)."""
    runtime = cri_runtime
    await runtime.load_image(busybox_archive(tmp_path))
    pods = Pods(runtime, BUSYBOX_IMAGE)
    try:
        sandbox_id = await pods.sandbox()
        expected = {"app": "1000 1000", "1234:5678": "1234 5678"}
        for index, user in enumerate([*expected, "nosuchuser"]):
            tag = f"navarch.test/busybox-user-{index}:{secrets.token_hex(4)}"
            write_busybox_archive(tmp_path / f"{index}.tar", tag, user=user)
            await runtime.load_image(tmp_path / f"{index}.tar")
            script = sh('echo "$(id -u) $(id -g)"')
            if user not in expected:
                with pytest.raises(CreateError) as info:
                    await pods.container(sandbox_id, f"c{index}", image=tag, **script)
                assert "no users found" in str(info.value)
                continue
            container_id = await pods.container(sandbox_id, f"c{index}", image=tag, **script)
            await wait_for_state(runtime, container_id, ContainerState.EXITED)
            assert text(await read_logs(runtime, container_id)) == expected[user] + "\n"
    finally:
        await pods.cleanup()


CRI_ENDPOINT = os.environ.get("NAVARCH_CRI_ENDPOINT", "")


def test_the_suite_runs_on_the_cri_runtime_at_navarch_cri_endpoint() -> None:
    """The one case skipped here: CRI-O cannot be installed on these machines; where
    NAVARCH_CRI_ENDPOINT names its socket, TestCriEndpointConformance runs."""
    if not CRI_ENDPOINT:
        pytest.skip(
            "NAVARCH_CRI_ENDPOINT names no CRI runtime (e.g. unix:///var/run/crio/crio.sock)"
        )
    assert "TestCriEndpointConformance" in globals()


class _EndpointConformance(RuntimeConformance):
    """The suite on the CRI runtime at ``NAVARCH_CRI_ENDPOINT`` (CRI-O: its socket,
    with podman to load images into its store, or the commands in
    NAVARCH_CRI_LOAD_COMMAND and NAVARCH_CRI_UNTAG_COMMAND); a column of its own in
    the report."""

    runtime_name = "cri-endpoint"

    @pytest.fixture
    def features(self) -> frozenset[str]:
        return CRI_FEATURES - {PULL}  # no registry the tests start is known to it

    @pytest_asyncio.fixture
    async def runtime(  # type: ignore[override]
        self, tmp_path_factory: pytest.TempPathFactory
    ) -> AsyncIterator[CriRuntime]:
        load = os.environ.get("NAVARCH_CRI_LOAD_COMMAND", "podman load -i {archive}").split()
        untag = os.environ.get("NAVARCH_CRI_UNTAG_COMMAND", "podman rmi {image}").split()
        options = CriOptions(
            endpoint=CRI_ENDPOINT, image_load_command=load, image_untag_command=untag
        )
        runtime = CriRuntime(options, tmp_path_factory.mktemp("cri-endpoint"))
        yield runtime
        await runtime.close()

    @pytest_asyncio.fixture
    async def test_image(  # type: ignore[override]
        self, runtime: CriRuntime, tmp_path_factory: pytest.TempPathFactory
    ) -> str:
        await runtime.load_image(busybox_archive(tmp_path_factory.getbasetemp()))
        return BUSYBOX_IMAGE


# Collected only where a socket is given: a conformance test skipped for a missing
# daemon fails under CI=true (navarch.testing.runtime_report).
if CRI_ENDPOINT:
    TestCriEndpointConformance = _EndpointConformance
