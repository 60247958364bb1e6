"""Jobs and CronJobs on the API server (issue 23 items 4 and 5): a Job's create gets
Kubernetes' defaults and the generated selector and labels; its status is a
subresource; the selector, completions and the pod template are immutable (but for
the scheduling directives of a suspended Job not yet started); a CronJob whose schedule or time zone does not parse is a 422 naming the
field; discovery lists both with their short name and category."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from navarch import api
from navarch.client import Client
from navarch.client.errors import ApiException

CONTAINER = {"name": "main", "image": "127.0.0.1:5000/job:1", "command": ["sh", "-c", "true"]}


def _job(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            **spec,
            "template": {"spec": {"restartPolicy": "Never", "containers": [CONTAINER]}},
        },
    }


def _cronjob(name: str, schedule: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "schedule": schedule,
            **spec,
            "jobTemplate": {
                "spec": {
                    "template": {"spec": {"restartPolicy": "OnFailure", "containers": [CONTAINER]}}
                }
            },
        },
    }


def _fields(exc: ApiException) -> dict[str, str]:
    causes = (exc.status.get("details") or {}).get("causes") or []
    return {c["field"]: c["message"] for c in causes}


async def test_a_job_is_defaulted_and_selects_its_own_pods(client: Client) -> None:
    created = api.dump(await client.jobs.create(_job("made", parallelism=2), "default"))
    uid = created["metadata"]["uid"]
    spec = created["spec"]
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert spec["template"]["metadata"]["labels"] == {
        "batch.kubernetes.io/controller-uid": uid,
        "controller-uid": uid,
        "batch.kubernetes.io/job-name": "made",
        "job-name": "made",
    }
    # a Job without labels takes its template's (Kubernetes' defaulting)
    assert created["metadata"]["labels"] == spec["template"]["metadata"]["labels"]
    assert (spec["parallelism"], spec["backoffLimit"], spec["completionMode"]) == (
        2,
        6,
        "NonIndexed",
    )
    assert "completions" not in spec and spec["suspend"] is False
    assert created["metadata"]["generation"] == 1
    # status is a subresource: a main-resource update leaves it alone
    body = copy.deepcopy(created)
    body["status"] = {"active": 3}
    updated = api.dump(await client.jobs.update(body, "default"))
    assert not (updated.get("status") or {}).get("active")


async def test_a_jobs_selector_completions_and_running_template_are_immutable(
    client: Client,
) -> None:
    created = api.dump(await client.jobs.create(_job("fixed", completions=2), "default"))
    for change, field in (
        (lambda s: s.update(completions=3), "spec.completions"),
        (lambda s: s.update(selector={"matchLabels": {"job-name": "fixed"}}), "spec.selector"),
        (lambda s: s["template"]["spec"]["containers"][0].update(image="other:2"), "spec.template"),
    ):
        body = copy.deepcopy(created)
        change(body["spec"])
        with pytest.raises(ApiException) as caught:
            await client.jobs.update(body, "default")
        assert caught.value.code == 422
        assert field in _fields(caught.value), caught.value.status
    # suspended before it started, where its pods go may change (Kubernetes' mutable
    # scheduling directives, for a queue placing it) and nothing else of the template
    suspended = copy.deepcopy(created)
    suspended["spec"]["suspend"] = True
    suspended = api.dump(await client.jobs.update(suspended, "default"))
    placed = copy.deepcopy(suspended)
    placed["spec"]["template"]["spec"]["nodeSelector"] = {"zone": "a"}
    placed["spec"]["template"]["spec"]["tolerations"] = [{"key": "gpu", "operator": "Exists"}]
    placed["spec"]["template"]["metadata"]["labels"]["queue"] = "q1"
    changed = api.dump(await client.jobs.update(placed, "default"))
    assert changed["spec"]["template"]["spec"]["nodeSelector"] == {"zone": "a"}
    for edit in (
        lambda t: t["spec"]["containers"][0].update(image="other:2"),
        lambda t: t["spec"].update(restartPolicy="OnFailure"),
    ):
        body = copy.deepcopy(changed)
        edit(body["spec"]["template"])
        with pytest.raises(ApiException) as caught:
            await client.jobs.update(body, "default")
        assert "spec.template" in _fields(caught.value), caught.value.status
    # once it has started (status.startTime), not even that
    started = copy.deepcopy(changed)
    started["status"] = {"startTime": "2026-01-01T00:00:00Z"}
    started = api.dump(await client.jobs.update_status(started, "default"))
    started["spec"]["template"]["spec"]["nodeSelector"] = {"zone": "b"}
    with pytest.raises(ApiException) as caught:
        await client.jobs.update(started, "default")
    assert "spec.template" in _fields(caught.value), caught.value.status


@pytest.mark.parametrize(
    ("name", "spec", "field", "message"),
    [
        # the last pod's hostname, <name>-<completions - 1>, must be a DNS label: the
        # Job was taken and its pods then refused for ever
        (
            "x" * 61,
            {"completionMode": "Indexed", "completions": 100, "parallelism": 1},
            "metadata.name",
            "will not able to create pod with invalid DNS label: " + "x" * 61 + "-99",
        ),
        (
            "wide",
            {"completionMode": "Indexed", "completions": 3, "parallelism": 100_001},
            "spec.parallelism",
            "must be less than or equal to 100000 when completion mode is Indexed",
        ),
    ],
)
async def test_an_indexed_job_whose_pods_could_not_be_made_is_refused(
    client: Client, name: str, spec: dict[str, Any], field: str, message: str
) -> None:
    """Kubernetes' ValidateJob, at create rather than a FailedCreate per sync after."""
    with pytest.raises(ApiException) as caught:
        await client.jobs.create(_job(name, **spec), "default")
    assert caught.value.code == 422
    assert message in _fields(caught.value)[field], caught.value.status
    # one character shorter (63 with "-99") and parallelism in bounds: accepted
    fits = {**spec, "parallelism": 1}
    await client.jobs.create(_job(name[:60], **fits), "default")


async def test_a_jobs_pod_failure_policy_is_immutable(client: Client) -> None:
    """Kubernetes' ValidateJobSpecUpdate: podFailurePolicy is fixed once the Job exists
    (a running Job would judge its pods by two policies)."""
    rule = {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}
    created = api.dump(
        await client.jobs.create(_job("judged", podFailurePolicy={"rules": [rule]}), "default")
    )
    body = copy.deepcopy(created)
    body["spec"]["podFailurePolicy"]["rules"][0]["action"] = "Ignore"
    with pytest.raises(ApiException) as caught:
        await client.jobs.update(body, "default")
    assert caught.value.code == 422
    assert "spec.podFailurePolicy" in _fields(caught.value), caught.value.status


@pytest.mark.parametrize(
    ("schedule", "zone", "field", "message"),
    [
        ("every minute", None, "spec.schedule", "unparseable schedule: expected exactly 5 fields"),
        ("*/5 * * *", None, "spec.schedule", "unparseable schedule"),
        ("@hourly", "Nowhere/Special", "spec.timeZone", "unknown time zone Nowhere/Special"),
    ],
)
async def test_a_cronjob_that_does_not_parse_is_refused_naming_the_field(
    client: Client, schedule: str, zone: str | None, field: str, message: str
) -> None:
    extra = {"timeZone": zone} if zone else {}
    with pytest.raises(ApiException) as caught:
        await client.cronjobs.create(_cronjob("bad", schedule, **extra), "default")
    assert caught.value.code == 422
    assert message in _fields(caught.value)[field]


async def test_a_cronjob_is_defaulted(client: Client) -> None:
    created = api.dump(await client.cronjobs.create(_cronjob("fine", "@hourly"), "default"))
    spec = created["spec"]
    assert (
        spec["concurrencyPolicy"],
        spec["suspend"],
        spec["successfulJobsHistoryLimit"],
        spec["failedJobsHistoryLimit"],
    ) == ("Allow", False, 3, 1)


async def test_discovery_lists_jobs_and_cronjobs(client: Client) -> None:
    listed = await client.request("GET", "/apis/batch/v1")
    resources = {r["name"]: r for r in listed["resources"]}
    assert resources["cronjobs"]["shortNames"] == ["cj"]
    assert resources["cronjobs"]["categories"] == ["all"]
    assert resources["jobs"]["categories"] == ["all"]
    assert {"jobs/status", "cronjobs/status"} <= set(resources)
