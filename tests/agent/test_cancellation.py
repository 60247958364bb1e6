"""Cancellation in the agent, as the kubelet's pod workers do it (issue 21 item 4), on
the simulated runtime with the agent in this process:

* a pod deleted while its image is being pulled: the pull is left to finish, but the
  pod's sync is cancelled — its container is never created nor started from the
  worker's stale copy — whether the deletion is graceful (a deletionTimestamp) or
  the object is gone at once (the sync's snapshot is never mixed with the live None);
* a container removed from the runtime behind the agent's back wakes its worker at
  the next relist (the pod resync is an hour here: only the relist can);
* once a pod is gone, nothing the agent kept about it remains."""

from __future__ import annotations

import asyncio
from typing import Any

import attrs
import pytest
from loguru import logger

from navarch import api
from navarch.runtime import ContainerState, labels
from tests.agent.conftest import FAST, build_runtime, eventually, pod_body, running_agent

# An hour between resyncs: whatever the worker does sooner, something woke it.
NO_RESYNC = attrs.evolve(FAST, pod_resync_seconds=3600.0)
SLOW_IMAGE = "127.0.0.1:5000/slow-pull:1"  # the simulator makes up any image it pulls


@pytest.fixture
def runtime(tmp_path):
    return build_runtime("sim", {}, tmp_path / "sim")


def as_dict(obj: Any) -> dict[str, Any]:
    return obj if isinstance(obj, dict) else api.dump(obj)


@pytest.fixture
def errors():
    """ERROR log lines of the agent while the test runs."""
    seen: list[str] = []
    logger.enable("navarch")  # the library is quiet unless asked (navarch/__init__.py)
    sink = logger.add(lambda message: seen.append(str(message)), level="ERROR")
    yield seen
    logger.remove(sink)
    logger.disable("navarch")


class HeldPulls:
    """The runtime's pulls, held until released; and every container created."""

    def __init__(self, runtime: Any):
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.created: list[str] = []  # pod uids
        pull, create = runtime.pull_image, runtime.create_container

        async def held_pull(image: str, *args: Any, **kwargs: Any) -> Any:
            self.started.set()
            await self.release.wait()
            return await pull(image, *args, **kwargs)

        async def recorded_create(sandbox_id: str, config: Any, *args: Any) -> str:
            self.created.append(config.labels.get(labels.POD_UID, ""))
            return await create(sandbox_id, config, *args)

        runtime.pull_image, runtime.create_container = held_pull, recorded_create


@pytest.mark.parametrize("how", ["graceful", "at-once"])
async def test_a_pod_deleted_during_its_image_pull_never_starts(client, runtime, errors, how):
    held = HeldPulls(runtime)
    async with running_agent(client, runtime, f"pull-{how}") as agent:
        body = pod_body("pulled", f"pull-{how}", image=SLOW_IMAGE)
        uid = as_dict(await client.pods.create(body))["metadata"]["uid"]
        await asyncio.wait_for(held.started.wait(), 90)
        worker = agent.workers[uid]
        if how == "graceful":
            await client.pods.delete("pulled", "default", grace_period_seconds=30)

            async def seen() -> bool:
                return worker.pod is not None and bool(worker.pod.metadata.deletion_timestamp)
        else:
            await client.pods.delete("pulled", "default", grace_period_seconds=0)

            async def seen() -> bool:
                return worker.pod is None

        await eventually(seen, "the agent seeing the deletion")
        held.release.set()  # the pull ends: nothing may be started from the stale pod

        async def done() -> bool:
            return uid not in agent.workers

        await eventually(done, "the pod's worker done (its deletion confirmed)")
        assert uid not in {p.metadata.uid for p in (await client.pods.list("default")).items}
    assert held.created.count(uid) == 0, "a container was created for a deleted pod"
    assert not [e for e in errors if "sync failed" in e or "Traceback" in e], errors


async def test_a_pull_other_pods_wait_for_survives_one_pods_deletion(client, runtime):
    """The pull is the agent's, not the cancelled pod's: a second pod waiting for the
    same image still gets it and runs."""
    held = HeldPulls(runtime)
    async with running_agent(client, runtime, "pull-shared") as agent:
        doomed = as_dict(await client.pods.create(pod_body("a", "pull-shared", image=SLOW_IMAGE)))
        await asyncio.wait_for(held.started.wait(), 90)
        await client.pods.create(pod_body("b", "pull-shared", image=SLOW_IMAGE))

        async def both_pulling() -> bool:
            return len(agent.workers) == 2

        await eventually(both_pulling, "both pods' workers")
        await client.pods.delete("a", "default", grace_period_seconds=0)

        async def gone() -> bool:
            return doomed["metadata"]["uid"] not in agent.workers

        await eventually(gone, "the deleted pod's worker done")
        held.release.set()

        async def b_running() -> bool:
            pod = as_dict(await client.pods.get("b", "default"))
            return (pod.get("status") or {}).get("phase") == "Running"

        await eventually(b_running, "pod b Running")


async def test_a_container_removed_behind_the_agents_back_is_restarted_at_the_next_relist(
    client, runtime
):
    async with running_agent(client, runtime, "vanish", NO_RESYNC) as agent:
        body = pod_body("vanishing", "vanish", image="127.0.0.1:5000/web:1")
        uid = as_dict(await client.pods.create(body))["metadata"]["uid"]

        async def running() -> list[Any]:
            found = await runtime.list_containers({labels.POD_UID: uid})
            return [c for c in found if c.state == ContainerState.RUNNING]

        (first,) = await eventually(running, "the pod's container running")
        looked = agent.relists + 2  # one relist begun after the container ran, finished

        async def relisted() -> bool:
            return agent.relists >= looked

        await eventually(relisted, "the relist to have seen the container")
        await runtime.remove_container(first.id)  # gone, without an exit the relist sees

        async def replaced() -> bool:
            return any(c.id != first.id for c in await running())

        await eventually(replaced, "a new container started for the pod")


async def test_nothing_of_a_deleted_pod_is_kept(client, runtime):
    async with running_agent(client, runtime, "forget") as agent:
        probe = {"exec": {"command": ["true"]}, "periodSeconds": 1}
        body = pod_body(
            "forgotten", "forget", image="127.0.0.1:5000/web:1", container={"readinessProbe": probe}
        )
        pod = await client.pods.create(body)
        uid = pod.metadata.uid

        async def ready() -> bool:
            conditions = (
                (as_dict(await client.pods.get("forgotten", "default"))["status"]).get("conditions")
                or []
            )
            return {"type": "Ready", "status": "True"} in [
                {"type": c["type"], "status": c["status"]} for c in conditions
            ]

        await eventually(ready, "the pod Ready")
        assert {"worker", "probes", "status", "events"} <= set(agent.remembers(pod))
        await client.pods.delete("forgotten", "default", grace_period_seconds=0)

        async def done() -> bool:
            return uid not in agent.workers

        await eventually(done, "the pod's worker done")
        assert agent.remembers(pod) == []


async def test_a_stop_left_behind_by_a_failed_shorter_stop_is_not_left_unretrieved(client, runtime):
    """The runtime goes away while a pod stops: the stop with the shortened grace period
    fails and the sync leaves; the first stop, still running, fails later — its failure
    must not be left for asyncio to report as never retrieved (seen in CI with docker)."""
    import gc

    from navarch.runtime import Unavailable

    gate = asyncio.Event()
    calls: list[float] = []

    async def failing_stop(container_id: str, grace: float) -> None:
        calls.append(grace)
        if len(calls) == 1:
            await gate.wait()  # the first stop hangs until the runtime "dies"
        raise Unavailable("sim: the runtime went away")

    loop = asyncio.get_running_loop()
    reported: list[str] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context["message"]))
    try:
        async with running_agent(client, runtime, "stop-left") as agent:
            body = pod_body("stopping", "stop-left", image="127.0.0.1:5000/web:1")
            uid = as_dict(await client.pods.create(body))["metadata"]["uid"]

            async def running() -> bool:
                pod = as_dict(await client.pods.get("stopping", "default"))
                return (pod.get("status") or {}).get("phase") == "Running"

            await eventually(running, "the pod Running")
            runtime.stop_container = failing_stop
            await client.pods.delete("stopping", "default", grace_period_seconds=30)

            async def first_stop() -> bool:
                return len(calls) >= 1

            await eventually(first_stop, "the first stop under way")
            await client.pods.delete("stopping", "default", grace_period_seconds=1)

            async def second_stop() -> bool:
                return len(calls) >= 2

            await eventually(second_stop, "the shortened stop tried (and failed)")
            gate.set()  # now the first stop fails too
            for _ in range(20):  # let it finish and its task be dropped
                await asyncio.sleep(0.05)
            gc.collect()
            assert uid in agent.workers  # the pod is not stopped yet: the worker retries
    finally:
        gc.collect()
        loop.set_exception_handler(previous)
    assert not [m for m in reported if "never retrieved" in m], reported
