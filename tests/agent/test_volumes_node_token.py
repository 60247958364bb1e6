"""`navarch agent` under a node token (the Node authoriser judges its reads): it GETs
the ConfigMap and Secret its pod names — the pod waits while the ConfigMap is missing
and starts once it exists — and writes them into the pod's volumes, with nothing
refused along the way."""

from __future__ import annotations

import base64

import yaml

from navarch import api
from navarch.testing.daemon import unmount_under
from navarch.testing.images import BUSYBOX_IMAGE
from tests.agent.conftest import eventually, pod_body
from tests.agent.test_agent_cli import start_agent, stop
from tests.conftest import run_cli


def as_dict(obj):
    return obj if isinstance(obj, dict) else api.dump(obj)


async def test_a_node_token_reads_what_its_pod_names(client, api_server, tmp_path):
    made = run_cli(
        "--config",
        str(api_server.directory / "navarch.yaml"),
        "token",
        "add",
        "--role",
        "node",
        "--name",
        "vol-token-node",
        "-o",
        "kubeconfig",
    )
    assert made.returncode == 0, made.stderr
    kubeconfig = tmp_path / "node.kubeconfig"
    kubeconfig.write_text(made.stdout)
    assert yaml.safe_load(made.stdout)["users"][0]["name"] == "system:node:vol-token-node"
    agent = start_agent(
        tmp_path,
        "--kubeconfig",
        str(kubeconfig),
        "--runtime",
        "sim",
        "--node-name",
        "vol-token-node",
        settings={"pod_resync_seconds": 1, "backoff_initial_seconds": 1, "backoff_max_seconds": 2},
    )
    body = pod_body(
        "tok-vol",
        "vol-token-node",
        image=BUSYBOX_IMAGE,
        container={
            "env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "tok-db", "key": "pw"}}}],
            "volumeMounts": [{"name": "cfg", "mountPath": "/etc/app"}],
        },
        volumes=[{"name": "cfg", "configMap": {"name": "tok-cm"}}],
    )
    try:
        secret = {"metadata": {"name": "tok-db"}, "data": {"pw": base64.b64encode(b"x").decode()}}
        await client.secrets.create(secret, "default")
        uid = as_dict(await client.pods.create(body))["metadata"]["uid"]

        async def waiting():
            status = as_dict(await client.pods.get("tok-vol", "default")).get("status") or {}
            for cs in status.get("containerStatuses") or []:
                return (cs["state"].get("waiting") or {}).get("message")
            return None

        message = await eventually(waiting, "the pod waiting for its ConfigMap")
        assert message == 'MountVolume.SetUp failed for volume "cfg" : configmap "tok-cm" not found'
        await client.configmaps.create(
            {"metadata": {"name": "tok-cm"}, "data": {"k": "v1"}}, "default"
        )

        async def running():
            status = as_dict(await client.pods.get("tok-vol", "default")).get("status") or {}
            return status.get("phase") == "Running"

        await eventually(running, "Running once the ConfigMap exists")
        volume = tmp_path / "data" / "agent" / "pods" / uid / "volumes"
        written = volume / "kubernetes.io~configmap" / "cfg" / "k"
        assert written.read_text() == "v1"
        cm = as_dict(await client.configmaps.get("tok-cm", "default"))
        cm["data"] = {"k": "v2"}
        await client.configmaps.update(cm)

        async def updated():
            return written.exists() and written.read_text() == "v2"

        await eventually(updated, "the change written under the node's token")
        await client.pods.delete("tok-vol", "default", grace_period_seconds=0)

        async def removed():
            return not (tmp_path / "data" / "agent" / "pods" / uid).exists()

        await eventually(removed, "the pod's volumes removed")
        log = (tmp_path / "agent.log").read_text()
        assert "Forbidden" not in log and "no relationship" not in log, log[-3000:]
    finally:
        assert stop(agent) == 0, (tmp_path / "agent.log").read_text()[-3000:]
        unmount_under((tmp_path,))  # a failed test's pod may still hold a tmpfs
