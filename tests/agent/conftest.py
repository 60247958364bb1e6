"""Agents under test: a private API server per module, agents run in this process
against a runtime built through its plugin (as ``navarch agent`` builds it)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from navarch.agent.agent import Agent, AgentSettings
from navarch.agent.machine import read_machine
from navarch.agent.node import NodeIdentity
from navarch.assembly import assemble
from navarch.client import Client
from navarch.client.errors import NotFound
from navarch.config import load_config
from navarch.runtime import Runtime
from navarch.testing.apiserver import ApiServerProcess

# Fast enough for tests, the same code paths as production.
FAST = AgentSettings(
    lease_renew_seconds=1,
    status_update_seconds=5,
    relist_seconds=0.5,
    backoff_initial_seconds=1,
    backoff_max_seconds=4,
    port=None,
)
DEADLINE = 90.0  # generous: the machine may be busy


@pytest.fixture(scope="module")
def api_server(tmp_path_factory):
    with ApiServerProcess(tmp_path_factory.mktemp("apiserver")) as server:
        yield server


@pytest_asyncio.fixture
async def client(api_server) -> AsyncIterator[Client]:
    client = Client.from_kubeconfig(api_server.kubeconfig)
    yield client
    await client.close()


def build_runtime(name: str, options: dict[str, Any], data_dir: Path) -> Runtime:
    """The runtime as the agent daemon builds it: through its plugin's registration."""
    entry = assemble(load_config(env={})).registries.runtimes.entry(name)
    return entry.value(options, str(data_dir))


def identity(name: str, **overrides: Any) -> NodeIdentity:
    machine = read_machine()
    return NodeIdentity(
        name=name,
        ip="127.0.0.1",
        machine=machine,
        capacity=overrides.pop("capacity", machine.capacity({})),
        labels=overrides.pop("labels", {}),
        taints=overrides.pop("taints", []),
    )


@contextlib.asynccontextmanager
async def running_agent(
    client: Client, runtime: Runtime, node: str, settings: AgentSettings = FAST, **kwargs: Any
) -> AsyncIterator[Agent]:
    agent = Agent(client, runtime, identity(node, **kwargs), settings)
    task = asyncio.create_task(agent.run())
    try:
        yield agent
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def eventually(
    check: Callable[[], Awaitable[Any]], what: str, timeout: float = DEADLINE
) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = await check()
        except NotFound:
            last = None
        if last:
            return last
        await asyncio.sleep(0.2)
    pytest.fail(f"timed out after {timeout}s waiting for {what}; last seen: {last!r}")


def pod_body(name: str, node: str, *, command=("sleep", "3600"), image: str, **spec: Any):
    container = {"name": "main", "image": image, "command": list(command)}
    container.update(spec.pop("container", {}))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", **spec.pop("metadata", {})},
        "spec": {"nodeName": node, "containers": [container], **spec},
    }
