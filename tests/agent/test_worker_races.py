"""A pod worker meeting the watch half-way: the pod removed from the API server while
the worker is still stopping it (on the simulated runtime, the race forced)."""

from __future__ import annotations

import pytest
from loguru import logger

from navarch import api
from navarch.runtime import labels
from navarch.testing.images import BUSYBOX_IMAGE
from tests.agent.conftest import build_runtime, eventually, pod_body, running_agent


@pytest.fixture
def runtime(tmp_path):
    return build_runtime("sim", {}, tmp_path / "sim")


async def test_pod_removed_while_its_final_status_is_computed_is_no_sync_failure(client, runtime):
    errors: list[str] = []
    # The library is quiet unless asked (navarch/__init__.py): this test listens.
    logger.enable("navarch")
    sink = logger.add(lambda message: errors.append(str(message)), level="ERROR")
    try:
        async with running_agent(client, runtime, "race-1") as agent:
            created = await client.pods.create(pod_body("raced", "race-1", image=BUSYBOX_IMAGE))
            uid = _as_dict(created)["metadata"]["uid"]

            async def running():
                pod = _as_dict(await client.pods.get("raced", "default"))
                return (pod.get("status") or {}).get("phase") == "Running"

            await eventually(running, "Running")
            worker = agent.workers[uid]
            stopped = False
            stop_sandbox, list_containers = runtime.stop_sandbox, runtime.list_containers

            async def stop_then_arm(*args, **kwargs):
                nonlocal stopped
                await stop_sandbox(*args, **kwargs)
                stopped = True  # the worker's kill is past stopping

            async def removed_meanwhile(*args, **kwargs):
                found = await list_containers(*args, **kwargs)
                if stopped and (args or [kwargs.get("labels")])[0] == {labels.POD_UID: uid}:
                    worker.removed()  # the watch's DELETED, while the worker awaited
                return found

            runtime.stop_sandbox = stop_then_arm
            runtime.list_containers = removed_meanwhile
            await client.pods.delete("raced", "default", grace_period_seconds=5)

            async def finished():
                return uid not in agent.workers

            await eventually(finished, "the worker done with the pod")
    finally:
        logger.remove(sink)
        logger.disable("navarch")
    assert not [e for e in errors if "pod sync failed" in e], errors


def _as_dict(obj):
    return obj if isinstance(obj, dict) else api.dump(obj)
