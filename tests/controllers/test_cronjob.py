"""The CronJob controller's sync against a fake cluster with a fake clock (issue 23
item 5): Jobs named for their scheduled minute with the scheduled-timestamp
annotation, made once (AlreadyExists from another leader is success), the time zone,
concurrencyPolicy Allow/Forbid/Replace, missed runs (only the most recent started; too
many said so; startingDeadlineSeconds), the active list and lastSuccessfulTime, history
limits; and a schedule that does not parse refused naming the field."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from navarch import api
from navarch.api.batch_v1 import CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION
from navarch.api.timefmt import rfc3339
from navarch.controllers.cronjob import CronJobController
from navarch.controllers.owners import owner_reference
from navarch.resources.core.batch import CRONJOBS
from navarch.testing.controllers import FakeCluster

# 2023-11-14T22:00:00Z, on a whole hour
T0 = 1_700_000_000.0 - 1_700_000_000.0 % 3600


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def cronjob_body(schedule: str = "*/5 * * * *", created: float = T0, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {
            "name": "tick",
            "namespace": "default",
            "uid": str(uuid.uuid4()),
            "creationTimestamp": rfc3339(created),
        },
        "spec": {
            "schedule": schedule,
            **spec,
            "jobTemplate": {
                "metadata": {"labels": {"app": "tick"}},
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "OnFailure",
                            "containers": [{"name": "c", "image": "127.0.0.1:5000/tick:1"}],
                        }
                    }
                },
            },
        },
    }
    CRONJOBS.strategy.default(body)
    api.load(dict(body))  # valid
    return body


def setup(clock: Clock, **spec: Any) -> tuple[FakeCluster, CronJobController]:
    cluster = FakeCluster()
    cluster.add(cronjob_body(**spec))
    return cluster, CronJobController(cluster.context("cronjob"), clock=clock)


async def sync(controller: CronJobController, cluster: FakeCluster) -> float | None:
    again = await controller.sync("default/tick")
    cluster.sync_informers()
    return again


def jobs(cluster: FakeCluster) -> list[dict[str, Any]]:
    return cluster.stored("jobs", "default")


def status(cluster: FakeCluster) -> dict[str, Any]:
    found = cluster.get("cronjobs", "tick")
    assert found is not None
    return found.get("status") or {}


def reasons(cluster: FakeCluster) -> list[str]:
    return [e.get("reason") for e in cluster.stored("events")]


def finish_job(cluster: FakeCluster, name: str, kind: str, at: float) -> None:
    job = cluster.get("jobs", name)
    assert job is not None
    job["status"] = {
        "startTime": rfc3339(at - 30),
        "conditions": [{"type": kind, "status": "True", "lastTransitionTime": rfc3339(at)}],
        **({"completionTime": rfc3339(at)} if kind == "Complete" else {}),
    }
    job["metadata"]["resourceVersion"] += "0"
    cluster.sync_informers()


async def test_a_job_is_made_at_each_scheduled_minute_once() -> None:
    clock = Clock(T0 + 4 * 60)
    cluster, controller = setup(clock)
    again = await sync(controller, cluster)
    assert jobs(cluster) == []
    assert again is not None and 60 <= again <= 61  # looks again at T0+5m

    clock.now = T0 + 5 * 60 + 3
    again = await sync(controller, cluster)
    (job,) = jobs(cluster)
    scheduled = T0 + 5 * 60
    assert job["metadata"]["name"] == f"tick-{int(scheduled // 60)}"
    assert job["metadata"]["annotations"][CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION] == rfc3339(
        scheduled
    )
    assert job["metadata"]["labels"] == {"app": "tick"}
    ref = job["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["controller"]) == ("CronJob", "tick", True)
    st = status(cluster)
    assert st["lastScheduleTime"] == rfc3339(scheduled)
    assert [a["name"] for a in st["active"]] == [job["metadata"]["name"]]
    assert again is not None and 296 <= again <= 298
    assert "SuccessfulCreate" in reasons(cluster)

    await sync(controller, cluster)  # the same minute again: nothing more
    assert len(jobs(cluster)) == 1


async def test_another_leaders_job_of_the_same_run_is_taken_as_made() -> None:
    """A controller manager that took over with a status not showing the run (the
    former leader made the Job, then stopped) gets AlreadyExists: no error, no
    second Job, the run recorded."""
    clock = Clock(T0 + 5 * 60)
    cluster, first = setup(clock)
    await sync(first, cluster)
    stored = cluster.get("cronjobs", "tick")
    assert stored is not None
    stored["status"] = {}  # the status write was lost with the former leader
    stored["metadata"]["resourceVersion"] += "0"
    cluster.sync_informers()
    second = CronJobController(cluster.context("cronjob"), clock=clock)
    await sync(second, cluster)
    assert len(jobs(cluster)) == 1
    creates = [a for a in cluster.actions if a.verb == "create" and a.resource == "jobs"]
    assert len(creates) == 1  # the fake refused the second create before recording it
    assert status(cluster)["lastScheduleTime"] == rfc3339(T0 + 5 * 60)
    assert len(status(cluster)["active"]) == 1


async def test_the_schedule_is_read_in_the_time_zone() -> None:
    # 09:00 in Tokyo is 00:00 UTC
    midnight = T0 - T0 % 86400 + 86400
    clock = Clock(midnight + 30)
    cluster, controller = setup(
        clock, schedule="0 9 * * *", timeZone="Asia/Tokyo", created=midnight - 3600
    )
    await sync(controller, cluster)
    (job,) = jobs(cluster)
    stamp = job["metadata"]["annotations"][CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION]
    assert dt.datetime.fromisoformat(stamp).utcoffset() == dt.timedelta(hours=9)
    assert dt.datetime.fromisoformat(stamp).timestamp() == midnight


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("Allow", 2), ("Forbid", 1), ("Replace", 1)],
)
async def test_concurrency_policy(policy: str, expected: int) -> None:
    clock = Clock(T0 + 5 * 60)
    cluster, controller = setup(clock, concurrencyPolicy=policy)
    await sync(controller, cluster)
    (first,) = jobs(cluster)
    clock.now = T0 + 10 * 60
    await sync(controller, cluster)
    names = [j["metadata"]["name"] for j in jobs(cluster)]
    assert len(names) == expected
    active = [a["name"] for a in status(cluster)["active"]]
    if policy == "Replace":
        assert names == [f"tick-{int((T0 + 600) // 60)}"]  # the first one deleted
        assert active == names
    elif policy == "Forbid":
        assert names == [first["metadata"]["name"]]
        assert status(cluster)["lastScheduleTime"] == rfc3339(T0 + 300)  # not run
        assert "JobAlreadyActive" in reasons(cluster)
        # once the first is done, the skipped run starts (no deadline: still due)
        finish_job(cluster, names[0], "Complete", T0 + 11 * 60)
        clock.now = T0 + 11 * 60
        await sync(controller, cluster)
        assert len(jobs(cluster)) == 2
    else:
        assert len(active) == 2


async def test_only_the_most_recent_missed_run_starts_and_too_many_are_reported() -> None:
    clock = Clock(T0 + 200 * 60 + 10)  # 200 minutes without a run
    cluster, controller = setup(clock, schedule="* * * * *")
    await sync(controller, cluster)
    (job,) = jobs(cluster)
    assert job["metadata"]["name"] == f"tick-{int((T0 + 200 * 60) // 60)}"
    assert "TooManyMissedTimes" in reasons(cluster)
    (event,) = [e for e in cluster.stored("events") if e["reason"] == "TooManyMissedTimes"]
    assert event["message"] == (
        "too many missed start times: 200. Set or decrease .spec.startingDeadlineSeconds "
        "or check clock skew"
    )


async def test_a_run_missed_by_more_than_the_starting_deadline_is_skipped() -> None:
    clock = Clock(T0 + 5 * 60 + 45)
    cluster, controller = setup(clock, startingDeadlineSeconds=30)
    again = await sync(controller, cluster)
    assert jobs(cluster) == []  # 45 s late, 30 allowed
    assert again is not None
    assert "TooManyMissedTimes" not in reasons(cluster)
    clock.now = T0 + 10 * 60 + 20
    await sync(controller, cluster)
    assert [j["metadata"]["name"] for j in jobs(cluster)] == [f"tick-{int((T0 + 600) // 60)}"]


async def test_suspended_makes_nothing() -> None:
    clock = Clock(T0 + 5 * 60)
    cluster, controller = setup(clock, suspend=True)
    assert await sync(controller, cluster) is None
    assert jobs(cluster) == [] and "lastScheduleTime" not in status(cluster)


async def test_finished_jobs_leave_the_active_list_and_history_is_limited() -> None:
    clock = Clock(T0)
    cluster, controller = setup(
        clock, schedule="* * * * *", successfulJobsHistoryLimit=2, failedJobsHistoryLimit=1
    )
    for minute in range(1, 6):
        clock.now = T0 + minute * 60
        await sync(controller, cluster)
        name = f"tick-{int(clock.now // 60)}"
        finish_job(cluster, name, "Failed" if minute in (1, 2) else "Complete", clock.now + 30)
    clock.now = T0 + 5 * 60 + 40
    await sync(controller, cluster)
    await sync(controller, cluster)
    left = sorted(j["metadata"]["name"] for j in jobs(cluster))
    minute = int(T0 // 60)
    # failed: minutes 1, 2 (keep 1); complete: 3, 4, 5 (keep 2)
    assert left == [f"tick-{minute + m}" for m in (2, 4, 5)]
    st = status(cluster)
    assert "active" not in st
    assert st["lastSuccessfulTime"] == rfc3339(T0 + 5 * 60 + 30)
    assert "SawCompletedJob" in reasons(cluster)


async def test_a_job_made_by_hand_from_the_cronjob_is_left_alone() -> None:
    """``kubectl create job --from=cronjob/tick`` makes a Job owned by the CronJob; the
    controller does not count it as a run (Kubernetes neither)."""
    clock = Clock(T0 + 60)
    cluster, controller = setup(clock)
    cronjob = api.load(dict(cluster.get("cronjobs", "tick")), defaults=False).obj  # type: ignore[arg-type]
    cluster.add(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": "by-hand",
                "namespace": "default",
                "annotations": {"cronjob.kubernetes.io/instantiate": "manual"},
                "ownerReferences": [owner_reference(cronjob)],
            },
            "spec": {},
        }
    )
    await sync(controller, cluster)
    assert "active" not in status(cluster)
    assert [j["metadata"]["name"] for j in jobs(cluster)] == ["by-hand"]


@pytest.mark.parametrize(
    ("schedule", "zone", "field"),
    [
        ("every minute", None, "spec.schedule"),
        ("* * * * * *", None, "spec.schedule"),
        ("61 * * * *", None, "spec.schedule"),
        ("@every 5m", None, "spec.schedule"),
        ("TZ=UTC * * * * *", None, "spec.schedule"),
        # croniter reads these, Kubernetes' parser (robfig/cron) refuses them
        ("0 0 * * 7", None, "spec.schedule"),
        ("5-1 * * * *", None, "spec.schedule"),
        ("0 0 * jan-dec/0 *", None, "spec.schedule"),
        ("@hourly", "Mars/Olympus", "spec.timeZone"),
        ("@hourly", "Local", "spec.timeZone"),
    ],
)
def test_a_schedule_or_zone_that_does_not_parse_is_refused(
    schedule: str, zone: str | None, field: str
) -> None:
    body = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "bad", "namespace": "default"},
        "spec": {
            "schedule": schedule,
            **({"timeZone": zone} if zone else {}),
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "c", "image": "127.0.0.1:5000/x:1"}],
                        }
                    }
                }
            },
        },
    }
    with pytest.raises(api.InvalidObject) as caught:
        api.load(body)
    problems = {e.path: e.message for e in caught.value.errors}
    assert field in problems, problems
    if field == "spec.schedule":
        assert "unparseable schedule" in problems[field]


def test_the_macros_are_accepted() -> None:
    for macro in ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"):
        api.load(cronjob_body(schedule=macro))


def test_schedules_kubernetes_accepts_are_accepted() -> None:
    for schedule in (
        "*/15 9-17 * * MON-FRI",
        "0 0 1,15 * sun",
        "0 0 ? * *",
        "5/10 * * * *",
        "0 12 1 jan-dec/3 *",
        "0 0 29 2 *",
        "59 23 31 12 6",
    ):
        api.load(cronjob_body(schedule=schedule))


async def test_a_schedule_that_never_fires_is_reported_and_the_rest_of_the_sync_done() -> None:
    """``0 0 30 2 *`` (February 30th) parses, as robfig/cron's ParseStandard accepts it,
    but has no time: Kubernetes records InvalidSchedule and still reconciles the active
    list and the history. It crashed the sync (croniter's CroniterBadDateError) before
    the status was written, retried for ever."""
    clock = Clock(T0)
    cluster, controller = setup(clock, schedule="* * * * *", successfulJobsHistoryLimit=0)
    clock.now = T0 + 60
    await sync(controller, cluster)
    made = f"tick-{int(clock.now // 60)}"
    assert [j["metadata"]["name"] for j in jobs(cluster)] == [made]
    finish_job(cluster, made, "Complete", clock.now + 30)
    cronjob = cluster.get("cronjobs", "tick")
    assert cronjob is not None
    cronjob["spec"]["schedule"] = "0 0 30 2 *"
    cronjob["metadata"]["resourceVersion"] += "0"
    cluster.sync_informers()
    clock.now = T0 + 10 * 24 * 3600
    assert await sync(controller, cluster) is None  # nothing to wait for
    assert "InvalidSchedule" in reasons(cluster)
    assert "active" not in status(cluster)  # the finished run left the active list
    assert status(cluster)["lastSuccessfulTime"] == rfc3339(T0 + 90)
    await sync(controller, cluster)
    assert jobs(cluster) == []  # history limit 0: the finished Job went


async def test_an_active_job_deleted_by_hand_leaves_the_list_with_missing_job() -> None:
    clock = Clock(T0 + 60)
    cluster, controller = setup(clock, schedule="* * * * *")
    await sync(controller, cluster)
    made = f"tick-{int(clock.now // 60)}"
    assert [ref["name"] for ref in status(cluster)["active"]] == [made]
    del cluster.objects[("jobs", "default", made)]
    cluster.sync_informers()
    clock.now += 10  # still within the same minute: nothing new to run
    await sync(controller, cluster)
    assert "active" not in status(cluster)
    assert "MissingJob" in reasons(cluster)
