"""Pod volumes and ConfigMap/Secret env through a real API server on the simulated
runtime: a pod waits with Kubernetes' reason until what it names exists and then
starts by itself; configMap volume files follow the ConfigMap; the pod's volume
directory goes with the pod (and with an orphan's clean-up)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import attrs
import pytest

from navarch import api
from navarch.agent.volumes.layout import CONFIG_MAP, EMPTY_DIR, SECRET
from navarch.agent.volumes.tmpfs import mounts_below, unmount
from navarch.runtime import labels
from navarch.testing.images import BUSYBOX_IMAGE
from tests.agent.conftest import FAST, build_runtime, eventually, pod_body, running_agent
from tests.agent.looked import relisted, synced

# Pods resync every second: a ConfigMap change reaches the files within about that.
QUICK = attrs.evolve(FAST, pod_resync_seconds=1.0)


@pytest.fixture
def runtime(tmp_path):
    return build_runtime("sim", {}, tmp_path / "sim")


@pytest.fixture
def settings(tmp_path):
    data_dir = tmp_path / "agent"
    yield attrs.evolve(QUICK, data_dir=data_dir)
    # A test that failed before its pod was deleted leaves the pod's tmpfs mounted.
    for point in mounts_below(data_dir):
        unmount(point)


def as_dict(obj):
    return obj if isinstance(obj, dict) else api.dump(obj)


async def container_state(client, name):
    status = as_dict(await client.pods.get(name, "default")).get("status") or {}
    statuses = status.get("containerStatuses") or []
    return statuses[0]["state"] if statuses else {}


async def waiting_with(client, name, reason):
    async def check():
        waiting = (await container_state(client, name)).get("waiting") or {}
        return waiting if waiting.get("reason") == reason else None

    return await eventually(check, f"{name} waiting with {reason}")


async def running(client, name):
    async def check():
        return "running" in await container_state(client, name)

    await eventually(check, f"{name} running")


async def events_of(client, name, reason):
    """The pod's Events of ``reason`` once there is one (Events are recorded in the
    background)."""

    async def found():
        listed = await client.events.list("default", field_selector=f"involvedObject.name={name}")
        return [e for e in map(as_dict, listed.items) if e["reason"] == reason]

    return await eventually(found, f"a {reason} Event about {name}")


async def running_container(runtime, pod):
    (found,) = [
        c
        for c in await runtime.list_containers({labels.POD_NAME: pod})
        if c.state.value == "running"
    ]
    return found


async def read_in(runtime, pod, path):
    container = await running_container(runtime, pod)
    result = await runtime.exec_sync(container.id, ["cat", path], 10)
    return result.stdout.decode()


def config_map(name, data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def secret(name, data):
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": encoded}


async def test_env_waits_for_a_missing_config_map_and_starts_once_it_exists(
    client, runtime, settings
):
    env = [{"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "env-cm", "key": "level"}}}]
    body = pod_body(
        "env-wait",
        "vol-1",
        image=BUSYBOX_IMAGE,
        container={"env": env, "envFrom": [{"secretRef": {"name": "env-secret"}, "prefix": "DB_"}]},
    )
    async with running_agent(client, runtime, "vol-1", settings) as agent:
        await client.pods.create(body)
        # envFrom is resolved before env (Kubernetes' order): the Secret is named first.
        waiting = await waiting_with(client, "env-wait", "CreateContainerConfigError")
        assert waiting["message"] == 'secret "env-secret" not found'
        await client.resource("secrets").create(secret("env-secret", {"password": "s3cret"}))

        async def says_config_map():
            waiting = (await container_state(client, "env-wait")).get("waiting") or {}
            return waiting.get("message") == 'configmap "env-cm" not found'

        await eventually(says_config_map, "the missing ConfigMap named")
        await client.resource("configmaps").create(config_map("env-cm", {"level": "debug"}))
        await running(client, "env-wait")
        container = await running_container(runtime, "env-wait")
        result = await runtime.exec_sync(container.id, ["env"], 10)
        assert "LEVEL=debug" in result.stdout.decode()
        assert "DB_password=s3cret" in result.stdout.decode()
        failed = await events_of(client, "env-wait", "Failed")
        assert any(e["message"] == 'Error: configmap "env-cm" not found' for e in failed)

        # A change of the ConfigMap does not reach the running container's environment
        # (Kubernetes fixes it at creation): after several resyncs, the same instance
        # still has the old value.
        cm = as_dict(await client.configmaps.get("env-cm", "default"))
        cm["data"] = {"level": "info"}
        await client.configmaps.update(cm)
        await synced(agent, times=4)  # the pod resyncs every second: it looked again
        same = await running_container(runtime, "env-wait")
        assert same.id == container.id
        result = await runtime.exec_sync(same.id, ["env"], 10)
        assert "LEVEL=debug" in result.stdout.decode()
        await client.pods.delete("env-wait", "default", grace_period_seconds=0)


async def test_volumes_wait_for_their_config_map_then_follow_it_and_go_with_the_pod(
    client, runtime, settings
):
    body = pod_body(
        "vol-wait",
        "vol-2",
        image=BUSYBOX_IMAGE,
        container={
            "volumeMounts": [
                {"name": "cfg", "mountPath": "/etc/app"},
                {"name": "creds", "mountPath": "/etc/creds"},
                {"name": "scratch", "mountPath": "/scratch"},
                {"name": "cfg", "mountPath": "/etc/pinned.conf", "subPath": "app.conf"},
            ]
        },
        volumes=[
            {"name": "cfg", "configMap": {"name": "vol-cm"}},
            {"name": "creds", "secret": {"secretName": "vol-secret", "defaultMode": 0o400}},
            {"name": "scratch", "emptyDir": {}},
        ],
    )
    async with running_agent(client, runtime, "vol-2", settings) as agent:
        await client.secrets.create(secret("vol-secret", {"token": "t0k3n"}))
        pod = as_dict(await client.pods.create(body))
        uid = pod["metadata"]["uid"]
        waiting = await waiting_with(client, "vol-wait", "ContainerCreating")
        assert waiting["message"] == (
            'MountVolume.SetUp failed for volume "cfg" : configmap "vol-cm" not found'
        )

        (failed_mount, *_) = await events_of(client, "vol-wait", "FailedMount")
        assert failed_mount["message"] == waiting["message"]
        assert not await runtime.list_sandboxes({labels.POD_UID: uid})  # volumes come first

        await client.configmaps.create(config_map("vol-cm", {"app.conf": "v1"}))
        await running(client, "vol-wait")
        assert await read_in(runtime, "vol-wait", "/etc/app/app.conf") == "v1"
        assert await read_in(runtime, "vol-wait", "/etc/creds/token") == "t0k3n"
        mounts = {
            m.container_path: m
            for m in runtime.mounts((await running_container(runtime, "vol-wait")).id)
        }
        assert mounts["/etc/app"].read_only and not mounts["/scratch"].read_only

        pod_dir = settings.data_dir / "pods" / uid / "volumes"
        cfg_dir = pod_dir / CONFIG_MAP / "cfg"
        assert os.readlink(cfg_dir / "app.conf") == "..data/app.conf"
        assert (pod_dir / SECRET / "creds" / "token").stat().st_mode & 0o777 == 0o400
        assert (pod_dir / EMPTY_DIR / "scratch").is_dir()

        # A change reaches the mounted file within a resync; the subPath mount does not
        # follow (as in Kubernetes: it is bound to the file it was at the start).
        cm = as_dict(await client.configmaps.get("vol-cm", "default"))
        cm["data"] = {"app.conf": "v2"}
        await client.configmaps.update(cm)

        async def updated():
            return await read_in(runtime, "vol-wait", "/etc/app/app.conf") == "v2"

        await eventually(updated, "the ConfigMap's change in the mounted file")
        # The subPath mount is the agent's bind of the first set's file itself (resolved,
        # not through ..data): it keeps that content, as a real bind mount does.
        pinned = Path(mounts["/etc/pinned.conf"].host_path)
        assert pinned.parent.parent == settings.data_dir / "pods" / uid / "volume-subpaths" / "cfg"
        assert pinned.read_text() == "v1"

        await client.pods.delete("vol-wait", "default", grace_period_seconds=0)

        async def removed():
            return not (settings.data_dir / "pods" / uid).exists()

        await eventually(removed, "the pod's volume directory removed")
        assert agent.volumes.directories.uids() == []


async def test_an_orphaned_pod_directory_is_removed(client, runtime, settings):
    orphan = settings.data_dir / "pods" / "no-such-pod-uid" / "volumes" / EMPTY_DIR / "v"
    orphan.mkdir(parents=True)
    (orphan / "left").write_text("behind")
    async with running_agent(client, runtime, "vol-3", settings) as agent:
        await relisted(agent, times=12)  # the sweep of directories runs every 10th relist

        async def gone():
            return not (settings.data_dir / "pods" / "no-such-pod-uid").exists()

        await eventually(gone, "the orphaned pod directory removed")


async def test_an_empty_dir_over_its_size_limit_evicts_the_pod(client, runtime, settings):
    body = pod_body(
        "too-big",
        "vol-4",
        image=BUSYBOX_IMAGE,
        container={"volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]},
        volumes=[{"name": "scratch", "emptyDir": {"sizeLimit": "1Mi"}}],
    )
    async with running_agent(client, runtime, "vol-4", settings):
        uid = as_dict(await client.pods.create(body))["metadata"]["uid"]
        await running(client, "too-big")
        scratch = settings.data_dir / "pods" / uid / "volumes" / EMPTY_DIR / "scratch"
        (scratch / "fill").write_bytes(os.urandom(2 * 1024 * 1024))  # as the container would

        async def evicted():
            status = as_dict(await client.pods.get("too-big", "default")).get("status") or {}
            return status if status.get("phase") == "Failed" else None

        status = await eventually(evicted, "the pod evicted")
        assert status["reason"] == "Evicted"
        assert status["message"] == 'Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". '
        (evicted_event,) = await events_of(client, "too-big", "Evicted")
        assert evicted_event.get("count", 1) == 1
        assert not [
            c
            for c in await runtime.list_containers({labels.POD_UID: uid})
            if c.state.value == "running"
        ]
        await client.pods.delete("too-big", "default", grace_period_seconds=0)
