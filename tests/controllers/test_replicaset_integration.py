"""The ReplicaSet controller with everything real: an API server, ``navarch
controllers``, ``navarch scheduler`` and ``navarch agent --runtime sim --simulate 3``.
A ReplicaSet of 5 gets 5 Running, Ready pods; pods deleted at random are replaced
without ever more than 5 active (checked on every watch event); ``kubectl scale``
to 8, then to 2, is followed."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from navarch import api
from navarch.client import Client
from navarch.client.informer import Informer
from navarch.controllers.owners import controller_of
from navarch.controllers.replicaset_pods import is_active
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.cluster import (
    Kubectl,
    controllers_process,
    scheduler_process,
    sim_agent_process,
)
from navarch.testing.daemon import started
from navarch.testing.waiting import eventually

DEADLINE = 60.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("rs-cluster")
    with (
        ApiServerProcess(root / "apiserver") as server,
        started(
            scheduler_process(root, server),
            sim_agent_process(root, server, nodes=3, prefix="rs-sim", lease_renew_seconds=1),
            controllers_process(root, server, ["replicaset", "pod-termination"]),
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


def _replicaset(replicas: int) -> dict[str, Any]:
    labels = {"app": "web"}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "web", "image": "127.0.0.1:5000/web:1"}],
                },
            },
        },
    }


async def _true(value: bool) -> bool:
    return value


class PodCounter:
    """Every watch event about the ReplicaSet's pods: the most active ones ever seen."""

    def __init__(self, client: Client, uid: str):
        self.uid = uid
        self.informer = Informer(client.pods, "default", label_selector="app=web")
        self.informer.add_handler(
            on_add=lambda pod: self.count(),
            on_update=lambda old, new: self.count(),
            on_delete=lambda pod: self.count(),
        )
        self.most = 0
        self.events = 0
        self.ever_owned: set[str] = set()

    def active(self) -> list[Any]:
        return [
            p
            for p in self.informer.list()
            if is_active(p) and (ref := controller_of(p)) is not None and ref.uid == self.uid
        ]

    def running(self) -> list[Any]:
        return [p for p in self.active() if p.status and p.status.phase == "Running"]

    def count(self) -> None:
        self.events += 1
        active = self.active()
        self.most = max(self.most, len(active))
        self.ever_owned.update(p.name for p in active)


async def test_a_replicaset_keeps_its_pods_and_follows_kubectl_scale(
    cluster, client: Client, kubectl
) -> None:
    _, daemons = cluster
    created = await client.replicasets.create(_replicaset(5), "default")
    counter = PodCounter(client, created.metadata.uid)
    watching = asyncio.create_task(counter.informer.run())
    try:
        await counter.informer.wait_synced(DEADLINE)

        async def settled(replicas: int) -> bool:
            rs = api.dump(await client.replicasets.get("web", "default"))
            status = rs.get("status") or {}
            return (
                len(counter.running()) == replicas
                and len(counter.active()) == replicas
                and status.get("replicas") == replicas
                and status.get("readyReplicas") == replicas
                and status.get("availableReplicas") == replicas
                and status.get("observedGeneration") == rs["metadata"]["generation"]
            )

        await eventually(lambda: settled(5), "5 Running, Ready pods", daemons)
        assert counter.most == 5

        # pods deleted at random: replaced, never more than 5 active at any event
        rng = random.Random(13)
        for round_ in range(4):
            victims = rng.sample(counter.active(), 2 if round_ == 3 else 1)
            for victim in victims:
                await client.pods.delete(victim.name, "default")
            await eventually(lambda: settled(5), f"5 Running again (round {round_})", daemons)
        assert counter.most == 5, f"{counter.most} active pods at once"
        assert counter.events > 20  # the check did run on the watch's events

        kubectl("scale", "rs", "web", "--replicas=8")
        await eventually(lambda: settled(8), "scaled to 8 Running", daemons)
        kubectl("scale", "rs", "web", "--replicas=2")
        await eventually(lambda: settled(2), "scaled to 2 Running", daemons)
        events = kubectl("get", "events", "--field-selector", "involvedObject.name=web")
        assert "SuccessfulCreate" in events and "SuccessfulDelete" in events

        # an orphan that matches is adopted (and, one too many, a pod goes)
        orphan = _replicaset(1)["spec"]["template"]
        await client.pods.create({**orphan, "metadata": {**orphan["metadata"], "name": "orphan"}})
        await eventually(lambda: _true("orphan" in counter.ever_owned), "adopted", daemons)
        await eventually(lambda: settled(2), "2 Running after the adoption", daemons)
        # a pod relabelled out of the selector is released, and replaced
        released = counter.active()[0].name
        kubectl("label", "pod", released, "app=other", "--overwrite")

        async def orphaned() -> bool:
            return controller_of(await client.pods.get(released, "default")) is None

        await eventually(orphaned, "the relabelled pod released", daemons)
        await eventually(lambda: settled(2), "2 Running after the release", daemons)
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
        await client.replicasets.delete("web", "default")
