"""The jobs and cronjobs Table cells as kubectl prints them (issue 23 items 4 and 5):
a Job's STATUS by condition, COMPLETIONS for fixed counts and work queues, DURATION
from startTime to completionTime (or now); a CronJob's TIMEZONE, SUSPEND, ACTIVE and
LAST SCHEDULE; the wide CONTAINERS IMAGES SELECTOR."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from navarch.printers.batch import CRONJOB_PRINTER, JOB_PRINTER, cronjob_cells, job_cells

NOW = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
TEMPLATE = {"spec": {"containers": [{"name": "a", "image": "i:1"}, {"name": "b", "image": "j:2"}]}}


def _job(spec: dict[str, Any], status: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "work", "creationTimestamp": "2026-01-01T11:00:00Z", **meta},
        "spec": {"template": TEMPLATE, "selector": {"matchLabels": {"x": "y"}}, **spec},
        "status": status,
    }


def _true(kind: str) -> dict[str, str]:
    return {"type": kind, "status": "True"}


def test_the_columns_are_kubectls() -> None:
    assert [c.name for c in JOB_PRINTER.columns] == [
        "Name", "Status", "Completions", "Duration", "Age", "Containers", "Images", "Selector",
    ]  # fmt: skip
    assert [c.name for c in CRONJOB_PRINTER.columns] == [
        "Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age",
        "Containers", "Images", "Selector",
    ]  # fmt: skip
    assert [c.priority for c in JOB_PRINTER.columns][-3:] == [1, 1, 1]


@pytest.mark.parametrize(
    ("conditions", "meta", "shown"),
    [
        ([_true("Complete"), _true("SuccessCriteriaMet")], {}, "Complete"),
        ([_true("FailureTarget"), _true("Failed")], {}, "Failed"),
        ([], {"deletionTimestamp": "2026-01-01T11:59:00Z"}, "Terminating"),
        ([_true("Suspended")], {}, "Suspended"),
        ([_true("FailureTarget")], {}, "FailureTarget"),
        ([_true("SuccessCriteriaMet")], {}, "SuccessCriteriaMet"),
        ([{"type": "Suspended", "status": "False"}], {}, "Running"),
    ],
)
def test_a_jobs_status(conditions: list[dict[str, str]], meta: dict[str, Any], shown: str) -> None:
    assert job_cells(_job({}, {"conditions": conditions}, **meta), NOW)[1] == shown


def test_completions_and_duration() -> None:
    done = _job(
        {"completions": 6, "parallelism": 2},
        {
            "succeeded": 6,
            "startTime": "2026-01-01T11:00:00Z",
            "completionTime": "2026-01-01T11:02:05Z",
        },
    )
    assert job_cells(done, NOW)[1:5] == ["Running", "6/6", "2m5s", "60m"]
    queue = _job({"parallelism": 3}, {"startTime": "2026-01-01T11:59:30Z"})
    assert job_cells(queue, NOW)[2:4] == ["0/1 of 3", "30s"]
    assert job_cells(_job({"parallelism": 1}, {}), NOW)[2:4] == ["0/1", ""]
    assert job_cells(done, NOW)[5:] == ["a,b", "i:1,j:2", "x=y"]


def test_a_cronjobs_cells() -> None:
    cronjob = {
        "metadata": {"name": "tick", "creationTimestamp": "2026-01-01T10:00:00Z"},
        "spec": {
            "schedule": "*/5 * * * *",
            "timeZone": "Europe/Paris",
            "suspend": False,
            "jobTemplate": {"spec": {"template": TEMPLATE}},
        },
        "status": {
            "active": [{"name": "tick-1"}, {"name": "tick-2"}],
            "lastScheduleTime": "2026-01-01T11:55:00Z",
        },
    }
    assert cronjob_cells(cronjob, NOW) == [
        "tick", "*/5 * * * *", "Europe/Paris", "False", 2, "5m", "120m", "a,b", "i:1,j:2", "<none>",
    ]  # fmt: skip
    bare = {"metadata": {"name": "t"}, "spec": {"schedule": "@hourly", "suspend": True}}
    assert cronjob_cells(bare, NOW)[2:6] == ["<none>", "True", 0, "<none>"]
