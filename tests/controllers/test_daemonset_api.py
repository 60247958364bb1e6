"""The DaemonSet kind on a real API server: Kubernetes' defaults, validation errors
naming the field, the status subresource, generation, and kubectl's columns."""

from __future__ import annotations

import copy

import pytest

from navarch.client.errors import Invalid
from navarch.testing.cluster import Kubectl

DS = {
    "apiVersion": "apps/v1",
    "kind": "DaemonSet",
    "metadata": {"name": "agent", "namespace": "default"},
    "spec": {
        "selector": {"matchLabels": {"app": "agent"}},
        "template": {
            "metadata": {"labels": {"app": "agent"}},
            "spec": {
                "nodeSelector": {"role": "edge", "disk": "ssd"},
                "containers": [{"name": "a", "image": "127.0.0.1:5000/agent:1"}],
            },
        },
    },
}


def _ds(name: str, **spec) -> dict:
    body = copy.deepcopy(DS)
    body["metadata"]["name"] = name
    body["spec"].update(spec)
    return body


async def test_defaults_status_and_generation(client):
    created = await client.daemonsets.create(_ds("defaults"), "default")
    strategy = created.spec.update_strategy
    assert strategy.type == "RollingUpdate"
    assert strategy.rolling_update.max_unavailable == 1
    assert strategy.rolling_update.max_surge == 0
    assert created.spec.revision_history_limit == 10
    assert created.spec.template.spec.restart_policy == "Always"
    assert created.metadata.generation == 1
    assert created.status.desired_number_scheduled == 0
    patched = await client.daemonsets.patch("defaults", {"spec": {"minReadySeconds": 5}}, "default")
    assert patched.metadata.generation == 2
    # the status subresource changes the status only
    body = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "defaults", "resourceVersion": patched.metadata.resource_version},
        "spec": {**DS["spec"], "minReadySeconds": 9},
        "status": {"desiredNumberScheduled": 3, "observedGeneration": 2},
    }
    written = await client.daemonsets.update_status(body, "default")
    assert written.status.desired_number_scheduled == 3
    assert written.spec.min_ready_seconds == 5 and written.metadata.generation == 2


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"selector": {"matchLabels": {"app": "other"}}}, "spec.template.metadata.labels"),
        ({"selector": {}}, "spec.selector"),
        (
            {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}}},
            "spec.updateStrategy.rollingUpdate.maxUnavailable",
        ),
        (
            {
                "updateStrategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1},
                }
            },
            "spec.updateStrategy.rollingUpdate.maxSurge",
        ),
        (
            {
                "updateStrategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": "120%"},
                }
            },
            "spec.updateStrategy.rollingUpdate.maxUnavailable",
        ),
        ({"updateStrategy": {"type": "Recreate"}}, "spec.updateStrategy.type"),
        ({"revisionHistoryLimit": -1}, "spec.revisionHistoryLimit"),
    ],
)
async def test_invalid_daemonsets_name_the_field(client, spec, field):
    with pytest.raises(Invalid) as caught:
        await client.daemonsets.create(_ds("bad", **spec), "default")
    causes = caught.value.status["details"]["causes"]
    assert field in [c["field"] for c in causes], causes


async def test_template_restart_policy_and_selector_immutable(client):
    body = _ds("policy")
    body["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    with pytest.raises(Invalid) as caught:
        await client.daemonsets.create(body, "default")
    assert "spec.template.spec.restartPolicy" in str(caught.value)
    await client.daemonsets.create(_ds("fixed"), "default")
    patch = {
        "spec": {
            "selector": {"matchLabels": {"app": "agent", "x": "y"}},
            "template": {"metadata": {"labels": {"app": "agent", "x": "y"}}},
        }
    }
    with pytest.raises(Invalid) as caught:
        await client.daemonsets.patch("fixed", patch, "default")
    assert "spec.selector" in str(caught.value)


async def test_kubectl_columns(client, api_server):
    await client.daemonsets.create(_ds("printed"), "default")
    kubectl = Kubectl(api_server.kubeconfig)
    out = kubectl("get", "ds", "printed", "-o", "wide").splitlines()
    assert out[0].split() == [
        "NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE",
        "SELECTOR", "AGE", "CONTAINERS", "IMAGES", "SELECTOR",
    ]  # fmt: skip
    cells = out[1].split()
    assert cells[:7] == ["printed", "0", "0", "0", "0", "0", "disk=ssd,role=edge"]
    assert cells[-3:] == ["a", "127.0.0.1:5000/agent:1", "app=agent"]
