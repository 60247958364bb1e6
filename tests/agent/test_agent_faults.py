"""Faults and probes, on the simulated runtime: pulls that fail, processes that cannot
start, a container killed from outside, the runtime daemon down, readiness and
liveness probes."""

from __future__ import annotations

import asyncio

from navarch import api
from navarch.runtime import ContainerState, labels
from navarch.testing.images import BUSYBOX_IMAGE
from tests.agent.conftest import DEADLINE, build_runtime, eventually, pod_body, running_agent

BROKEN = "127.0.0.1:5000/navarch-test/unpullable:1"


def as_dict(obj):
    return obj if isinstance(obj, dict) else api.dump(obj)


async def container_status(client, name):
    status = as_dict(await client.pods.get(name, "default")).get("status") or {}
    statuses = status.get("containerStatuses") or []
    return statuses[0] if statuses else None


def waiting_reason(cs):
    return ((cs or {}).get("state", {}).get("waiting") or {}).get("reason")


async def test_unpullable_image_is_err_image_pull_then_image_pull_back_off(client, tmp_path):
    runtime = build_runtime(
        "sim", {"images": {BROKEN: {"pull_error": "manifest unknown: no such tag"}}}, tmp_path
    )
    async with running_agent(client, runtime, "pull-1"):
        created = as_dict(await client.pods.create(pod_body("nopull", "pull-1", image=BROKEN)))
        # Every status the agent wrote, in order, from a watch (no polling race).
        reasons: list[str] = []
        cs = None

        async def watch_until_back_off():
            nonlocal cs
            async for _, pod in client.pods.watch(
                "default",
                resource_version=created["metadata"]["resourceVersion"],
                field_selector="metadata.name=nopull",
            ):
                statuses = (as_dict(pod).get("status") or {}).get("containerStatuses") or []
                reason = waiting_reason(statuses[0] if statuses else None)
                if reason and (not reasons or reasons[-1] != reason):
                    reasons.append(reason)
                if reason == "ImagePullBackOff":
                    cs = statuses[0]
                    return

        await asyncio.wait_for(watch_until_back_off(), DEADLINE)
        assert reasons[:2] == ["ErrImagePull", "ImagePullBackOff"], reasons
        assert "manifest unknown: no such tag" in cs["state"]["waiting"]["message"]
        assert as_dict(await client.pods.get("nopull", "default"))["status"]["phase"] == "Pending"
        await client.pods.delete("nopull", "default", grace_period_seconds=0)


async def test_a_process_that_cannot_start_is_run_container_error(client, tmp_path):
    runtime = build_runtime("sim", {}, tmp_path)
    async with running_agent(client, runtime, "start-1"):
        body = pod_body(
            "nostart",
            "start-1",
            image=BUSYBOX_IMAGE,
            metadata={"annotations": {"sim.navarch.io/start-error": 'exec: "nosuch": not found'}},
        )
        await client.pods.create(body)

        async def run_container_error():
            cs = await container_status(client, "nostart")
            return cs if waiting_reason(cs) == "RunContainerError" else None

        cs = await eventually(run_container_error, "RunContainerError")
        assert 'exec: "nosuch": not found' in cs["state"]["waiting"]["message"]
        await client.pods.delete("nostart", "default", grace_period_seconds=0)


async def test_a_container_killed_from_outside_is_restarted(client, tmp_path):
    runtime = build_runtime("sim", {}, tmp_path)
    async with running_agent(client, runtime, "kill-1"):
        await client.pods.create(pod_body("victim", "kill-1", image=BUSYBOX_IMAGE))

        async def running(count=0):
            cs = await container_status(client, "victim")
            return cs if cs and "running" in cs["state"] and cs["restartCount"] == count else None

        await eventually(running, "Running")
        (first,) = [
            c
            for c in await runtime.list_containers({labels.POD_NAME: "victim"})
            if c.state == ContainerState.RUNNING
        ]
        runtime.kill_container(first.id)

        async def restarted():
            return await running(1)

        cs = await eventually(restarted, "restartCount 1 and running again")
        assert cs["lastState"]["terminated"]["exitCode"] == 137
        await client.pods.delete("victim", "default", grace_period_seconds=0)


async def test_runtime_down_makes_the_node_not_ready_and_back(client, tmp_path):
    runtime = build_runtime("sim", {}, tmp_path)

    async def ready_condition():
        node = as_dict(await client.nodes.get("down-1"))
        conditions = (node.get("status") or {}).get("conditions") or []
        return next((c for c in conditions if c["type"] == "Ready"), None)

    async with running_agent(client, runtime, "down-1"):

        async def ready(status):
            condition = await ready_condition()
            return condition if condition and condition["status"] == status else None

        await eventually(lambda: ready("True"), "Ready=True")
        runtime.set_unavailable("connection refused: the daemon is stopped")
        condition = await eventually(lambda: ready("False"), "Ready=False")
        assert "connection refused: the daemon is stopped" in condition["message"]
        runtime.set_unavailable(None)
        await eventually(lambda: ready("True"), "Ready=True again")


async def test_readiness_probe_drives_ready(client, tmp_path):
    runtime = build_runtime("sim", {}, tmp_path)
    async with running_agent(client, runtime, "probe-1"):
        body = pod_body(
            "slowready",
            "probe-1",
            image=BUSYBOX_IMAGE,
            metadata={"annotations": {"sim.navarch.io/probe-ok-after": "3"}},
            container={
                "readinessProbe": {
                    "exec": {"command": ["check-ready"]},
                    "periodSeconds": 1,
                    "failureThreshold": 1,
                }
            },
        )
        await client.pods.create(body)
        seen_unready = []

        async def ready():
            cs = await container_status(client, "slowready")
            if cs and "running" in cs["state"] and not cs["ready"]:
                seen_unready.append(cs)
            return cs if cs and cs["ready"] else None

        await eventually(ready, "ready after the probe passes")
        assert seen_unready, "a running container with a failing readiness probe was not unready"
        pod = as_dict(await client.pods.get("slowready", "default"))
        ready_condition = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
        assert ready_condition["status"] == "True"
        await client.pods.delete("slowready", "default", grace_period_seconds=0)


async def test_failing_liveness_probe_restarts_the_container(client, tmp_path):
    runtime = build_runtime("sim", {}, tmp_path)
    async with running_agent(client, runtime, "live-1"):
        body = pod_body(
            "unhealthy",
            "live-1",
            image=BUSYBOX_IMAGE,
            metadata={"annotations": {"sim.navarch.io/probe-exit-code": "1"}},
            container={
                "livenessProbe": {
                    "exec": {"command": ["check-alive"]},
                    "periodSeconds": 1,
                    "failureThreshold": 2,
                }
            },
        )
        await client.pods.create(body)

        async def restarted():
            cs = await container_status(client, "unhealthy")
            return cs if cs and cs["restartCount"] >= 1 else None

        cs = await eventually(restarted, "a restart after the liveness probe failed")
        assert cs["lastState"]["terminated"]["finishedAt"]
        await client.pods.delete("unhealthy", "default", grace_period_seconds=0)


async def test_active_deadline_fails_the_pod(client, tmp_path):
    runtime = build_runtime("sim", {}, tmp_path)
    async with running_agent(client, runtime, "deadline-1"):
        await client.pods.create(
            pod_body("short-lived", "deadline-1", image=BUSYBOX_IMAGE, activeDeadlineSeconds=2)
        )

        async def failed():
            status = as_dict(await client.pods.get("short-lived", "default")).get("status") or {}
            return status if status.get("phase") == "Failed" else None

        status = await eventually(failed, "phase Failed after the deadline")
        assert status["reason"] == "DeadlineExceeded"
        assert "longer than the specified deadline" in status["message"]
        assert "terminated" in status["containerStatuses"][0]["state"]
        await client.pods.delete("short-lived", "default", grace_period_seconds=0)


async def test_a_force_delete_cuts_a_long_grace_period_short(client, tmp_path):
    runtime = build_runtime("sim", {}, tmp_path)
    async with running_agent(client, runtime, "force-1"):
        stubborn = ["sh", "-c", "trap '' TERM; sleep 7200"]  # ignores SIGTERM
        created = await client.pods.create(
            pod_body("stubborn", "force-1", image=BUSYBOX_IMAGE, command=stubborn)
        )
        uid = as_dict(created)["metadata"]["uid"]

        async def running():
            cs = await container_status(client, "stubborn")
            return cs if cs and "running" in cs["state"] else None

        await eventually(running, "Running")
        await client.pods.delete("stubborn", "default", grace_period_seconds=3600)

        async def stopping():
            listed = await client.events.list("default", field_selector=f"involvedObject.uid={uid}")
            return any(as_dict(e)["reason"] == "Killing" for e in listed.items)

        # Killing: the agent is stopping the container, now waiting out the hour
        await eventually(stopping, "a Killing event (the stop with an hour's grace begun)")
        await client.pods.delete("stubborn", "default", grace_period_seconds=0)

        async def gone():
            return not await runtime.list_containers({labels.POD_NAME: "stubborn"})

        # Only a shortened grace period can end it before the hour is up.
        await eventually(gone, "the pod stopped well within its first grace period")


async def test_a_deleted_pod_kept_by_a_finalizer_ends_in_a_terminal_phase(client, tmp_path):
    runtime = build_runtime("sim", {}, tmp_path)
    async with running_agent(client, runtime, "final-1"):
        body = pod_body(
            "kept-by-finalizer",
            "final-1",
            image=BUSYBOX_IMAGE,
            metadata={"finalizers": ["example.com/keep"]},
        )
        await client.pods.create(body)

        async def running():
            cs = await container_status(client, "kept-by-finalizer")
            return cs if cs and "running" in cs["state"] else None

        await eventually(running, "Running")
        await client.pods.delete("kept-by-finalizer", "default", grace_period_seconds=1)

        async def terminal():
            pod = as_dict(await client.pods.get("kept-by-finalizer", "default"))
            phase = (pod.get("status") or {}).get("phase")
            return pod if phase in ("Failed", "Succeeded") else None

        pod = await eventually(terminal, "a terminal phase while the finalizer holds it")
        assert "terminated" in pod["status"]["containerStatuses"][0]["state"]
        await client.pods.patch("kept-by-finalizer", {"metadata": {"finalizers": None}}, "default")


async def test_a_failing_pre_stop_hook_is_reported_and_the_pod_still_stops(client, tmp_path):
    runtime = build_runtime("sim", {}, tmp_path)
    async with running_agent(client, runtime, "hook-1"):
        body = pod_body(
            "hooked",
            "hook-1",
            image=BUSYBOX_IMAGE,
            metadata={"annotations": {"sim.navarch.io/probe-exit-code": "1"}},
            container={"lifecycle": {"preStop": {"exec": {"command": ["drain-connections"]}}}},
        )
        created = as_dict(await client.pods.create(body))

        async def running():
            cs = await container_status(client, "hooked")
            return cs if cs and "running" in cs["state"] else None

        await eventually(running, "Running")
        await client.pods.delete("hooked", "default", grace_period_seconds=5)

        async def hook_failed():
            listed = await client.events.list(
                "default", field_selector=f"involvedObject.uid={created['metadata']['uid']}"
            )
            return any(as_dict(e)["reason"] == "FailedPreStopHook" for e in listed.items)

        await eventually(hook_failed, "a FailedPreStopHook event (the hook ran and exited 1)")

        async def gone():
            return not await runtime.list_containers({labels.POD_NAME: "hooked"})

        await eventually(gone, "the pod stopped after its hook")
