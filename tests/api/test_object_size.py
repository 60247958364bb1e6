"""One large object must not stop the cluster (issue 21 item 12).

The API server refuses an object whose stored JSON is above
``navarch.api.limits.MAX_WRITE_BYTES`` (1.5 MiB less the reserve for status and
binding) with 413, on create and on update; every reader
of a watch takes a line as long as an event around an object at that limit. On a
cluster (API server, scheduler, controller manager and an agent as processes; the
agent on the simulated runtime, or on a private containerd where the big pod's
container really starts with its 1.4 MiB environment): a pod just under the limit is
scheduled and runs, one just over is refused, a small pod made afterwards still
runs, and no daemon has exited.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio
from aiohttp import web

from navarch.api.limits import MAX_WATCH_LINE_BYTES, MAX_WRITE_BYTES
from navarch.client import Client
from navarch.client.errors import ApiException, EventTooLarge
from navarch.client.kubeconfig import KubeConfig
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.cluster import (
    controllers_process,
    daemon_config,
    scheduler_process,
    sim_agent_process,
)
from navarch.testing.containerd import ContainerdProcess, start_private_containerd
from navarch.testing.daemon import DaemonProcess, free_port, unmount_under
from navarch.testing.images import BUSYBOX_IMAGE, busybox_archive
from navarch.testing.navarchprocess import NavarchProcess
from navarch.testing.waiting import eventually
from navarch_runtime_containerd import ContainerdClient, import_image_archive

ENV_VARS = 100
# What the server adds to a pod it stores (uid, timestamps, managedFields naming each
# variable, defaults) stays well inside this margin.
MARGIN = 48 * 1024
# The sim runtime pulls nothing; on containerd, the busybox image imported beforehand.
SIM_IMAGE = "127.0.0.1:5000/big:1"
SLEEP = ["sleep", "3600"]
CONTAINERD_NAMESPACE = "big-objects"  # the agent's, where the image is imported


def pod_of_size(name: str, size: int, image: str = SIM_IMAGE) -> dict[str, Any]:
    """A pod whose JSON as sent is ``size`` bytes, most of it in environment variables
    (each below Linux's 128 KiB per-string limit, and together below the 2 MiB that
    argv and the environment may take, so a real runtime can start it)."""
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "c",
                    "image": image,
                    "command": SLEEP,
                    "env": [{"name": f"V{i:03d}", "value": ""} for i in range(ENV_VARS)],
                }
            ],
        },
    }
    room = size - len(orjson.dumps(pod))
    assert room > 0
    env = pod["spec"]["containers"][0]["env"]
    for i, var in enumerate(env):
        var["value"] = "x" * (room // ENV_VARS + (1 if i < room % ENV_VARS else 0))
    assert len(orjson.dumps(pod)) == size
    return pod


def small_pod(name: str, image: str = SIM_IMAGE) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "c", "image": image, "command": SLEEP}],
        },
    }


# --- the API server's limit ---------------------------------------------------------


async def test_an_object_over_the_limit_is_refused_with_413(client):
    with pytest.raises(ApiException) as refused:
        await client.pods.create(pod_of_size("over", MAX_WRITE_BYTES + 1024))
    assert refused.value.code == 413
    assert refused.value.reason == "RequestEntityTooLarge"
    assert str(MAX_WRITE_BYTES) in refused.value.status["message"]
    with pytest.raises(ApiException):
        await client.pods.get("over", "default")


async def test_an_update_that_grows_an_object_over_the_limit_is_refused(client):
    """A Deployment's pod template is mutable: a merge patch that makes it too large."""
    template = {"metadata": {"labels": {"app": "grows"}}, "spec": small_pod("")["spec"]}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "grows", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "grows"}}, "template": template},
    }
    await client.deployments.create(deployment)
    big = pod_of_size("", MAX_WRITE_BYTES + 1024)["spec"]
    patch = {"spec": {"template": {"spec": big}}}
    with pytest.raises(ApiException) as refused:
        await client.deployments.patch("grows", patch, "default")
    assert refused.value.code == 413
    stored = await client.deployments.get("grows", "default")
    assert not stored.spec.template.spec.containers[0].env


async def test_a_watch_carries_an_object_just_under_the_limit(client):
    """aiohttp's line reader alone stops at 512 KiB: the watch used to fail here."""
    listed = await client.pods.list("default")
    big = await client.pods.create(pod_of_size("watched", MAX_WRITE_BYTES - MARGIN))

    async def first_event() -> tuple[str, Any]:
        async for kind, obj in client.pods.watch(
            "default", resource_version=listed.resource_version
        ):
            if obj.metadata.name == "watched":
                return kind, obj
        raise AssertionError("the watch ended")

    kind, obj = await asyncio.wait_for(first_event(), 60)
    assert kind == "ADDED"
    assert obj.metadata.uid == big.metadata.uid
    assert len(obj.spec.containers[0].env) == ENV_VARS


# --- a reader given a line longer than any event the limit allows --------------------


@pytest_asyncio.fixture
async def oversized_watch_server() -> AsyncIterator[str]:
    """A server whose watch sends one line above MAX_WATCH_LINE_BYTES."""
    port = free_port()

    async def watch(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        huge = {"type": "ADDED", "object": {"kind": "Pod", "metadata": {"name": "huge"}}}
        huge["object"]["metadata"]["annotations"] = {"x": "x" * MAX_WATCH_LINE_BYTES}
        await response.write(orjson.dumps(huge) + b"\n")
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/api/v1/namespaces/default/pods", watch)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_a_line_above_every_event_the_limit_allows_is_an_api_error(oversized_watch_server):
    """The caller gets an ApiException (informers list again), not aiohttp's
    LineTooLong that ended the controller manager."""
    config = KubeConfig(server=oversized_watch_server, namespace="default")
    async with Client(config, retries=0) as client:
        with pytest.raises(EventTooLarge):
            async for _ in client.pods.watch("default", resource_version="1"):
                pass


# --- on a cluster -----------------------------------------------------------------------


def containerd_agent_process(
    root: Path, server: ApiServerProcess, containerd: ContainerdProcess
) -> NavarchProcess:
    """``navarch agent --runtime containerd`` for one node, on ``containerd`` (in a
    namespace of its own, where the busybox image was imported)."""
    agent = {"node_name": f"big-cd-{uuid.uuid4().hex[:6]}", "node_ip": "127.0.0.1"}
    agent.update(address="127.0.0.1", port=0)
    runtime = {
        "name": "containerd",
        "options": {"socket": str(containerd.socket_path), "namespace": CONTAINERD_NAMESPACE},
    }
    directory = root / "agent"
    config = daemon_config(server, directory / "data", runtime=runtime, agent=agent)
    return NavarchProcess(directory, "agent", config)


async def _import_busybox(containerd: ContainerdProcess, directory: Path) -> None:
    async with ContainerdClient(
        containerd.socket_path, namespace=CONTAINERD_NAMESPACE, timeout=30.0
    ) as client:
        await client.ensure_namespace()
        await import_image_archive(client, busybox_archive(directory))


@pytest.fixture(scope="module", params=["sim", "containerd"])
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ApiServerProcess, dict[str, DaemonProcess], str]]:
    """The API server, the daemons by name, and the image the pods run."""
    root = tmp_path_factory.mktemp(f"big-objects-{request.param}")
    containerd: ContainerdProcess | None = None
    with ApiServerProcess(root / "apiserver") as server:
        daemons: dict[str, DaemonProcess] = {}
        try:
            if request.param == "sim":
                agent: DaemonProcess = sim_agent_process(root, server, nodes=2, prefix="big-sim")
                image = SIM_IMAGE
            else:
                containerd = start_private_containerd(root / "containerd")
                daemons["containerd"] = containerd
                asyncio.run(_import_busybox(containerd, tmp_path_factory.getbasetemp()))
                agent = containerd_agent_process(root, server, containerd)
                image = BUSYBOX_IMAGE
            for name, daemon in (
                ("scheduler", scheduler_process(root, server)),
                ("agent", agent),
                (
                    "controllers",
                    controllers_process(root, server, ["replicaset", "pod-termination"]),
                ),
            ):
                daemons[name] = daemon.start()
            yield server, daemons, image
        finally:
            for name, daemon in reversed(daemons.items()):
                if name != "containerd":
                    daemon.stop()
            if containerd is not None:
                unmount_under((root / "agent",))  # the pods' network namespaces
                containerd.remove()  # ends the shims and containers left running


async def test_a_pod_just_under_the_limit_runs_and_the_cluster_goes_on(cluster):
    server, daemons, image = cluster
    async with Client.from_kubeconfig(server.kubeconfig) as client:

        async def running(name: str) -> bool:
            """Bound, Running, and its container started by the runtime."""
            pod = await client.pods.get(name, "default")
            if not (pod.spec.node_name and pod.status and pod.status.phase == "Running"):
                return False
            statuses = pod.status.container_statuses or ()
            return bool(statuses and statuses[0].state and statuses[0].state.running)

        await client.pods.create(pod_of_size("big", MAX_WRITE_BYTES - MARGIN, image))
        with pytest.raises(ApiException) as refused:
            await client.pods.create(pod_of_size("too-big", MAX_WRITE_BYTES + 1024, image))
        assert refused.value.code == 413
        await eventually(lambda: running("big"), "the pod just under the limit runs", daemons)
        await client.pods.create(small_pod("after", image))
        await eventually(lambda: running("after"), "a small pod made afterwards runs", daemons)
        # The agent reported both pods' status through the watch that carried the big
        # one: every daemon has read it and is still there.
        exited = {name: d.process.poll() for name, d in daemons.items() if d.process}
        assert exited == {name: None for name in daemons}, exited
