"""Ephemeral containers and attach on the simulated runtime (issue 21 item 6), driven
by the real kubectl: an agent in this process with its streaming port, a private API
server. ``kubectl debug -it POD --image=… --target=main -- sh`` opens a shell beside
the target whose ``ps`` shows the target's process (the simulator acts out a shared
pid namespace), the container is reported in ``ephemeralContainerStatuses`` and is
never restarted; ``kubectl attach -i`` reaches a running container's stdin."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import pytest_asyncio

from navarch.agent.agent import Agent
from navarch.agent.daemon import streaming_for
from navarch.client import Client
from navarch.client.kubeconfig import load_kubeconfig
from navarch.testing.apiserver import ApiServerProcess

from .conftest import FAST, build_runtime, eventually, identity, pod_body

IMAGE = "127.0.0.1:5000/busybox:1"  # the simulator "pulls" it: no registry is asked


@pytest_asyncio.fixture
async def agent(
    api_server: ApiServerProcess, client: Client, tmp_path: Path
) -> AsyncIterator[Agent]:
    settings = attrs.evolve(FAST, port=0, address="127.0.0.1", data_dir=tmp_path)
    kubeconfig = load_kubeconfig(api_server.kubeconfig)
    node = f"sim-{uuid.uuid4().hex[:6]}"
    runtime = build_runtime("sim", {}, tmp_path / "runtime")
    agent = Agent(
        client,
        runtime,
        identity(node),
        settings,
        runtime_name="sim",
        streaming=streaming_for(kubeconfig, settings),
    )
    task = asyncio.create_task(agent.run())
    try:
        yield agent
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runtime.close()


async def kubectl(
    server: ApiServerProcess, *args: str, stdin: bytes | None = None
) -> tuple[int, str, str]:
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.fail("kubectl is not installed on this machine; these tests need it")
    process = await asyncio.create_subprocess_exec(
        binary,
        "--kubeconfig",
        str(server.kubeconfig),
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(90):
        out, err = await process.communicate(stdin)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def _running(client: Client, name: str) -> Any:
    async def check() -> Any:
        pod = await client.pods.get(name, "default")
        return pod if pod.status is not None and pod.status.phase == "Running" else None

    return await eventually(check, f"pod {name} Running")


def _ephemeral_status(pod: Any, name: str) -> dict[str, Any] | None:
    statuses = pod.status.to_dict().get("ephemeralContainerStatuses") or []
    return next((s for s in statuses if s["name"] == name), None)


async def test_kubectl_debug_opens_a_shell_beside_the_target(api_server, client, agent):
    name = f"web-{uuid.uuid4().hex[:6]}"
    await client.pods.create(pod_body(name, agent.node_name, image=IMAGE), "default")
    await _running(client, name)

    code, out, err = await kubectl(
        api_server,
        "debug",
        name,
        "-it",
        f"--image={IMAGE}",
        "--target=main",
        "--container=debugger",
        "--",
        "sh",
        stdin=b"echo hello; ps; exit\n",
    )
    assert code == 0, err
    lines = [line.strip() for line in out.splitlines()]
    assert "hello" in lines, out
    # ps in the debugger shows the target's process: one pid namespace.
    assert any(line.endswith("sleep 3600") for line in lines), out

    async def terminated() -> Any:
        pod = await client.pods.get(name, "default")
        status = _ephemeral_status(pod, "debugger")
        state = (status or {}).get("state") or {}
        return status if "terminated" in state else None

    status = await eventually(terminated, "the debugger reported terminated")
    assert status["state"]["terminated"]["exitCode"] == 0
    assert status["restartCount"] == 0 and status["ready"] is False
    assert status["containerID"].startswith("sim://")

    # Never started again: a later sync of the pod (the main container restarted by a
    # resync is not needed; a relist and a status write after the exit are the proof
    # the agent looked) still shows the one terminated instance, and the pod runs on.
    relists = agent.relists
    await eventually(
        lambda: asyncio.sleep(0, agent.relists > relists + 2), "two relists after the exit"
    )
    pod = await client.pods.get(name, "default")
    assert pod.status.phase == "Running"
    again = _ephemeral_status(pod, "debugger")
    assert again is not None and again["containerID"] == status["containerID"]
    instances = await agent.runtime.list_containers({"navarch.io/container-name": "debugger"})
    assert len([i for i in instances if i.labels["navarch.io/pod-name"] == name]) == 1


async def test_kubectl_attach_reaches_a_running_containers_stdin(api_server, client, agent):
    name = f"shell-{uuid.uuid4().hex[:6]}"
    body = pod_body(
        name,
        agent.node_name,
        image=IMAGE,
        command=("sh",),
        restartPolicy="Never",
        container={"stdin": True, "stdinOnce": True},
    )
    await client.pods.create(body, "default")
    await _running(client, name)

    code, out, err = await kubectl(
        api_server, "attach", name, "-i", "-c", "main", stdin=b"echo attached\nexit 3\n"
    )
    assert code == 0, err  # attach ends with Success whatever the exit code (kubelet's)
    assert "attached" in out.splitlines(), out

    async def failed() -> Any:
        pod = await client.pods.get(name, "default")
        return pod if pod.status.phase == "Failed" else None

    pod = await eventually(failed, "the attached shell's exit 3 failing the pod")
    assert pod.status.container_statuses[0].state.terminated.exit_code == 3
