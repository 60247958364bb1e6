"""The scheduler's FailedScheduling Events as kubectl reads them: when they happened,
how often, and who reported them -- one Event per pod and reason, counted up."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import shutil
import socket
import subprocess
import time
from typing import Any

import pytest

from tests.scheduler.test_scheduling import node, pod

RFC3339_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


async def failed_scheduling(client, pod_name: str) -> list[dict[str, Any]]:
    """The pod's FailedScheduling Events, as the API server returns them (raw JSON, so
    fields Navarch keeps without acting on, like ``action``, are visible too)."""
    answer = await client.request(
        "GET",
        "/api/v1/namespaces/default/events",
        params={"fieldSelector": f"involvedObject.name={pod_name},reason=FailedScheduling"},
    )
    return list(answer["items"])


async def wait_for_event(client, pod_name: str, until, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        events = await failed_scheduling(client, pod_name)
        matching = [e for e in events if until(e)]
        if matching:
            return matching[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no FailedScheduling event for {pod_name} as expected: {events}")
        await asyncio.sleep(0.1)


def parse(timestamp: str) -> dt.datetime:
    assert RFC3339_SECONDS.match(timestamp), timestamp
    return dt.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


async def test_failed_scheduling_event_carries_times_count_and_reporter(client, start_scheduler):
    await client.nodes.create(node("ev-small-1", cpu="1"))
    await start_scheduler()
    await client.pods.create(pod("ev-huge", cpu="8"), namespace="default")

    event = await wait_for_event(client, "ev-huge", lambda e: True)
    first = parse(event["firstTimestamp"])
    assert abs(dt.datetime.now(dt.UTC) - first) < dt.timedelta(minutes=10)
    assert event["lastTimestamp"] == event["firstTimestamp"]
    assert event["count"] == 1
    assert event["type"] == "Warning"
    assert event["action"] == "Scheduling"
    assert event["source"] == {"component": "default-scheduler"}
    assert event["reportingComponent"] == "default-scheduler"
    assert event["reportingInstance"] == socket.gethostname()
    assert event["message"] == "0/1 nodes are available: 1 Insufficient cpu."
    uid = (await client.pods.get("ev-huge", "default")).metadata.uid
    assert event["involvedObject"]["uid"] == uid

    # Another node that is still too small: the pod is tried again for the same reason,
    # and the same Event is counted up instead of a second one being made.
    await client.nodes.create(node("ev-small-2", cpu="1"))
    again = await wait_for_event(client, "ev-huge", lambda e: e["count"] >= 2)
    assert again["metadata"]["name"] == event["metadata"]["name"]
    assert again["firstTimestamp"] == event["firstTimestamp"]
    assert parse(again["lastTimestamp"]) >= first
    assert again["message"] == "0/2 nodes are available: 2 Insufficient cpu."
    assert len(await failed_scheduling(client, "ev-huge")) == 1

    # The Event was deleted (or expired): the next attempt starts a new one.
    await client.events.delete(event["metadata"]["name"], "default")
    await client.nodes.create(node("ev-small-3", cpu="1"))
    fresh = await wait_for_event(client, "ev-huge", lambda e: True)
    assert fresh["metadata"]["name"] != event["metadata"]["name"]
    assert fresh["count"] >= 1 and fresh["message"].startswith("0/3 nodes are available")


async def test_kubectl_shows_when_the_scheduler_failed(
    client, start_scheduler, api_server, tmp_path
):
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.fail("kubectl is not installed on this machine; this test needs it")
    base = [binary, "--kubeconfig", str(api_server.kubeconfig), "--cache-dir", str(tmp_path)]

    async def kubectl(*args: str) -> str:
        result = await asyncio.to_thread(
            subprocess.run, [*base, *args], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    await client.nodes.create(node("ev-tiny", cpu="1"))
    await start_scheduler()
    await client.pods.create(pod("ev-stuck", cpu="8"), namespace="default")
    await wait_for_event(client, "ev-stuck", lambda e: True)

    table = await kubectl(
        "get", "events", "--field-selector", "involvedObject.name=ev-stuck,reason=FailedScheduling"
    )
    lines = table.splitlines()
    assert lines[0].split()[:2] == ["LAST", "SEEN"], table
    rows = [line.split() for line in lines[1:]]
    assert len(rows) == 1, table
    assert rows[0][0] != "<unknown>" and re.match(r"^\d+[smhd]", rows[0][0]), table
    assert rows[0][1:4] == ["Warning", "FailedScheduling", "pod/ev-stuck"], table

    described = await kubectl("describe", "pod", "ev-stuck")
    shown = [line.split() for line in described.splitlines() if "FailedScheduling" in line]
    assert len(shown) == 1, described
    kind, reason, age, source = shown[0][:4]
    assert (kind, reason, source) == ("Warning", "FailedScheduling", "default-scheduler")
    assert age != "<unknown>" and re.match(r"^\d+[smhd]", age), described


async def test_a_bound_pod_gets_a_scheduled_event(client, start_scheduler):
    await client.nodes.create(node("ev-roomy", cpu="4"))
    await start_scheduler()
    await client.pods.create(pod("ev-placed", cpu="1"), namespace="default")
    deadline = time.monotonic() + 30
    while True:
        answer = await client.request(
            "GET",
            "/api/v1/namespaces/default/events",
            params={"fieldSelector": "involvedObject.name=ev-placed,reason=Scheduled"},
        )
        if answer["items"] or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    (event,) = answer["items"]
    assert event["message"] == "Successfully assigned default/ev-placed to ev-roomy"
    assert event["type"] == "Normal" and event["source"] == {"component": "default-scheduler"}
