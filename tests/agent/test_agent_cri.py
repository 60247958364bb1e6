"""The agent on the ``cri`` runtime, end to end (issue 15, "Faults and bad input"): a
real API server, an agent in this process on a CriRuntime built through its plugin,
and a private containerd with its CRI plugin. A pod runs and the Node names the CRI
runtime's name and version; an image the registry lacks is ErrImagePull with the CRI
runtime's words; a command that does not exist is RunContainerError; the CRI
endpoint missing (containerd not started yet, then stopped under the agent) turns
the Node NotReady with the runtime's message, and Ready again once it is back, the
running pod kept; and the real kubectl's logs (--previous too) and exec (-i with
the end of its input) reach the CRI runtime."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import pytest_asyncio

from navarch import api
from navarch.agent.agent import Agent
from navarch.agent.daemon import streaming_for
from navarch.client import Client, load_kubeconfig
from navarch.runtime import ContainerState, labels
from navarch.testing.cri import CriContainerdProcess, cri_problem
from navarch.testing.daemon import require_or_skip
from navarch.testing.images import BUSYBOX_IMAGE, busybox_archive
from navarch.testing.registry import RegistryProcess, push_archive
from navarch_runtime_cri import CriRuntime
from tests.agent.conftest import (
    DEADLINE,
    FAST,
    build_runtime,
    eventually,
    identity,
    pod_body,
    running_agent,
)
from tests.agent.looked import relisted

pytestmark = pytest.mark.daemon


def as_dict(obj: Any) -> dict[str, Any]:
    return obj if isinstance(obj, dict) else api.dump(obj)


@pytest.fixture
def containerd(tmp_path: Path) -> Iterator[CriContainerdProcess]:
    """A private containerd with CRI, not started: each test starts it itself."""
    require_or_skip(cri_problem())
    process = CriContainerdProcess(tmp_path / "cri-containerd")
    try:
        yield process
    finally:
        process.remove()


@pytest.fixture
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryProcess]:
    with RegistryProcess(tmp_path_factory.mktemp("registry")) as process:
        archive = busybox_archive(tmp_path_factory.getbasetemp())
        push_archive(process.host, archive, "navarch-test/busybox", "1")
        yield process


@pytest_asyncio.fixture
async def runtime(containerd: CriContainerdProcess, tmp_path: Path) -> AsyncIterator[CriRuntime]:
    runtime = build_runtime("cri", {"endpoint": containerd.endpoint}, tmp_path / "data")
    assert isinstance(runtime, CriRuntime)
    yield runtime
    await runtime.close()


async def _status(client: Client, name: str) -> dict[str, Any]:
    status = as_dict(await client.pods.get(name, "default")).get("status") or {}
    statuses = status.get("containerStatuses") or []
    return statuses[0] if statuses else {}


def _waiting(cs: dict[str, Any]) -> dict[str, Any]:
    return cs.get("state", {}).get("waiting") or {}


async def _ready(client: Client, node: str) -> dict[str, Any]:
    found = as_dict(await client.nodes.get(node))
    [ready] = [c for c in found["status"]["conditions"] if c["type"] == "Ready"]
    return ready


async def _until_ready(client: Client, node: str, status: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        try:
            ready = await _ready(client, node)
        except Exception:
            return None  # the Node is not registered yet
        return ready if ready["status"] == status else None

    return await eventually(check, f"node {node} Ready={status}")


async def test_pods_run_and_the_node_names_the_cri_runtime_errors_reach_the_pods(
    client: Client,
    containerd: CriContainerdProcess,
    runtime: CriRuntime,
    registry: RegistryProcess,
    tmp_path: Path,
) -> None:
    await asyncio.to_thread(containerd.start)
    containerd.trust_plain_http(registry.host)
    await runtime.load_image(busybox_archive(tmp_path))
    node = "cri-pods"
    async with running_agent(client, runtime, node):
        await _until_ready(client, node, "True")
        info = as_dict(await client.nodes.get(node))["status"]["nodeInfo"]
        # Version's runtime name and version, as the CRI runtime gives them
        version = await runtime.version()
        assert version.name == "containerd" and version.version
        assert info["containerRuntimeVersion"] == f"containerd://{version.version}", info

        pulled = pod_body("cri-pulled", node, image=f"{registry.host}/navarch-test/busybox:1")
        pulled["spec"]["containers"][0]["imagePullPolicy"] = "Always"
        await client.pods.create(pulled)
        missing = f"{registry.host}/navarch-test/missing:1"
        await client.pods.create(pod_body("cri-nopull", node, image=missing))
        await client.pods.create(
            pod_body("cri-nocmd", node, image=BUSYBOX_IMAGE, command=["/no/such/binary"])
        )

        async def running() -> dict[str, Any] | None:
            cs = await _status(client, "cri-pulled")
            return cs if "running" in cs.get("state", {}) else None

        cs = await eventually(running, "the pulled image Running")
        assert cs["containerID"].startswith("containerd://"), cs

        async def pull_failed() -> dict[str, Any] | None:
            cs = await _status(client, "cri-nopull")
            reason = _waiting(cs).get("reason")
            return cs if reason in ("ErrImagePull", "ImagePullBackOff") else None

        cs = await eventually(pull_failed, "ErrImagePull")
        # the CRI runtime's own words: containerd's resolver found nothing
        assert "not found" in _waiting(cs)["message"] and missing in _waiting(cs)["message"], cs

        async def run_error() -> dict[str, Any] | None:
            cs = await _status(client, "cri-nocmd")
            return cs if _waiting(cs).get("reason") == "RunContainerError" else None

        cs = await eventually(run_error, "RunContainerError")
        assert "/no/such/binary" in _waiting(cs)["message"], cs

        for name in ("cri-pulled", "cri-nopull", "cri-nocmd"):
            await client.pods.delete(name, "default", grace_period_seconds=0)

        async def all_gone() -> bool:
            return await runtime.list_sandboxes({labels.NODE: node}) == []

        await eventually(all_gone, "the pods' sandboxes removed")


async def test_endpoint_missing_then_stopped_is_not_ready_and_recovers(
    client: Client, containerd: CriContainerdProcess, runtime: CriRuntime, tmp_path: Path
) -> None:
    node = "cri-faults"
    async with running_agent(client, runtime, node) as agent:
        # nothing listens on the endpoint yet
        ready = await _until_ready(client, node, "False")
        assert containerd.endpoint.removeprefix("unix://") in ready["message"], ready

        await asyncio.to_thread(containerd.start)
        await _until_ready(client, node, "True")
        await runtime.load_image(busybox_archive(tmp_path))
        await client.pods.create(pod_body("cri-survivor", node, image=BUSYBOX_IMAGE))

        async def running() -> dict[str, Any] | None:
            cs = await _status(client, "cri-survivor")
            return cs if "running" in cs.get("state", {}) else None

        before = await eventually(running, "the pod Running")

        # containerd stopped under the agent (its shims and the pod's processes stay)
        await asyncio.to_thread(containerd.interrupt)
        ready = await _until_ready(client, node, "False")
        assert "does not answer" in ready["message"], ready
        await asyncio.to_thread(containerd.start)
        await _until_ready(client, node, "True")
        after = await eventually(running, "the pod Running again")
        assert after["containerID"] == before["containerID"], (before, after)
        assert after["restartCount"] == 0, after
        await relisted(agent)  # the agent looked again: nothing may be started twice
        found = await runtime.list_containers({labels.POD_NAME: "cri-survivor"})
        assert len([c for c in found if c.state == ContainerState.RUNNING]) == 1

        await client.pods.delete("cri-survivor", "default", grace_period_seconds=0)

        async def gone() -> bool:
            return await runtime.list_sandboxes({labels.NODE: node}) == []

        await eventually(gone, "the pod's sandbox removed")


async def _kubectl(kubeconfig: Path, *args: str, stdin: bytes | None = None):  # type: ignore[no-untyped-def]
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.fail("kubectl is not installed on this machine; this test needs it")
    process = await asyncio.create_subprocess_exec(
        binary,
        "--kubeconfig",
        str(kubeconfig),
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(DEADLINE):
        out, err = await process.communicate(stdin)
    return process.returncode, out.decode(), err.decode()


async def test_kubectl_logs_previous_and_exec_on_cri(
    client: Client,
    containerd: CriContainerdProcess,
    runtime: CriRuntime,
    api_server: Any,
    tmp_path: Path,
) -> None:
    """The real kubectl through the API server and the agent's port to the CRI
    runtime: logs (--tail, --previous of a restarted container), exec with its exit
    code, and exec -i whose command reads to the end of its input."""
    await asyncio.to_thread(containerd.start)
    await runtime.load_image(busybox_archive(tmp_path))
    settings = attrs.evolve(FAST, address="127.0.0.1", port=0, data_dir=tmp_path / "agent")
    agent = Agent(
        client,
        runtime,
        identity("cri-kubectl"),
        settings,
        streaming=streaming_for(load_kubeconfig(api_server.kubeconfig), settings),
    )
    task = asyncio.create_task(agent.run())
    kubeconfig = api_server.kubeconfig
    try:
        script = "echo first; echo second; trap 'exit 0' TERM; while true; do sleep 1; done"
        await client.pods.create(
            pod_body("cri-talk", "cri-kubectl", image=BUSYBOX_IMAGE, command=["sh", "-c", script])
        )
        crash = "echo run at $(date +%s%N); exit 3"
        await client.pods.create(
            pod_body("cri-crash", "cri-kubectl", image=BUSYBOX_IMAGE, command=["sh", "-c", crash])
        )

        async def logged() -> str | None:
            code, out, _ = await _kubectl(kubeconfig, "logs", "cri-talk")
            return out if code == 0 and "second" in out else None

        assert await eventually(logged, "kubectl logs") == "first\nsecond\n"
        code, out, err = await _kubectl(kubeconfig, "logs", "cri-talk", "--tail=1")
        assert (code, out) == (0, "second\n"), err
        code, out, err = await _kubectl(
            kubeconfig, "exec", "cri-talk", "--", "sh", "-c", "echo $((6*7)); exit 5"
        )
        assert out == "42\n" and code == 5, err
        code, out, err = await _kubectl(
            kubeconfig, "exec", "-i", "cri-talk", "--", "wc", "-l", stdin=b"a\nb\nc\n"
        )
        assert (code, out.strip()) == (0, "3"), err

        async def restarted() -> dict[str, Any] | None:
            cs = await _status(client, "cri-crash")
            return cs if cs.get("restartCount", 0) >= 1 else None

        await eventually(restarted, "cri-crash restarted")
        code, previous, err = await _kubectl(kubeconfig, "logs", "cri-crash", "--previous")
        assert code == 0 and previous.startswith("run at "), (previous, err)

        # the current instance's log is its own (another time), once it wrote it
        async def current() -> str | None:
            code, out, _ = await _kubectl(kubeconfig, "logs", "cri-crash")
            return out if code == 0 and out.startswith("run at ") and out != previous else None

        await eventually(current, "the restarted instance's own log")
        for name in ("cri-talk", "cri-crash"):
            await client.pods.delete(name, "default", grace_period_seconds=0)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
