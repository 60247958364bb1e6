"""The agent against a real API server, on the simulated runtime (fast, in memory):
registration, heartbeat, running pods, restarts and back-off, completion, deletion,
adoption after a restart, orphans. The same agent on Docker: test_agent_docker.py."""

from __future__ import annotations

import asyncio

import attrs
import pytest

from navarch import api
from navarch.runtime import ContainerConfig, SandboxConfig, labels
from navarch.testing.images import BUSYBOX_IMAGE
from tests.agent.conftest import FAST, build_runtime, eventually, pod_body, running_agent
from tests.agent.looked import relisted, synced

IMAGE = BUSYBOX_IMAGE


@pytest.fixture
def runtime(tmp_path):
    return build_runtime("sim", {}, tmp_path / "sim")


def as_dict(obj):
    return obj if isinstance(obj, dict) else api.dump(obj)


async def pod_status(client, name):
    return as_dict(await client.pods.get(name, "default")).get("status") or {}


async def test_node_registers_with_machine_facts_and_renews_its_lease(client, runtime):
    taints = [{"key": "dedicated", "value": "edge", "effect": "NoSchedule"}]
    async with running_agent(client, runtime, "reg-1", labels={"tier": "edge"}, taints=taints):
        node = as_dict(await eventually(lambda: client.nodes.get("reg-1"), "the Node"))
        meta, status = node["metadata"], node["status"]
        assert meta["labels"]["kubernetes.io/hostname"] == "reg-1"
        assert meta["labels"]["kubernetes.io/os"] == "linux"
        assert meta["labels"]["tier"] == "edge"
        assert node["spec"]["taints"] == taints
        assert status["capacity"]["pods"] == "110"
        assert {"type": "InternalIP", "address": "127.0.0.1"} in status["addresses"]
        assert status["nodeInfo"]["containerRuntimeVersion"].startswith("sim://")

        async def ready():
            conditions = (as_dict(await client.nodes.get("reg-1"))["status"]).get("conditions")
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions or [])

        await eventually(ready, "Ready=True")
        first = as_dict(await client.leases.get("reg-1", "kube-node-lease"))
        assert first["spec"]["holderIdentity"] == "reg-1"

        async def renewed():
            lease = as_dict(await client.leases.get("reg-1", "kube-node-lease"))
            return lease["spec"]["renewTime"] != first["spec"]["renewTime"]

        await eventually(renewed, "a lease renewal")


async def test_a_bound_pod_runs_and_reports_running_and_ready(client, runtime):
    async with running_agent(client, runtime, "run-1"):
        await client.pods.create(pod_body("web", "run-1", image=IMAGE))

        async def running():
            status = await pod_status(client, "web")
            return status if status.get("phase") == "Running" else None

        status = await eventually(running, "phase Running")
        (cs,) = status["containerStatuses"]
        assert "running" in cs["state"] and cs["ready"] is True and cs["restartCount"] == 0
        assert cs["containerID"].startswith("sim://")
        conditions = {c["type"]: c["status"] for c in status["conditions"]}
        assert conditions["Ready"] == "True" and conditions["ContainersReady"] == "True"
        assert status["hostIP"] == "127.0.0.1" and status["startTime"]
        found = await runtime.list_containers({labels.POD_NAME: "web"})
        assert len(found) == 1
        await client.pods.delete("web", "default", grace_period_seconds=0)


async def test_a_crashing_container_restarts_with_crash_loop_back_off(client, runtime):
    async with running_agent(client, runtime, "crash-1"):
        await client.pods.create(
            pod_body("crasher", "crash-1", image=IMAGE, command=["sh", "-c", "exit 3"])
        )
        seen_back_off = asyncio.Event()

        async def restarted_twice():
            status = await pod_status(client, "crasher")
            for cs in status.get("containerStatuses") or []:
                if (cs["state"].get("waiting") or {}).get("reason") == "CrashLoopBackOff":
                    seen_back_off.set()
                if cs["restartCount"] >= 2 and seen_back_off.is_set():
                    return cs
            return None

        cs = await eventually(restarted_twice, "two restarts and CrashLoopBackOff")
        assert cs["lastState"]["terminated"]["exitCode"] == 3
        assert cs["lastState"]["terminated"]["reason"] == "Error"
        # Only the newest instance and the previous one are kept.
        kept = await runtime.list_containers({labels.POD_NAME: "crasher"})
        assert len(kept) <= 2
        await client.pods.delete("crasher", "default", grace_period_seconds=0)


@pytest.mark.parametrize(
    ("name", "script", "phase", "code", "reason"),
    [
        ("done-ok", "exit 0", "Succeeded", 0, "Completed"),
        ("done-bad", "exit 4", "Failed", 4, "Error"),
    ],
)
async def test_a_pod_that_never_restarts_finishes(
    client, runtime, name, script, phase, code, reason
):
    async with running_agent(client, runtime, f"{name}-node"):
        await client.pods.create(
            pod_body(
                name,
                f"{name}-node",
                image=IMAGE,
                command=["sh", "-c", script],
                restartPolicy="Never",
            )
        )

        async def finished():
            status = await pod_status(client, name)
            return status if status.get("phase") == phase else None

        status = await eventually(finished, f"phase {phase}")
        terminated = status["containerStatuses"][0]["state"]["terminated"]
        assert terminated["exitCode"] == code and terminated["reason"] == reason
        ready = next(c for c in status["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "False" and ready["reason"] == "PodCompleted"


async def test_deleting_a_pod_stops_it_and_confirms_the_deletion(client, runtime):
    async with running_agent(client, runtime, "del-1"):
        await client.pods.create(pod_body("doomed", "del-1", image=IMAGE))

        async def running():
            return (await pod_status(client, "doomed")).get("phase") == "Running"

        await eventually(running, "Running")
        await client.pods.delete("doomed", "default", grace_period_seconds=5)

        async def gone():
            try:
                await client.pods.get("doomed", "default")
            except Exception as exc:
                return "NotFound" in type(exc).__name__
            return False

        await eventually(gone, "the pod removed after the agent confirmed")
        assert await runtime.list_containers({labels.POD_NAME: "doomed"}) == []
        assert await runtime.list_sandboxes({labels.POD_NAME: "doomed"}) == []


async def test_a_restarted_agent_adopts_what_runs_instead_of_duplicating(client, runtime):
    async with running_agent(client, runtime, "adopt-1"):
        await client.pods.create(pod_body("kept", "adopt-1", image=IMAGE))

        async def running():
            return (await pod_status(client, "kept")).get("phase") == "Running"

        await eventually(running, "Running")
        before = await runtime.list_containers({labels.POD_NAME: "kept"})
        sandboxes = await runtime.list_sandboxes({labels.POD_NAME: "kept"})
    # The agent is gone; its containers still run. A new agent process adopts them.
    async with running_agent(client, runtime, "adopt-1") as agent:

        async def settled():
            status = await pod_status(client, "kept")
            return status.get("phase") == "Running" and len(agent.workers) == 1

        await eventually(settled, "the pod still Running under the new agent")
        # the new agent synced the pod (where a duplicate would have been started), then
        # relisted twice (where it would have been seen)
        await synced(agent, 1, since=0)
        await relisted(agent)
        after = await runtime.list_containers({labels.POD_NAME: "kept"})
        assert [c.id for c in after] == [c.id for c in before]
        assert await runtime.list_sandboxes({labels.POD_NAME: "kept"}) == sandboxes
        await client.pods.delete("kept", "default", grace_period_seconds=0)


async def test_containers_of_pods_not_bound_here_are_removed(client, runtime):
    node = "orphan-1"
    config = SandboxConfig(
        "ghost",
        "default",
        "uid-ghost",
        labels=labels.sandbox_labels(node, "default", "ghost", "uid-ghost"),
    )
    await runtime.pull_image(IMAGE)
    sandbox = await runtime.create_sandbox(config)
    container = await runtime.create_container(
        sandbox,
        ContainerConfig(
            "main",
            IMAGE,
            command=("sleep", "3600"),
            labels=labels.container_labels(node, "default", "ghost", "uid-ghost", "main", 0),
        ),
        config,
    )
    await runtime.start_container(container)
    async with running_agent(client, runtime, node):

        async def cleaned():
            return not await runtime.list_containers({labels.NODE: node}) and not (
                await runtime.list_sandboxes({labels.NODE: node})
            )

        await eventually(cleaned, "the orphan's container and sandbox removed")


async def test_status_is_written_once_per_change_not_per_sync(client, runtime):
    # a resync every second: the syncs whose status must not be written come soon
    settings = attrs.evolve(FAST, pod_resync_seconds=1.0)
    async with running_agent(client, runtime, "quiet-1", settings) as agent:
        await client.pods.create(pod_body("steady", "quiet-1", image=IMAGE))

        async def running():
            pod = as_dict(await client.pods.get("steady", "default"))
            return pod if (pod.get("status") or {}).get("phase") == "Running" else None

        pod = await eventually(running, "Running")
        version = pod["metadata"]["resourceVersion"]
        await synced(agent, 3)  # the one under way, and two after
        again = as_dict(await client.pods.get("steady", "default"))
        assert again["metadata"]["resourceVersion"] == version
        await client.pods.delete("steady", "default", grace_period_seconds=0)


async def test_init_containers_run_to_completion_before_the_app(client, runtime):
    async with running_agent(client, runtime, "init-1"):
        body = pod_body("initialised", "init-1", image=IMAGE)
        body["spec"]["initContainers"] = [
            {"name": "first", "image": IMAGE, "command": ["sh", "-c", "sleep 1; exit 0"]},
            {"name": "second", "image": IMAGE, "command": ["sh", "-c", "exit 0"]},
        ]
        await client.pods.create(body)
        seen_initialising = []

        async def running():
            status = await pod_status(client, "initialised")
            app = (status.get("containerStatuses") or [{}])[0]
            if (app.get("state", {}).get("waiting") or {}).get("reason") == "PodInitializing":
                seen_initialising.append(status)
            return status if status.get("phase") == "Running" else None

        status = await eventually(running, "Running after both init containers")
        assert seen_initialising, "the app container never waited PodInitializing"
        inits = status["initContainerStatuses"]
        assert [s["state"]["terminated"]["reason"] for s in inits] == ["Completed", "Completed"]
        initialized = next(c for c in status["conditions"] if c["type"] == "Initialized")
        assert initialized["status"] == "True"
        # The second started only after the first had exited.
        first, second = [
            (
                await runtime.list_containers(
                    {labels.POD_NAME: "initialised", labels.CONTAINER_NAME: n}
                )
            )[0]
            for n in ("first", "second")
        ]
        assert second.started_at >= first.finished_at
        await client.pods.delete("initialised", "default", grace_period_seconds=0)


async def test_a_failed_init_container_fails_a_never_restarting_pod(client, runtime):
    async with running_agent(client, runtime, "init-2"):
        body = pod_body("badinit", "init-2", image=IMAGE, restartPolicy="Never")
        body["spec"]["initContainers"] = [
            {"name": "setup", "image": IMAGE, "command": ["sh", "-c", "exit 7"]}
        ]
        await client.pods.create(body)

        async def failed():
            status = await pod_status(client, "badinit")
            return status if status.get("phase") == "Failed" else None

        status = await eventually(failed, "phase Failed")
        assert status["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 7
        assert (
            await runtime.list_containers(
                {labels.POD_NAME: "badinit", labels.CONTAINER_NAME: "main"}
            )
            == []
        )
        initialized = next(c for c in status["conditions"] if c["type"] == "Initialized")
        assert initialized["status"] == "False"
        assert initialized["message"] == "containers with incomplete status: [setup]"


async def test_the_agent_records_events_kubectl_describe_shows(client, runtime):
    async with running_agent(client, runtime, "ev-1"):
        created = await client.pods.create(pod_body("evented", "ev-1", image=IMAGE))
        uid = as_dict(created)["metadata"]["uid"]

        async def events():
            listed = await client.events.list("default", field_selector=f"involvedObject.uid={uid}")
            found = [as_dict(e) for e in listed.items]
            reasons = {e["reason"] for e in found}
            return found if {"Pulled", "Created", "Started"} <= reasons else None

        found = await eventually(events, "Pulled, Created and Started events")
        started = next(e for e in found if e["reason"] == "Started")
        assert started["message"] == "Started container main"
        assert started["source"] == {"component": "navarch-agent", "host": "ev-1"}
        assert started["type"] == "Normal" and started["firstTimestamp"]
        await client.pods.delete("evented", "default", grace_period_seconds=0)


async def test_a_sandbox_without_containers_of_no_pod_here_is_removed(client, runtime):
    node = "orphan-2"
    config = SandboxConfig(
        "empty",
        "default",
        "uid-empty",
        labels=labels.sandbox_labels(node, "default", "empty", "uid-empty"),
    )
    await runtime.create_sandbox(config)
    async with running_agent(client, runtime, node):

        async def cleaned():
            return not await runtime.list_sandboxes({labels.NODE: node})

        await eventually(cleaned, "the orphaned sandbox removed")


def test_taints_are_parsed_with_clear_errors():
    from navarch.agent.node import BadTaint, parse_taint

    assert parse_taint("dedicated=gpu:NoSchedule") == {
        "key": "dedicated",
        "value": "gpu",
        "effect": "NoSchedule",
    }
    assert parse_taint("spot:PreferNoSchedule") == {"key": "spot", "effect": "PreferNoSchedule"}
    with pytest.raises(BadTaint, match="key=value:Effect"):
        parse_taint("dedicated=gpu:Sometimes")


async def test_changing_a_running_pods_image_restarts_its_container(client, runtime):
    async with running_agent(client, runtime, "img-1"):
        await client.pods.create(pod_body("upgraded", "img-1", image=IMAGE))

        async def running(restarts, image):
            status = await pod_status(client, "upgraded")
            for cs in status.get("containerStatuses") or []:
                if "running" in cs["state"] and cs["restartCount"] == restarts:
                    return cs if cs["image"] == image else None
            return None

        await eventually(lambda: running(0, IMAGE), "Running")
        newer = "navarch.test/busybox:2"
        await client.pods.patch(
            "upgraded",
            {"spec": {"containers": [{"name": "main", "image": newer}]}},
            "default",
            patch_type="application/strategic-merge-patch+json",
        )
        cs = await eventually(lambda: running(1, newer), "the new image running, one restart")
        assert cs["lastState"]["terminated"]
        instances = await runtime.list_containers({labels.POD_NAME: "upgraded"})
        assert [i.image for i in instances if i.state.value == "running"] == [newer]
        await client.pods.delete("upgraded", "default", grace_period_seconds=0)
