"""kubectl debug and kubectl attach with real containers (issue 21 item 6): a private
containerd, ``navarch agent --runtime containerd``, an API server, the test busybox
image (no registry), and the real kubectl.

``kubectl debug -it POD --image=… --target=main -- sh`` starts an ephemeral container
whose shell reads the commands given on stdin; its ``ps`` lists the target's process
(one pid namespace: the target's), and once the shell exits the pod reports the
container terminated in ``ephemeralContainerStatuses``. ``kubectl attach -i`` writes
to a running container's stdin."""

# ruff: noqa: F811  (the fixtures imported below are requested by name as arguments)
from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from navarch.client import Client
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.containerd import ContainerdProcess
from navarch.testing.images import BUSYBOX_IMAGE, busybox_archive
from navarch_runtime_containerd import ContainerdClient, import_image_archive
from tests.agent.conftest import DEADLINE, eventually, pod_body
from tests.agent.test_agent_containerd import AgentProcess
from tests.cli.test_navctl_ops_containerd import (  # noqa: F401  (its fixtures)
    agent,
    api_server,
    client,
    containerd,
)

pytestmark = pytest.mark.daemon


def kubectl(kubeconfig: Path, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.fail("kubectl is not installed on this machine; these tests need it")
    return subprocess.run(
        [binary, "--kubeconfig", str(kubeconfig), *args],
        input=stdin.decode(),
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )


async def _pod(client: Client, name: str) -> dict[str, Any]:
    found: Any = await client.request("GET", f"/api/v1/namespaces/default/pods/{name}")
    return found


async def _start(
    client: Client,
    containerd: ContainerdProcess,
    agent: AgentProcess,
    tmp_path_factory: pytest.TempPathFactory,
    body: dict[str, Any],
) -> None:
    async with ContainerdClient(
        containerd.socket_path, namespace=agent.namespace, timeout=5.0
    ) as inspector:
        await inspector.ensure_namespace()
        await import_image_archive(inspector, busybox_archive(tmp_path_factory.getbasetemp()))
    agent.start()
    body["spec"]["terminationGracePeriodSeconds"] = 1
    await client.pods.create(body)
    name = body["metadata"]["name"]

    async def running() -> bool:
        return ((await _pod(client, name)).get("status") or {}).get("phase") == "Running"

    await eventually(running, f"pod {name} Running")


async def test_kubectl_debug_shares_the_targets_process_namespace(
    client: Client,
    api_server: ApiServerProcess,
    containerd: ContainerdProcess,
    agent: AgentProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    body = pod_body("nv-web", agent.node, image=BUSYBOX_IMAGE, command=["sleep", "3600"])
    await _start(client, containerd, agent, tmp_path_factory, body)

    debug = await asyncio.to_thread(
        kubectl,
        api_server.kubeconfig,
        "debug",
        "nv-web",
        "-it",
        f"--image={BUSYBOX_IMAGE}",
        "--image-pull-policy=IfNotPresent",
        "--target=main",
        "--container=debugger",
        "--",
        "sh",
        stdin=b"echo hello; ps; exit\n",
    )
    assert debug.returncode == 0, (debug.stderr, agent.tail())
    lines = [line.strip() for line in debug.stdout.splitlines()]
    assert "hello" in lines, debug.stdout
    # The target's process is pid 1 of the namespace the debugger's shell sees.
    assert any(line.startswith("1 ") and line.endswith("sleep 3600") for line in lines), (
        debug.stdout
    )

    async def terminated() -> dict[str, Any] | None:
        statuses = (await _pod(client, "nv-web"))["status"].get("ephemeralContainerStatuses")
        status = next((s for s in statuses or () if s["name"] == "debugger"), None)
        return status if status and "terminated" in status["state"] else None

    status = await eventually(terminated, "the debugger reported terminated")
    assert status["state"]["terminated"]["exitCode"] == 0
    assert status["containerID"].startswith("containerd://")
    pod = await _pod(client, "nv-web")
    assert pod["status"]["phase"] == "Running"  # the target runs on
    await client.pods.delete("nv-web", "default", grace_period_seconds=0)


async def test_kubectl_attach_writes_to_a_running_containers_stdin(
    client: Client,
    api_server: ApiServerProcess,
    containerd: ContainerdProcess,
    agent: AgentProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    body = pod_body(
        "nv-shell",
        agent.node,
        image=BUSYBOX_IMAGE,
        command=["sh"],
        restartPolicy="Never",
        container={"stdin": True, "stdinOnce": True},
    )
    await _start(client, containerd, agent, tmp_path_factory, body)

    attached = await asyncio.to_thread(
        kubectl,
        api_server.kubeconfig,
        "attach",
        "nv-shell",
        "-i",
        "-c",
        "main",
        stdin=b"echo attached $((6*7))\nexit 3\n",
    )
    assert attached.returncode == 0, (attached.stderr, agent.tail())
    assert "attached 42" in attached.stdout.splitlines(), attached.stdout

    async def failed() -> dict[str, Any] | None:
        pod = await _pod(client, "nv-shell")
        return pod if pod["status"].get("phase") == "Failed" else None

    pod = await eventually(failed, "the attached shell's exit 3 failing the pod")
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3
    await client.pods.delete("nv-shell", "default", grace_period_seconds=0)
