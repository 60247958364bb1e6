"""The event recorder under concurrency: records of one reason about one object at
the same time (a controller creating a batch of pods) make one Event, counted up
once per record, the records that came while it was being written written together."""

from __future__ import annotations

import asyncio

from navarch.api import load
from navarch.testing.controllers import FakeCluster


async def test_concurrent_records_of_one_reason_make_one_event_counted_up() -> None:
    cluster = FakeCluster()
    events = cluster.client.events
    real_create, real_patch = events.create, events.patch

    async def slow_create(*args, **kwargs):
        await asyncio.sleep(0.01)  # an API round trip: the other records run meanwhile
        return await real_create(*args, **kwargs)

    async def slow_patch(*args, **kwargs):
        await asyncio.sleep(0.01)
        return await real_patch(*args, **kwargs)

    events.create, events.patch = slow_create, slow_patch
    replicaset = load(
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": "web", "namespace": "default", "uid": "rs-1"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}},
        },
        defaults=False,
        check=False,
    ).obj
    recorder = cluster.context("replicaset").recorder
    await asyncio.gather(
        *(
            recorder.record(replicaset, "Normal", "SuccessfulCreate", f"Created pod: web-{i}")
            for i in range(5)
        )
    )
    stored = cluster.stored("events", "default")
    assert len(stored) == 1
    assert stored[0]["count"] == 5
    # written together: the first record's create, then one count-up for the four
    # that came while it was being written
    assert [verb for verb, _, _ in cluster.verbs("events")] == ["create", "patch"]
    assert stored[0]["message"] == "Created pod: web-4"
    assert stored[0]["involvedObject"]["kind"] == "ReplicaSet"
