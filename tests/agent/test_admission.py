"""The agent's admission of pods bound to its node (issue 29 item 3): a pod whose
requests do not fit the node is Failed with the kubelet's OutOf<resource> reason and
never started; admitted pods count against the next ones."""

from __future__ import annotations

import pytest

from navarch import api
from navarch.agent.admission import ADMITTED, fits
from navarch.runtime import labels
from navarch.scheduler.nodeinfo import PodRequest
from navarch.testing.images import BUSYBOX_IMAGE
from tests.agent.conftest import build_runtime, eventually, pod_body, running_agent

CAPACITY = {"cpu": "2", "memory": "1Gi", "pods": "110"}


@pytest.fixture
def runtime(tmp_path):
    return build_runtime("sim", {}, tmp_path / "sim")


def as_dict(obj):
    return obj if isinstance(obj, dict) else api.dump(obj)


def asking(name, node, cpu, memory=None):
    requests = {"cpu": cpu, **({"memory": memory} if memory else {})}
    return pod_body(
        name, node, image=BUSYBOX_IMAGE, container={"resources": {"requests": requests}}
    )


async def status_of(client, name):
    return as_dict(await client.pods.get(name, "default")).get("status") or {}


async def phase_is(client, name, phase):
    status = await status_of(client, name)
    return status if status.get("phase") == phase else None


async def test_a_pod_asking_more_cpu_than_the_node_has_is_rejected_and_never_started(
    client, runtime
):
    node = "adm-1"
    async with running_agent(client, runtime, node, capacity=CAPACITY):
        created = as_dict(await client.pods.create(asking("greedy", node, "1000")))
        uid = created["metadata"]["uid"]
        status = await eventually(lambda: phase_is(client, "greedy", "Failed"), "phase Failed")
        assert status["reason"] == "OutOfcpu"
        assert status["message"] == (
            "Pod was rejected: Node didn't have enough resource: cpu, "
            "requested: 1000000, used: 0, capacity: 2000"
        )

        async def warned():
            listed = await client.events.list("default", field_selector=f"involvedObject.uid={uid}")
            found = [as_dict(e) for e in listed.items]
            return [e for e in found if e["reason"] == "OutOfcpu"]

        (event,) = await eventually(warned, "an OutOfcpu Event")
        assert event["type"] == "Warning"
        assert event["message"].startswith("Node didn't have enough resource: cpu")
        # A pod admitted after it runs: the agent went on, and the rejected one never ran.
        await client.pods.create(asking("modest", node, "500m"))
        await eventually(lambda: phase_is(client, "modest", "Running"), "the next pod Running")
        assert await runtime.list_sandboxes({labels.POD_UID: uid}) == []
        assert await runtime.list_containers({labels.POD_UID: uid}) == []
        assert (await status_of(client, "greedy"))["phase"] == "Failed"
        for name in ("greedy", "modest"):
            await client.pods.delete(name, "default", grace_period_seconds=0)


async def test_admitted_pods_count_against_the_next_and_finished_ones_do_not(client, runtime):
    node = "adm-2"
    async with running_agent(client, runtime, node, capacity=CAPACITY):
        await client.pods.create(asking("first", node, "1500m", "512Mi"))
        await eventually(lambda: phase_is(client, "first", "Running"), "first Running")
        await client.pods.create(asking("second", node, "1"))
        status = await eventually(lambda: phase_is(client, "second", "Failed"), "second Failed")
        assert status["reason"] == "OutOfcpu"
        assert "requested: 1000, used: 1500, capacity: 2000" in status["message"]
        await client.pods.create(asking("third", node, "100m", "768Mi"))
        status = await eventually(lambda: phase_is(client, "third", "Failed"), "third Failed")
        assert status["reason"] == "OutOfmemory"
        assert f"used: {512 << 20}, capacity: {1 << 30}" in status["message"]
        # Once the first pod finished, its requests are free again.
        await client.pods.delete("first", "default", grace_period_seconds=0)

        async def gone():
            listed = await client.pods.list("default", field_selector="metadata.name=first")
            return not listed.items

        await eventually(gone, "the first pod gone")
        await client.pods.create(asking("fourth", node, "1500m"))
        await eventually(lambda: phase_is(client, "fourth", "Running"), "fourth Running")
        for name in ("second", "third", "fourth"):
            await client.pods.delete(name, "default", grace_period_seconds=0)


def request(cpu=0, memory=0):
    return PodRequest("ns/p", cpu, memory, "")


def test_fits_names_the_first_resource_short_pods_then_cpu_then_memory():
    allocatable = {"cpu": "2", "memory": "1Gi", "pods": "2"}
    assert fits(request(2000, 1 << 30), [], allocatable) == ADMITTED
    assert fits(request(), [request(2000, 1 << 30)], allocatable) == ADMITTED  # asks nothing
    full = fits(request(), [request(), request()], allocatable)
    assert (full.reason, full.message) == (
        "OutOfpods",
        "Node didn't have enough resource: pods, requested: 1, used: 2, capacity: 2",
    )
    both = fits(request(1001, 2 << 30), [request(1000)], allocatable)
    assert both.reason == "OutOfcpu"
    memory = fits(request(1, (1 << 30) + 1), [], allocatable)
    assert memory.reason == "OutOfmemory"
    assert memory.message.endswith(f"requested: {(1 << 30) + 1}, used: 0, capacity: {1 << 30}")
