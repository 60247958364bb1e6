"""The Deployment controller with everything real: an API server, ``navarch
controllers`` (deployment, replicaset…), ``navarch scheduler`` and ``navarch agent
--runtime sim --simulate 3``, driven with kubectl. A Deployment of 6 becomes 6
available; a rolling update never leaves fewer than replicas - maxUnavailable pods
available nor more than replicas + maxSurge pods, checked on every pod watch event;
``kubectl rollout status``, ``history``, ``undo``, ``restart``, ``pause``/``resume``
and ``scale`` work unchanged."""

from __future__ import annotations

import asyncio
import functools
import random
import subprocess
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from navarch import api
from navarch.client import Client
from navarch.client.informer import Informer
from navarch.controllers.owners import controller_of
from navarch.controllers.replicaset_pods import is_active
from navarch.testing import waiting
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.cluster import (
    Kubectl,
    controllers_process,
    scheduler_process,
    sim_agent_process,
)
from navarch.testing.daemon import started

REPLICAS, SURGE, UNAVAILABLE = 6, 2, 1
# generous: each step waits on several daemons sharing a busy machine's 2 cores
DEADLINE = 120.0
eventually = functools.partial(waiting.eventually, deadline=DEADLINE)
IMAGE_1, IMAGE_2 = "127.0.0.1:5000/web:1", "127.0.0.1:5000/web:2"


@pytest.fixture(scope="module")
def deploy_cluster(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("deploy-cluster")
    with ApiServerProcess(root / "apiserver") as server:
        controllers = ["deployment", "replicaset", "pod-termination"]
        with started(
            scheduler_process(root, server),
            sim_agent_process(root, server, nodes=3, prefix="deploy-sim", lease_renew_seconds=1),
            controllers_process(root, server, controllers),
        ) as daemons:
            yield server, daemons


def _kubectl(server: Any, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = Kubectl(server.kubeconfig, timeout=90).run(*args)
    if check:
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
    return result


@pytest_asyncio.fixture
async def client(deploy_cluster) -> AsyncIterator[Client]:
    server, _ = deploy_cluster
    async with Client.from_kubeconfig(server.kubeconfig) as client:
        yield client


def _deployment() -> dict[str, Any]:
    labels = {"app": "web"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "annotations": {"kubernetes.io/change-cause": "first release"},
        },
        "spec": {
            "replicas": REPLICAS,
            "selector": {"matchLabels": labels},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": SURGE, "maxUnavailable": UNAVAILABLE},
            },
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "web", "image": IMAGE_1}],
                },
            },
        },
    }


def _available(pod: Any) -> bool:
    if not is_active(pod) or pod.status is None or pod.status.phase != "Running":
        return False
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or ())


class Bounds:
    """On every watch event about the Deployment's pods: the fewest available and the
    most existing (not terminating) seen since :meth:`arm`."""

    def __init__(self, client: Client):
        self.informer = Informer(client.pods, "default", label_selector="app=web")
        self.informer.add_handler(
            on_add=lambda pod: self.count(),
            on_update=lambda old, new: self.count(),
            on_delete=lambda pod: self.count(),
        )
        self.armed = False
        self.fewest_available = REPLICAS
        self.most = 0
        self.events = 0

    def pods(self) -> list[Any]:
        return [
            p
            for p in self.informer.list()
            if is_active(p) and (ref := controller_of(p)) is not None and ref.kind == "ReplicaSet"
        ]

    def count(self) -> None:
        pods = self.pods()
        self.most = max(self.most, len(pods))
        if self.armed:
            self.events += 1
            self.fewest_available = min(self.fewest_available, sum(map(_available, pods)))

    def arm(self) -> None:
        self.armed = True
        self.fewest_available = sum(map(_available, self.pods()))
        self.events = 0

    def images(self) -> set[str]:
        return {p.spec.containers[0].image for p in self.pods()}


async def test_a_deployment_rolls_and_kubectl_rollout_works(deploy_cluster, client: Client) -> None:
    server, daemons = deploy_cluster

    def kubectl(*args: str) -> str:
        return _kubectl(server, *args).stdout

    await client.deployments.create(_deployment(), "default")
    bounds = Bounds(client)
    watching = asyncio.create_task(bounds.informer.run())
    try:
        await bounds.informer.wait_synced(DEADLINE)

        async def rolled_out(image: str) -> bool:
            d = api.dump(await client.deployments.get("web", "default"))
            status = d.get("status") or {}
            return (
                status.get("observedGeneration") == d["metadata"]["generation"]
                and status.get("updatedReplicas") == REPLICAS
                and status.get("availableReplicas") == REPLICAS
                and status.get("replicas") == REPLICAS
                and sum(map(_available, bounds.pods())) == REPLICAS
                and bounds.images() == {image}
            )

        await eventually(lambda: rolled_out(IMAGE_1), "6 available pods of web:1", daemons)
        assert bounds.most <= REPLICAS + SURGE
        kubectl("rollout", "status", "deployment/web", "--timeout=60s")

        # a rolling update: the bounds hold on every pod event
        bounds.arm()
        kubectl("set", "image", "deployment/web", f"web={IMAGE_2}")
        kubectl("annotate", "deployment/web", "kubernetes.io/change-cause=to web:2", "--overwrite")
        kubectl("rollout", "status", "deployment/web", "--timeout=60s")
        await eventually(lambda: rolled_out(IMAGE_2), "6 available pods of web:2", daemons)
        assert bounds.events > 10, "the watch saw the rollout"
        assert bounds.fewest_available >= REPLICAS - UNAVAILABLE, bounds.fewest_available
        assert bounds.most <= REPLICAS + SURGE, bounds.most

        history = kubectl("rollout", "history", "deployment/web")
        assert "1         first release" in history and "2         to web:2" in history, history
        assert IMAGE_1 in kubectl("rollout", "history", "deployment/web", "--revision=1")

        # undo: the template of revision 1 back, as revision 3
        kubectl("rollout", "undo", "deployment/web")
        kubectl("rollout", "status", "deployment/web", "--timeout=60s")
        await eventually(lambda: rolled_out(IMAGE_1), "web:1 back after undo", daemons)
        d = api.dump(await client.deployments.get("web", "default"))
        assert d["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE_1
        assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
        history = kubectl("rollout", "history", "deployment/web")
        assert "3         first release" in history, history
        replicasets = (await client.replicasets.list("default")).items
        assert len(replicasets) == 2  # the old ReplicaSet came back, no third one

        # undo --to-revision=2, then restart: a new template (restartedAt) rolls
        kubectl("rollout", "undo", "deployment/web", "--to-revision=2")
        await eventually(lambda: rolled_out(IMAGE_2), "web:2 back after undo", daemons)
        before = {p.metadata.uid for p in bounds.pods()}
        kubectl("rollout", "restart", "deployment/web")
        kubectl("rollout", "status", "deployment/web", "--timeout=60s")
        await eventually(lambda: rolled_out(IMAGE_2), "restarted", daemons)
        assert not before & {p.metadata.uid for p in bounds.pods()}, "every pod replaced"
        assert len((await client.replicasets.list("default")).items) == 3

        # pause: no rollout; scale still works; resume rolls
        kubectl("rollout", "pause", "deployment/web")
        kubectl("set", "image", "deployment/web", f"web={IMAGE_1}")
        kubectl("scale", "deployment/web", "--replicas=4")

        async def scaled(n: int, image: str) -> bool:
            pods = bounds.pods()
            return len(pods) == n and sum(map(_available, pods)) == n and bounds.images() == {image}

        await eventually(lambda: scaled(4, IMAGE_2), "paused and scaled to 4", daemons)
        paused = _kubectl(
            server, "rollout", "status", "deployment/web", "--timeout=2s", check=False
        )
        assert paused.returncode != 0 or "paused" in paused.stdout + paused.stderr
        kubectl("rollout", "resume", "deployment/web")
        kubectl("rollout", "status", "deployment/web", "--timeout=60s")
        await eventually(lambda: scaled(4, IMAGE_1), "resumed: 4 of web:1", daemons)
        events = kubectl("get", "events", "--field-selector", "involvedObject.kind=Deployment")
        assert "ScalingReplicaSet" in events

        # a Deployment of 10 keeps 10 running while its pods are deleted at random,
        # never more than 10 at once (checked on every pod watch event)
        kubectl("scale", "deployment/web", "--replicas=10")
        await eventually(lambda: scaled(10, IMAGE_1), "scaled to 10", daemons)
        bounds.most = 0
        chance = random.Random(13)  # the same deletions on every run
        for round_ in range(4):
            for pod in chance.sample(bounds.pods(), 3):
                await client.pods.delete(pod.name, "default")
            await eventually(
                lambda: scaled(10, IMAGE_1), f"10 running again (round {round_})", daemons
            )
        assert bounds.most <= 10, bounds.most
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
        await client.deployments.delete("web", "default")
        for rs in (await client.replicasets.list("default")).items:
            await client.replicasets.delete(rs.name, "default")
