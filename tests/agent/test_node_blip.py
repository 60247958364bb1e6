"""A node blip (issue 21 item 2): an agent process paused with SIGSTOP past the node
grace period, then resumed with SIGCONT — on the simulated runtime and on a private
containerd.

While it is paused the node-lifecycle controller (fast settings: 3 s grace) makes the
node Ready=Unknown and marks its pods Ready=False; a pod is deleted and another
created. Once resumed: the node is Ready again, the pods that kept running are
Ready=True again (the agent's status manager sees the server's copy differ from what
it wrote, though nothing the agent computes changed), the deleted pod is stopped and
gone, the new one runs and is Ready.

One node: the controller sees a full disruption and takes no NoExecute action, so no
pod is evicted meanwhile (the pods tolerate unreachable for ever besides)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from navarch import api
from navarch.client import Client
from navarch.client.errors import NotFound
from navarch.runtime import labels
from navarch.testing import waiting
from navarch.testing.cluster import NO_ELECTION, sim_agent_process
from navarch.testing.containerd import ContainerdProcess, containerd_problem
from navarch.testing.controllermanager import ControllerManagerProcess
from navarch.testing.daemon import require_or_skip, unmount_under
from navarch.testing.images import BUSYBOX_IMAGE, busybox_archive
from navarch_runtime_containerd import ContainerdClient, import_image_archive
from tests.agent.conftest import pod_body
from tests.agent.test_agent_containerd import AgentProcess

DEADLINE = 90.0
eventually = functools.partial(waiting.eventually, deadline=DEADLINE)
FAST_LIFECYCLE = {"node_monitor_grace_seconds": 3.0, "node_monitor_period_seconds": 1.0}
TOLERATE_UNREACHABLE = [
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}
]


def as_dict(obj: Any) -> dict[str, Any]:
    return obj if isinstance(obj, dict) else api.dump(obj)


@pytest.fixture
def controllers(api_server: Any, tmp_path: Path) -> Iterator[ControllerManagerProcess]:
    process = ControllerManagerProcess(
        tmp_path / "controllers",
        api_server.kubeconfig,
        settings={
            "leader_election": NO_ELECTION,
            "controllers": {
                "enabled": ["node-lifecycle"],
                "options": {"node-lifecycle": FAST_LIFECYCLE},
            },
        },
    )
    with process:
        yield process


class Paused:
    """An agent process (its Popen) to pause and resume; always resumed at the end."""

    def __init__(self, process: Any, log_tail: Any):
        self.process, self.log_tail = process, log_tail

    def pause(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGCONT)


@pytest_asyncio.fixture(params=["sim", "containerd"])
async def agent_on(
    request: pytest.FixtureRequest,
    api_server: Any,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[str, Paused, ContainerdClient | None]]:
    """An agent process on the runtime the parameter names: its node, the process to
    pause, and (containerd) a client in its namespace to look into the runtime."""
    if request.param == "sim":
        node = f"blip-sim-{uuid.uuid4().hex[:6]}"
        daemon = sim_agent_process(tmp_path, api_server, node_name=node, lease_renew_seconds=1)
        daemon.start()
        paused = Paused(daemon.process, daemon.log_tail)
        try:
            yield node, paused, None
        finally:
            paused.resume()
            daemon.stop()
        return
    require_or_skip(containerd_problem())
    containerd = ContainerdProcess(tmp_path / "containerd")
    (tmp_path / "agent").mkdir()
    agent = AgentProcess(
        tmp_path / "agent",
        api_server.kubeconfig,
        containerd.socket_path,
        f"blip-cd-{uuid.uuid4().hex[:6]}",
    )
    try:
        await asyncio.to_thread(containerd.start)
        async with ContainerdClient(
            containerd.socket_path, namespace=agent.namespace, timeout=5.0
        ) as inspector:
            await inspector.ensure_namespace()
            await import_image_archive(inspector, busybox_archive(tmp_path_factory.getbasetemp()))
            agent.start()
            paused = Paused(agent.process, agent.tail)
            try:
                yield agent.node, paused, inspector
            finally:
                paused.resume()
                agent.stop()
    finally:
        unmount_under((agent.data_dir,))
        containerd.remove()


async def _condition(client: Client, kind: str, name: str, condition: str) -> str | None:
    try:
        found = await (
            client.nodes.get(name) if kind == "node" else client.pods.get(name, "default")
        )
    except NotFound:
        return None  # not registered (or created) yet
    obj = as_dict(found)
    for found in (obj.get("status") or {}).get("conditions") or []:
        if found["type"] == condition:
            return str(found["status"])
    return None


async def _pod_names(client: Client) -> set[str]:
    return {p.metadata.name for p in (await client.pods.list("default")).items}


async def test_pods_are_ready_again_after_their_agent_was_paused_past_the_grace_period(
    agent_on: tuple[str, Paused, ContainerdClient | None], client: Client, controllers: Any
) -> None:
    node, agent, inspector = agent_on

    async def check(what: Any) -> Any:
        assert agent.process.poll() is None, agent.log_tail()
        return await what

    def pod(name: str) -> dict[str, Any]:
        body = pod_body(name, node, image=BUSYBOX_IMAGE, command=["sleep", "100000"])
        body["spec"].update(terminationGracePeriodSeconds=1, tolerations=TOLERATE_UNREACHABLE)
        return body

    async def node_is(status: str) -> bool:
        return await check(_condition(client, "node", node, "Ready")) == status

    async def pod_ready(name: str, status: str) -> bool:
        return await check(_condition(client, "pod", name, "Ready")) == status

    await eventually(lambda: node_is("True"), f"node {node} Ready")
    steady, doomed, newcomer = (
        [f"steady-1-{node}", f"steady-2-{node}"],
        f"doomed-{node}",
        f"new-{node}",
    )
    for name in [*steady, doomed]:
        await client.pods.create(pod(name))
    for name in [*steady, doomed]:
        await eventually(functools.partial(pod_ready, name, "True"), f"{name} Ready")

    agent.pause()
    try:
        await eventually(lambda: node_is("Unknown"), f"node {node} Ready=Unknown")
        for name in steady:
            await eventually(
                functools.partial(pod_ready, name, "False"), f"{name} marked Ready=False"
            )
        doomed_uid = as_dict(await client.pods.get(doomed, "default"))["metadata"]["uid"]
        await client.pods.delete(doomed, "default")
        await client.pods.create(pod(newcomer))
    finally:
        agent.resume()

    await eventually(lambda: node_is("True"), f"node {node} Ready again")
    for name in [*steady, newcomer]:
        await eventually(functools.partial(pod_ready, name, "True"), f"{name} Ready=True again")

    async def doomed_gone() -> bool:
        return doomed not in await _pod_names(client)

    await eventually(doomed_gone, "the pod deleted during the pause gone")
    if inspector is not None:  # containerd: nothing of it left in the runtime either
        records = await inspector.list_containers()
        assert not [r for r in records if r.labels.get(labels.POD_UID) == doomed_uid]
    phases = {
        p.metadata.name: p.status.phase
        for p in (await client.pods.list("default")).items
        if p.spec.node_name == node
    }
    assert phases == {name: "Running" for name in [*steady, newcomer]}
