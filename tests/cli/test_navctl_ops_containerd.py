"""navctl exec and logs with a real container: a private containerd, ``navarch agent
--runtime containerd`` and an API server, the test busybox image (no registry). The
pod is bound to the agent's node directly (no scheduler needed).

Covers what the simulated runtime cannot show: a real shell's exit code, stdin
through ``-i`` to a real program, and ``-t``: a terminal on the remote side whose
size is the one navctl's own terminal has (sent on the resize channel)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from navarch.client import Client
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.containerd import ContainerdProcess, containerd_problem
from navarch.testing.daemon import require_or_skip, unmount_under
from navarch.testing.images import BUSYBOX_IMAGE, busybox_archive
from navarch_runtime_containerd import ContainerdClient, import_image_archive
from tests.agent.conftest import DEADLINE, eventually, pod_body
from tests.agent.test_agent_containerd import AgentProcess
from tests.cli.terminal import navctl_on_a_terminal

pytestmark = pytest.mark.daemon


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    with ApiServerProcess(tmp_path_factory.mktemp("apiserver")) as server:
        yield server


@pytest.fixture
def containerd(tmp_path: Path) -> Iterator[ContainerdProcess]:
    require_or_skip(containerd_problem())
    process = ContainerdProcess(tmp_path / "containerd").start()
    try:
        yield process
    finally:
        process.remove()  # ends the shims and containers a failed test left


@pytest.fixture
def agent(
    tmp_path: Path, api_server: ApiServerProcess, containerd: ContainerdProcess
) -> Iterator[AgentProcess]:
    process = AgentProcess(
        tmp_path, api_server.kubeconfig, containerd.socket_path, f"nv-{uuid.uuid4().hex[:6]}"
    )
    try:
        yield process
    finally:
        process.stop()
        unmount_under((process.data_dir,))


@pytest_asyncio.fixture
async def client(api_server: ApiServerProcess) -> AsyncIterator[Client]:
    async with Client.from_kubeconfig(api_server.kubeconfig) as client:
        yield client


def navctl(kubeconfig: Path, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAVARCH_")}
    return subprocess.run(
        [sys.executable, "-m", "navarch.cli.navctl", "--kubeconfig", str(kubeconfig), *args],
        input=stdin,
        capture_output=True,
        timeout=DEADLINE,
        env=env,
    )


async def test_exec_and_logs_in_a_real_container(
    client: Client,
    api_server: ApiServerProcess,
    containerd: ContainerdProcess,
    agent: AgentProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    async with ContainerdClient(
        containerd.socket_path, namespace=agent.namespace, timeout=5.0
    ) as inspector:
        await inspector.ensure_namespace()
        await import_image_archive(inspector, busybox_archive(tmp_path_factory.getbasetemp()))
    agent.start()
    body = pod_body(
        "nv-box", agent.node, image=BUSYBOX_IMAGE, command=["sh", "-c", "echo ready; sleep 3600"]
    )
    body["spec"]["terminationGracePeriodSeconds"] = 1
    await client.pods.create(body)

    async def running() -> bool:
        found: Any = await client.request("GET", "/api/v1/namespaces/default/pods/nv-box")
        return (found.get("status") or {}).get("phase") == "Running"

    await eventually(running, "pod nv-box Running")
    kubeconfig = api_server.kubeconfig

    logs = await asyncio.to_thread(navctl, kubeconfig, "logs", "nv-box")
    assert (logs.returncode, logs.stdout) == (0, b"ready\n"), logs.stderr

    # the remote shell's exit code becomes navctl's
    result = await asyncio.to_thread(
        navctl, kubeconfig, "exec", "nv-box", "--", "sh", "-c", "echo $((6*7)); exit 5"
    )
    assert result.stdout == b"42\n"
    assert result.returncode == 5
    assert b"command terminated with exit code 5" in result.stderr

    # -i: our stdin to a real program, its end seen (wc ends only then)
    counted = await asyncio.to_thread(
        navctl, kubeconfig, "exec", "-i", "nv-box", "--", "wc", "-l", stdin=b"a\nb\nc\n"
    )
    assert (counted.returncode, counted.stdout.strip()) == (0, b"3"), counted.stderr

    # -it on a terminal: the command has a terminal of our terminal's size (it asks once
    # our typed line arrived, which navctl sends after the size)
    code, seen = await asyncio.to_thread(
        navctl_on_a_terminal,
        kubeconfig,
        "exec",
        "-it",
        "nv-box",
        "--",
        "sh",
        "-c",
        "read line; echo got $line; tty; stty size",
        rows=33,
        columns=101,
        typed=b"go\n",
    )
    assert code == 0, seen
    assert "got go" in seen and "/dev/pts/" in seen and "33 101" in seen, seen

    await client.pods.delete("nv-box", "default", grace_period_seconds=0)
