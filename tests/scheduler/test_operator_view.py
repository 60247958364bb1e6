"""What an operator sees of a running scheduler: its log lines, and the decision in
``kubectl describe pod``."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time

import pytest

from navarch.plugins import build_plugin_manager
from navarch.registry import collect
from navarch.scheduler.scheduler import Scheduler
from tests.scheduler.test_activity import captured
from tests.scheduler.test_scheduling import node, placements, pod


async def test_the_scheduler_logs_start_summaries_unschedulable_pods_and_stop(client):
    for name in ("l1", "l2"):
        await client.nodes.create(node(name, cpu="2"))
    pm = build_plugin_manager()
    scheduler = Scheduler(
        client, pm, collect(pm).scheduler_profiles.get("spread"), report_interval=0.2
    )
    with captured() as records:
        task = asyncio.create_task(scheduler.run())
        await asyncio.gather(
            *(client.pods.create(pod(f"logged-{i}"), namespace="default") for i in range(30))
        )
        await client.pods.create(pod("too-big", cpu="16"), namespace="default")
        await placements(client, 30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            summaries = [r for r in records if r["message"] == "scheduling summary"]
            if sum(r["bound"] for r in summaries) >= 30:
                break
            await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    messages = [r["message"] for r in records]
    assert messages[0] == "scheduler started"
    assert sum(r["bound"] for r in records if r["message"] == "scheduling summary") == 30
    unschedulable = [r for r in records if r["message"] == "pod unschedulable"]
    assert [r["pod"] for r in unschedulable] == ["default/too-big"]
    assert unschedulable[0]["reason"] == "0/2 nodes are available: 2 Insufficient cpu."
    assert messages[-1] == "scheduler stopped" and records[-1]["bound"] == 30
    assert "bound" not in messages  # never a line per pod at INFO
    assert len(records) < 30


async def test_kubectl_describe_shows_every_line_of_the_decision(
    client, start_scheduler, api_server
):
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.fail("kubectl is not installed on this machine; this test needs it")
    for name in ("worker-a", "worker-b"):
        await client.nodes.create(node(name))
    await start_scheduler()
    await client.pods.create(pod("described"), namespace="default")
    await placements(client, 1)
    decision = (await client.pods.get("described", "default")).metadata.annotations[
        "scheduler.navarch.io/decision"
    ]
    result = await asyncio.to_thread(
        subprocess.run,
        [binary, "--kubeconfig", str(api_server.kubeconfig), "describe", "pod", "described"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    shown = [line.strip() for line in result.stdout.splitlines()]
    for line in decision.splitlines():
        assert line in shown, (line, result.stdout)
