"""The agent's status manager against an API server (issue 21 item 2): what it writes
keeps the conditions other writers own, a write racing another writer conflicts and
is merged again, and its own write coming back is no reason to write again."""

from __future__ import annotations

import asyncio
from typing import Any

from navarch import api
from navarch.agent.statusmanager import StatusManager, merge
from tests.agent.conftest import eventually, pod_body

IMAGE = "127.0.0.1:5000/web:1"


def as_dict(obj: Any) -> dict[str, Any]:
    return obj if isinstance(obj, dict) else api.dump(obj)


class Counting:
    """The client the manager uses, counting its status patches."""

    def __init__(self, client: Any):
        self.pods, self._pods, self.patches = self, client.pods, 0

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        return await self._pods.get(*args, **kwargs)

    async def patch(self, *args: Any, **kwargs: Any) -> Any:
        self.patches += 1
        return await self._pods.patch(*args, **kwargs)


def running(ready: str = "True") -> dict[str, Any]:
    conditions = [
        {"type": t, "status": ready, "lastTransitionTime": "2024-01-01T00:00:00Z"}
        for t in ("Initialized", "Ready", "ContainersReady")
    ]
    return {"phase": "Running", "conditions": conditions, "hostIP": "127.0.0.1"}


def test_merge_keeps_the_conditions_others_own_and_transitions_a_changed_one() -> None:
    server = {
        "phase": "Running",
        "nominatedNodeName": "elsewhere",
        "conditions": [
            {"type": "Ready", "status": "False", "lastTransitionTime": "2024-01-02T00:00:00Z"},
            {"type": "DisruptionTarget", "status": "True"},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": "T0"},
        ],
    }
    desired = running()
    desired["conditions"].append({"type": "PodScheduled", "status": "True"})
    merged = merge(server, desired)
    by_type = {c["type"]: c for c in merged["conditions"]}
    assert merged["nominatedNodeName"] == "elsewhere"  # a field the agent never sets
    assert by_type["DisruptionTarget"] == {"type": "DisruptionTarget", "status": "True"}
    assert by_type["PodScheduled"]["lastTransitionTime"] == "T0"  # the scheduler's
    assert by_type["Ready"]["status"] == "True"
    assert by_type["Ready"]["lastTransitionTime"] not in (
        "2024-01-01T00:00:00Z",
        "2024-01-02T00:00:00Z",
    )  # it changed on the server: it transitions now
    assert by_type["Initialized"]["lastTransitionTime"] == "2024-01-01T00:00:00Z"


async def test_a_write_racing_another_writer_is_merged_onto_theirs(client) -> None:
    created = await client.pods.create(pod_body("raced-status", "sm-1", image=IMAGE))
    cache: dict[str, Any] = {"default/raced-status": created}  # an informer behind
    counting = Counting(client)
    manager = StatusManager(counting, cache.get, "sm-1", reconcile_seconds=0.2)  # type: ignore[arg-type]
    # Another writer adds its condition after the agent's copy was taken: the agent's
    # write (on the older resourceVersion) conflicts, and is merged again onto theirs.
    theirs = {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByTest"}
    await client.pods.patch(
        "raced-status", {"status": {"conditions": [theirs]}}, "default", subresource="status"
    )
    task = asyncio.create_task(manager.run())
    try:
        manager.set(created, running())

        async def written() -> dict[str, Any] | None:
            status = as_dict(await client.pods.get("raced-status", "default"))["status"]
            types = {c["type"]: c["status"] for c in status.get("conditions") or ()}
            return status if types.get("Ready") == "True" else None

        status = await eventually(written, "the agent's status written")
        assert theirs in [
            {k: c.get(k) for k in ("type", "status", "reason")} for c in status["conditions"]
        ]

        # Another writer marks the pod not Ready (the node-lifecycle controller after a
        # blip): the server's copy shows it, reaching the manager as the watch would.
        conditions = [
            {**c, "status": "False"} if c["type"] == "Ready" else c for c in status["conditions"]
        ]
        changed = await client.pods.patch(
            "raced-status", {"status": {"conditions": conditions}}, "default", subresource="status"
        )
        cache["default/raced-status"] = changed

        async def ready_again() -> bool:
            return bool(await written())

        await eventually(ready_again, "Ready=True written again over the other writer's")
        again = await client.pods.get("raced-status", "default")
        cache["default/raced-status"] = again
        # The agent's own write coming back, looked at again (and by the periodic pass):
        # no write. A later status, written, proves the manager was writing meanwhile.
        patches = counting.patches
        manager.reconcile(again)
        later = running()
        later["hostIP"] = "127.0.0.2"
        manager.set(again, later)

        async def later_written() -> Any:
            pod = await client.pods.get("raced-status", "default")
            return pod if as_dict(pod)["status"].get("hostIP") == "127.0.0.2" else None

        await eventually(later_written, "the later status written")
        assert counting.patches == patches + 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
