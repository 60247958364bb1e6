"""The event recorder under concurrency: records of one reason about one object at
the same time (a controller creating a batch of pods) make one Event, counted up
once per record, the records that came while it was being written written together;
an object whose name leaves no room for the Event name's suffix still gets Events."""

from __future__ import annotations

import asyncio
import uuid

from navarch.api import load
from navarch.api.names import DNS1123_SUBDOMAIN_MAX, dns1123_subdomain
from navarch.client import Client
from navarch.client.events import EventRecorder, event_name
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


def test_an_event_is_named_after_its_object_and_time_unless_that_is_too_long() -> None:
    assert event_name("web-1", 0x17F3A2B4C5D6E7F8) == "web-1.17f3a2b4c5d6e7f8"
    longest = "e" * DNS1123_SUBDOMAIN_MAX
    # client-go's GenerateEventName: the name would overflow, so a UUID instead
    first, second = event_name(longest, 1), event_name(longest, 1)
    assert dns1123_subdomain(first) == [] and first != second
    assert str(uuid.UUID(first)) == first


async def test_an_object_with_the_longest_name_gets_its_events(client: Client) -> None:
    """issue 29 item 6: a pod named with 253 characters got no Events (their names
    overflowed, the API server refused them, the recorder only logged at DEBUG)."""
    name = "e" * DNS1123_SUBDOMAIN_MAX
    pod = await client.pods.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "127.0.0.1:5000/a:1"}]},
        },
        namespace="default",
    )
    recorder = EventRecorder(client, "test-recorder", "test")
    await recorder.record(pod, "Warning", "FailedScheduling", "no nodes available")
    await recorder.record(pod, "Warning", "FailedScheduling", "still no nodes")
    events = [
        event
        for event in (await client.events.list("default")).items
        if event.involved_object.name == name
    ]
    assert len(events) == 1
    assert events[0].count == 2 and events[0].message == "still no nodes"
    assert events[0].involved_object.uid == pod.metadata.uid
