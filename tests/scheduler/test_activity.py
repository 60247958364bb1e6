"""What the scheduler logs at INFO: a summary per interval, each unschedulable pod once
(rate-limited), never a line per bound pod."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from loguru import logger

from navarch.scheduler.activity import Activity


@contextlib.contextmanager
def captured() -> Iterator[list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []
    sink = logger.add(
        lambda message: records.append(
            {"message": message.record["message"], **message.record["extra"]}
        ),
        level="INFO",
        filter=lambda record: record["extra"].get("component") == "scheduler",
    )
    logger.enable("navarch")
    try:
        yield records
    finally:
        logger.remove(sink)
        logger.disable("navarch")


def test_thousands_of_bound_pods_make_one_summary_line():
    activity = Activity(interval=10)
    with captured() as records:
        for i in range(10_000):
            activity.pod_bound(f"default/p{i}")
        assert activity.summary(pending=5, in_flight=3, nodes=100)
    assert len(records) == 1
    line = records[0]
    assert line["message"] == "scheduling summary"
    assert (line["bound"], line["pending"], line["in_flight"], line["nodes"]) == (10_000, 5, 3, 100)
    assert line["unschedulable"] == 0 and line["binding_failures"] == 0


def test_an_unschedulable_pod_is_logged_once_with_its_reason():
    activity = Activity(interval=10)
    reason = "0/3 nodes are available: 3 Insufficient cpu."
    with captured() as records:
        for _ in range(5):  # retried after back-off and cluster changes
            activity.pod_unschedulable("default/huge", reason)
    assert [(r["message"], r["pod"], r["reason"]) for r in records] == [
        ("pod unschedulable", "default/huge", reason)
    ]
    with captured() as records:
        activity.summary(pending=1, in_flight=0, nodes=3)
    assert records[0]["unschedulable"] == 5
    # Deleted, then created again under the same name: a new pod, logged again.
    activity.pod_gone("default/huge")
    with captured() as records:
        activity.pod_unschedulable("default/huge", reason)
    assert len(records) == 1


def test_pod_lines_are_rate_limited_and_the_rest_counted():
    activity = Activity(interval=10, lines_per_interval=3)
    with captured() as records:
        for i in range(50):
            activity.pod_unschedulable(f"default/p{i}", "0/1 nodes are available: 1 Too many pods.")
        for i in range(5):
            activity.binding_failed(f"default/q{i}", "n1", "409 Conflict")
        activity.summary(pending=50, in_flight=0, nodes=1)
    pod_lines = [r for r in records if r["message"] != "scheduling summary"]
    assert len(pod_lines) == 3
    summary = records[-1]
    assert summary["unlogged"] == 52 and summary["binding_failures"] == 5
    # The next interval may log pod lines again.
    with captured() as records:
        activity.pod_unschedulable("default/new", "0/1 nodes are available: 1 Too many pods.")
    assert len(records) == 1


def test_an_idle_scheduler_stays_quiet():
    activity = Activity(interval=10)
    with captured() as records:
        assert activity.summary(pending=0, in_flight=0, nodes=3)  # the first one says the state
        assert not activity.summary(pending=0, in_flight=0, nodes=3)
        assert not activity.summary(pending=0, in_flight=0, nodes=3)
        assert activity.summary(pending=0, in_flight=0, nodes=4)  # a node joined
        assert activity.summary(pending=0, in_flight=0, nodes=4, force=True)
    assert len(records) == 3
