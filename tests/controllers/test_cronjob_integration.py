"""CronJobs and the documentation's batch examples with everything real (issue 23
items 4, 5 and 10): an API server, ``navarch controllers`` (cronjob, job, garbage
collector, pod termination), ``navarch scheduler`` and a sim agent, driven with the
real kubectl.

examples/cronjob.yaml (the Kubernetes docs' "hello", every minute) makes a Job on the
clock — the one test here that waits for real time, up to a minute —, ``kubectl
create job --from=cronjob/hello`` is accepted (kubectl builds that Job itself), a
schedule that does not parse is refused naming the field, and examples/job.yaml (the
docs' "pi") completes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from navarch import api
from navarch.api.batch_v1 import CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION
from navarch.api.timefmt import rfc3339
from navarch.client import Client
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.cluster import Kubectl, controllers_process, scheduler_process
from navarch.testing.daemon import started
from navarch.testing.waiting import eventually
from tests.examples.helpers import EXAMPLES, fast_sim_agent

DEADLINE = 120.0
# a "* * * * *" CronJob's first run comes within a minute; the rest is a busy machine
FIRST_RUN_DEADLINE = 100.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("cronjob-cluster")
    with (
        ApiServerProcess(root / "apiserver") as server,
        started(
            scheduler_process(root, server),
            fast_sim_agent(root, server, nodes=2, prefix="cron-sim"),
            controllers_process(
                root, server, ["cronjob", "job", "garbage-collector", "pod-termination"]
            ),
        ) as daemons,
    ):
        yield server, daemons


@pytest.fixture
def kubectl(cluster) -> Kubectl:
    server, _ = cluster
    return Kubectl(server.kubeconfig, timeout=60)


@pytest_asyncio.fixture
async def client(cluster) -> AsyncIterator[Client]:
    server, _ = cluster
    async with Client.from_kubeconfig(server.kubeconfig) as client:
        yield client


def _status(obj: Any) -> dict[str, Any]:
    return api.dump(obj).get("status") or {}


async def test_the_docs_cronjob_makes_a_job_every_minute_and_kubectl_makes_one_by_hand(
    cluster, client: Client, kubectl: Kubectl
) -> None:
    _, daemons = cluster
    kubectl("apply", "-f", str(EXAMPLES / "cronjob.yaml"))
    header, row = kubectl("get", "cronjobs").splitlines()[:2]
    assert header.split() == [
        "NAME",
        "SCHEDULE",
        "TIMEZONE",
        "SUSPEND",
        "ACTIVE",
        "LAST",
        "SCHEDULE",
        "AGE",
    ]
    assert row.split()[:10] == ["hello", "*", "*", "*", "*", "*", "<none>", "False", "0", "<none>"]

    # kubectl builds the Job from the template itself and sends it: the server takes it
    out = kubectl("create", "job", "hello-now", "--from=cronjob/hello")
    assert "job.batch/hello-now created" in out
    by_hand = await client.jobs.get("hello-now", "default")
    ref = by_hand.metadata.owner_references[0]
    assert (ref.kind, ref.name) == ("CronJob", "hello")
    assert by_hand.metadata.annotations["cronjob.kubernetes.io/instantiate"] == "manual"

    async def pod_made() -> bool:
        pods = await client.pods.list(
            "default", label_selector="batch.kubernetes.io/job-name=hello-now"
        )
        return bool(pods.items)

    await eventually(pod_made, "a pod of the Job made by hand", daemons, deadline=DEADLINE)

    async def scheduled() -> Any:
        cronjob = await client.cronjobs.get("hello", "default")
        active = _status(cronjob).get("active") or []
        return [a for a in active if re.fullmatch(r"hello-\d{8,}", a["name"])]

    await eventually(scheduled, "a scheduled Job of hello", daemons, deadline=FIRST_RUN_DEADLINE)
    (run,) = await scheduled()
    job = await client.jobs.get(run["name"], "default")
    stamp = job.metadata.annotations[CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION]
    minutes = int(run["name"].rsplit("-", 1)[1])
    assert stamp == rfc3339(minutes * 60)
    cronjob = await client.cronjobs.get("hello", "default")
    assert _status(cronjob)["lastScheduleTime"] == stamp
    row = kubectl("get", "cj", "hello", "--no-headers").split()
    assert row[8] in ("1", "2") and row[9] != "<none>"  # ACTIVE, LAST SCHEDULE

    kubectl("delete", "-f", str(EXAMPLES / "cronjob.yaml"))

    async def jobs_gone() -> bool:
        listed = await client.jobs.list("default")
        return not [j for j in listed.items if j.name.startswith("hello")]

    await eventually(jobs_gone, "the CronJob's Jobs deleted with it", daemons, deadline=DEADLINE)


def test_a_schedule_that_does_not_parse_is_refused_naming_the_field(
    kubectl: Kubectl, tmp_path
) -> None:
    manifest = (EXAMPLES / "cronjob.yaml").read_text().replace('"* * * * *"', '"every minute"')
    path = tmp_path / "bad.yaml"
    path.write_text(manifest)
    result = kubectl.run("apply", "-f", str(path))
    assert result.returncode != 0
    assert 'spec.schedule: Invalid value: "every minute": unparseable schedule' in result.stderr


async def test_the_docs_pi_job_completes(cluster, client: Client, kubectl: Kubectl) -> None:
    _, daemons = cluster
    kubectl("apply", "-f", str(EXAMPLES / "job.yaml"))

    async def complete() -> bool:
        conditions = _status(await client.jobs.get("pi", "default")).get("conditions") or []
        return any(c["type"] == "Complete" and c["status"] == "True" for c in conditions)

    await eventually(complete, "job pi Complete", daemons, deadline=DEADLINE)
    row = kubectl("get", "jobs", "pi", "--no-headers").split()
    assert row[:3] == ["pi", "Complete", "1/1"]
    kubectl("delete", "-f", str(EXAMPLES / "job.yaml"))
