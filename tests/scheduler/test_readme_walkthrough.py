"""The README's walkthrough, command by command with the real kubectl: its example node
and pod, the scheduler binding the pod, and the tainted fixture node keeping the pod
Pending with the reason."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from navarch.api import dump, load
from navarch.assembly import assemble
from navarch.config import load_config
from navarch.controllers.manager import ControllerManager
from navarch.testing.waiting import eventually

ROOT = Path(__file__).parent.parent.parent
README = (ROOT / "README.md").read_text()


def test_the_python_snippet_loads_a_file_that_exists():
    assert 'open("examples/pod.yaml")' in README
    loaded = load(yaml.safe_load((ROOT / "examples/pod.yaml").read_text()))
    assert dump(loaded.obj)["metadata"]["name"] == "web"


@pytest.fixture
def kubectl(api_server):
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.fail("kubectl is not installed on this machine; the walkthrough needs it")

    async def run(*args: str) -> str:
        command = "kubectl " + " ".join(args)
        assert command in README.replace("'", ""), f"the README no longer says: {command}"
        result = await asyncio.to_thread(
            subprocess.run,
            [binary, "--kubeconfig", str(api_server.kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result.stdout

    return run


async def test_the_walkthrough_binds_the_pod_then_explains_why_it_cannot(
    client, start_scheduler, kubectl
):
    await start_scheduler()
    # the README's tour runs the controllers too: they remove the pod deleted --now,
    # which no agent confirms
    manager = ControllerManager(assemble(load_config(file=None, env={})), client, "test")
    controllers = asyncio.create_task(manager.lead())
    try:
        await _walkthrough(client, kubectl)
    finally:
        controllers.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await controllers


async def _walkthrough(client, kubectl) -> None:
    await kubectl("apply", "-f", "examples/node.yaml")
    await kubectl("apply", "-f", "examples/pod.yaml")

    async def bound_to_the_worker():
        return await kubectl("get", "pod", "web", "-o", "jsonpath={.spec.nodeName}") == "worker-1"

    await eventually(bound_to_the_worker, "pod web bound to worker-1")
    described = await kubectl("describe", "pod", "web")
    assert "scheduler.navarch.io/decision" in described
    assert "worker-1 chosen: the only feasible node" in described

    await kubectl("delete", "pod", "web", "--now")
    await kubectl("apply", "-f", "tests/fixtures/manifests/node.yaml")
    await kubectl("apply", "-f", "examples/pod.yaml")
    expected = "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}."
    assert expected in README

    async def reason():
        pod = await client.pods.get("web", "default")
        conditions = {c.type: c for c in (pod.status.conditions or ())} if pod.status else {}
        scheduled = conditions.get("PodScheduled")
        return scheduled is not None and scheduled.message == expected

    await eventually(reason, "pod web unschedulable, saying why")
    assert expected in await kubectl("describe", "pod", "web")
