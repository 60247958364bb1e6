"""The agent on containerd, end to end (issue 12, "Faults and bad input"): a real API
server, a ``navarch agent --runtime containerd`` process and a private containerd that
is stopped under it — with SIGTERM (a service stop) and with SIGKILL (a crash); both
leave the shims and their containers running — and started again on the same root,
state and socket. The agent must reconnect (its Node Ready again), keep the running
container it had (same ID, no restart, its log still growing), restart one that died
while containerd was down (restartPolicy Always), start a pod created meanwhile once
it is back, start nothing twice, and clean up a pod deleted while it was down. And an agent started before
containerd waits, NotReady, and becomes Ready once containerd answers.

What runs in containerd is read with a plain client in the agent's namespace (never
through a second runtime object, which would reap tasks the agent's own reaps)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from navarch import api
from navarch.client import Client
from navarch.runtime import labels
from navarch.testing.containerd import ContainerdProcess, containerd_problem
from navarch.testing.daemon import require_or_skip, unmount_under
from navarch.testing.images import BUSYBOX_IMAGE, busybox_archive
from navarch_runtime_containerd import ContainerdClient, import_image_archive
from tests.agent.conftest import DEADLINE, eventually, pod_body
from tests.agent.looked import HEARTBEATS, RELIST_ERRORS, RELISTS_FINISHED, counted

pytestmark = pytest.mark.daemon

TICKER = "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"


def as_dict(obj: Any) -> dict[str, Any]:
    return obj if isinstance(obj, dict) else api.dump(obj)


@pytest.fixture
def containerd(tmp_path: Path) -> Iterator[ContainerdProcess]:
    """A private containerd, not started: each test starts (and stops) it itself."""
    require_or_skip(containerd_problem())
    process = ContainerdProcess(tmp_path / "containerd")
    try:
        yield process
    finally:
        process.remove()  # ends the shims and containers a failed test left


class AgentProcess:
    """``navarch agent --runtime containerd`` for one node, its output in a log file."""

    def __init__(self, directory: Path, kubeconfig: Path, socket: Path, node: str):
        self.node = node
        self.namespace = f"a{uuid.uuid4().hex[:12]}"
        self.data_dir = directory / "data"
        self.log_path = directory / "agent.log"
        self.config_path = directory / "agent.yaml"
        self.process: subprocess.Popen[bytes] | None = None
        config = {
            "data_dir": str(self.data_dir),
            "kubeconfig": str(kubeconfig),
            "log": {"format": "json"},
            "runtime": {"options": {"socket": str(socket), "namespace": self.namespace}},
            "agent": {
                "node_name": node,
                "node_ip": "127.0.0.1",
                "address": "127.0.0.1",
                "port": 0,
                "lease_renew_seconds": 1,
                "relist_seconds": 1,
                "backoff_initial_seconds": 1,
            },
        }
        self.config_path.write_text(yaml.safe_dump(config))

    @property
    def sandboxes(self) -> Path:
        """Where the agent's runtime keeps its sandboxes' state files."""
        return self.data_dir / "runtime" / self.node / "containerd" / "sandboxes"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NAVARCH_")}
        command = [sys.executable, "-m", "navarch.cli.navarch", "--config"]
        command += [str(self.config_path), "agent", "--runtime", "containerd"]
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no agent log)"


@pytest.fixture
def agent(tmp_path: Path, api_server: Any, containerd: ContainerdProcess) -> Iterator[AgentProcess]:
    process = AgentProcess(
        tmp_path, api_server.kubeconfig, containerd.socket_path, f"cd-{uuid.uuid4().hex[:6]}"
    )
    try:
        yield process
    finally:
        process.stop()
        # a failed test leaves its pods: their network namespaces are bind mounts
        unmount_under((process.data_dir,))


@pytest_asyncio.fixture
async def inspector(
    agent: AgentProcess, containerd: ContainerdProcess
) -> AsyncIterator[ContainerdClient]:
    """A plain client in the agent's namespace (it reconnects by itself)."""
    async with ContainerdClient(
        containerd.socket_path, namespace=agent.namespace, timeout=5.0
    ) as client:
        yield client


# --- what the API server and containerd show ----------------------------------------


async def _ready(client: Client, node: str) -> str | None:
    """The node's Ready condition status ("True" / "False"), None before it exists."""
    conditions = (as_dict(await client.nodes.get(node)).get("status") or {}).get("conditions")
    for condition in conditions or []:
        if condition["type"] == "Ready":
            return str(condition["status"])
    return None


async def _until_ready(client: Client, node: str, wanted: str, agent: AgentProcess) -> None:
    async def check() -> bool:
        assert agent.process is not None and agent.process.poll() is None, agent.tail()
        return await _ready(client, node) == wanted

    await eventually(check, f"node {node} Ready={wanted}")


async def _status(client: Client, name: str) -> dict[str, Any]:
    """The pod's first container status ({} before there is one)."""
    status = as_dict(await client.pods.get(name, "default")).get("status") or {}
    return (status.get("containerStatuses") or [{}])[0]


async def _pod_log(client: Client, name: str) -> str:
    path = f"/api/v1/namespaces/default/pods/{name}/log"
    async with client.session().get(path) as response:
        assert response.status == 200, await response.text()
        return await response.text()


async def _records(inspector: ContainerdClient, pod: str) -> list[str]:
    """IDs of containerd's container records of ``pod``."""
    found = await inspector.list_containers()
    return sorted(r.id for r in found if r.labels.get(labels.POD_NAME) == pod)


async def _tasks(inspector: ContainerdClient) -> list[str]:
    return sorted(t.container_id for t in await inspector.list_tasks())


def _sandbox_uids(agent: AgentProcess) -> list[str]:
    if not agent.sandboxes.is_dir():
        return []
    states = [json.loads(p.read_text()) for p in agent.sandboxes.glob("*.json")]
    return sorted(state["labels"].get(labels.POD_UID, "") for state in states)


def _container_id(status: dict[str, Any]) -> str:
    return str(status["containerID"]).removeprefix("containerd://")


# --- the tests ---------------------------------------------------------------------------


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_containerd_restarted_under_a_running_agent(
    how: signal.Signals,
    client: Client,
    containerd: ContainerdProcess,
    agent: AgentProcess,
    inspector: ContainerdClient,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    await asyncio.to_thread(containerd.start)
    await inspector.ensure_namespace()
    await import_image_archive(inspector, busybox_archive(tmp_path_factory.getbasetemp()))
    agent.start()
    node = agent.node
    await _until_ready(client, node, "True", agent)

    long = pod_body("cd-long", node, image=BUSYBOX_IMAGE, command=["sh", "-c", TICKER])
    victim = pod_body("cd-victim", node, image=BUSYBOX_IMAGE, command=["sh", "-c", TICKER])
    short = pod_body("cd-short", node, image=BUSYBOX_IMAGE, command=["echo", "done"])
    short["spec"]["restartPolicy"] = "Never"
    doomed = pod_body("cd-doomed", node, image=BUSYBOX_IMAGE, command=["sleep", "100000"])
    for body in (long, victim, short, doomed):
        await client.pods.create(body)

    async def running(name: str, restarts: int = 0) -> dict[str, Any] | None:
        status = await _status(client, name)
        started = "running" in status.get("state", {})
        return status if started and status["restartCount"] >= restarts else None

    async def succeeded() -> bool:
        pod = as_dict(await client.pods.get("cd-short", "default"))
        return (pod.get("status") or {}).get("phase") == "Succeeded"

    before = await eventually(lambda: running("cd-long"), "cd-long Running")
    victim_before = await eventually(lambda: running("cd-victim"), "cd-victim Running")
    await eventually(lambda: running("cd-doomed"), "cd-doomed Running")
    await eventually(succeeded, "cd-short Succeeded")
    short_before = await _status(client, "cd-short")
    doomed_uid = as_dict(await client.pods.get("cd-doomed", "default"))["metadata"]["uid"]
    assert doomed_uid in _sandbox_uids(agent)
    log_before = await _pod_log(client, "cd-long")
    victim_pid = (await inspector.get_task(_container_id(victim_before))).pid

    # containerd goes; its shims (and the containers) stay
    async def three_shims() -> list[int] | None:
        found = containerd.shim_pids(agent.namespace)
        return found if len(found) == 3 else None  # cd-short's goes with its task

    shims = await eventually(three_shims, "a shim for each running container")
    await asyncio.to_thread(containerd.interrupt, how)
    assert containerd.shim_pids(agent.namespace) == shims
    await _until_ready(client, node, "False", agent)
    # while it is down: one container dies, one pod is deleted (and its grace period
    # runs out), one is created
    os.kill(victim_pid, signal.SIGKILL)
    await client.pods.delete("cd-doomed", "default", grace_period_seconds=1)
    during = pod_body("cd-during", node, image=BUSYBOX_IMAGE, command=["sh", "-c", TICKER])
    await client.pods.create(during)  # its sandbox and container must wait
    # the agent's attempts meet a containerd that is not there: two more of them
    await counted(client, node, RELIST_ERRORS, 2)
    assert doomed_uid in _sandbox_uids(agent)  # nothing could be done meanwhile

    await asyncio.to_thread(containerd.start)
    await _until_ready(client, node, "True", agent)

    # the running container is the one it was: re-attached, not restarted
    after = await eventually(lambda: running("cd-long"), "cd-long Running after the restart")
    assert after["containerID"] == before["containerID"], agent.tail()
    assert after["restartCount"] == before["restartCount"] == 0, after
    seen = len(log_before.splitlines())

    async def log_grew() -> bool:
        return len((await _pod_log(client, "cd-long")).splitlines()) > seen + 10

    await eventually(log_grew, "cd-long's log growing after the restart")

    # the one that died meanwhile: seen exited once containerd answered, restarted
    victim_after = await eventually(lambda: running("cd-victim", 1), "cd-victim restarted")
    assert victim_after["containerID"] != victim_before["containerID"]
    assert victim_after["lastState"]["terminated"]["exitCode"] == 137, victim_after

    # the pod created while containerd was down: started once it answered
    during_status = await eventually(lambda: running("cd-during"), "cd-during Running")

    # the pod deleted while containerd was down: its containers and sandbox removed,
    # the deletion confirmed
    async def doomed_gone() -> bool:
        names = {pod.metadata.name for pod in (await client.pods.list("default")).items}
        records = await _records(inspector, "cd-doomed")
        return not records and doomed_uid not in _sandbox_uids(agent) and "cd-doomed" not in names

    await eventually(doomed_gone, "cd-doomed cleaned up once containerd returned")

    # nothing started twice: two relists later, one record per pod, one task
    await counted(client, node, RELISTS_FINISHED, 2)
    long_id = _container_id(after)
    assert await _records(inspector, "cd-long") == [long_id], agent.tail()
    assert await _records(inspector, "cd-short") == [_container_id(short_before)]
    victim_ids = await _records(inspector, "cd-victim")
    assert _container_id(victim_after) in victim_ids and len(victim_ids) <= 2, victim_ids
    during_id = _container_id(during_status)
    assert await _records(inspector, "cd-during") == [during_id], agent.tail()
    assert await _tasks(inspector) == sorted([long_id, _container_id(victim_after), during_id])
    during_uid = as_dict(await client.pods.get("cd-during", "default"))["metadata"]["uid"]
    assert _sandbox_uids(agent).count(during_uid) == 1
    short_after = await _status(client, "cd-short")
    assert short_after["containerID"] == short_before["containerID"]
    assert short_after["state"]["terminated"]["exitCode"] == 0, short_after
    assert short_after["restartCount"] == 0
    assert (await _status(client, "cd-long"))["restartCount"] == 0
    # cd-long's own shim from before the restart, and new ones for cd-victim, cd-during
    now = containerd.shim_pids(agent.namespace)
    assert len(now) == 3 and len(set(now) & set(shims)) == 1, (now, shims)

    for name in ("cd-long", "cd-victim", "cd-short", "cd-during"):
        await client.pods.delete(name, "default", grace_period_seconds=0)

    async def all_gone() -> bool:
        return await _tasks(inspector) == [] and _sandbox_uids(agent) == []

    await eventually(all_gone, "the pods' containers removed")


async def test_agent_started_before_containerd_waits_and_becomes_ready(
    client: Client,
    containerd: ContainerdProcess,
    agent: AgentProcess,
    inspector: ContainerdClient,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    agent.start()
    await _until_ready(client, agent.node, "False", agent)
    node = as_dict(await client.nodes.get(agent.node))
    [ready] = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
    assert "container runtime is down" in ready["message"], ready
    await counted(client, agent.node, HEARTBEATS, 2)  # still there, still waiting
    assert agent.process is not None and agent.process.poll() is None, agent.tail()
    assert await _ready(client, agent.node) == "False"

    await asyncio.to_thread(containerd.start)
    await _until_ready(client, agent.node, "True", agent)
    # and it runs pods there
    await inspector.ensure_namespace()
    await import_image_archive(inspector, busybox_archive(tmp_path_factory.getbasetemp()))
    await client.pods.create(pod_body("cd-late", agent.node, image=BUSYBOX_IMAGE))

    async def running() -> bool:
        return "running" in (await _status(client, "cd-late")).get("state", {})

    await eventually(running, "a pod Running on the late containerd", timeout=DEADLINE)
    await client.pods.delete("cd-late", "default", grace_period_seconds=0)

    async def gone() -> bool:
        return await _tasks(inspector) == [] and _sandbox_uids(agent) == []

    await eventually(gone, "cd-late's container removed")
