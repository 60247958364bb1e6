"""NetworkPolicies on the API server (issue 24 item 9): the Kubernetes documentation's
example through the real kubectl and the official client, Kubernetes' defaults, and
its validation as 422 naming the field."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import orjson
import pytest
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from .test_api import raw

POLICIES = "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies"
JSON = {"Content-Type": "application/json"}
EXAMPLE = Path(__file__).parent.parent / "fixtures/manifests/k8s-docs/networkpolicy.yaml"


def policy(name: str, **spec) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name},
        "spec": spec,
    }


async def post(api_server, obj: dict) -> tuple[int, dict]:
    status, body, _ = await raw(api_server, "POST", POLICIES, body=orjson.dumps(obj), headers=JSON)
    return status, body


def causes(body: dict) -> list[tuple[str, str]]:
    return [(c["field"], c["message"]) for c in body["details"]["causes"]]


@pytest.fixture(scope="module")
def kubectl(api_server, tmp_path_factory):
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.fail("kubectl is not installed on this machine; the compatibility tests need it")
    cache = tmp_path_factory.mktemp("kubectl-cache")

    def run(*args: str) -> str:
        result = subprocess.run(
            [binary, "--kubeconfig", str(api_server.kubeconfig), "--cache-dir", str(cache), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, f"kubectl {' '.join(args)} failed: {result.stderr}"
        return result.stdout

    return run


def test_the_documentation_example_with_kubectl_and_the_official_client(api_server, kubectl):
    created = kubectl("apply", "-f", str(EXAMPLE))
    assert created.strip() == "networkpolicy.networking.k8s.io/test-network-policy created"
    table = kubectl("get", "netpol", "-n", "default").splitlines()
    assert table[0].split() == ["NAME", "POD-SELECTOR", "AGE"]
    assert table[1].split()[:2] == ["test-network-policy", "role=db"]
    described = kubectl("describe", "netpol", "test-network-policy", "-n", "default")
    assert "PodSelector:     role=db" in described
    assert "CIDR: 172.17.0.0/16" in described and "Except: 172.17.1.0/24" in described
    assert "NetworkPolicyPort" in kubectl("explain", "networkpolicy.spec.ingress.ports")
    # Applying it again changes nothing (the stored defaults are no change either).
    assert kubectl("apply", "-f", str(EXAMPLE)).strip().endswith("unchanged")

    api_client = k8s_config.new_client_from_config(config_file=str(api_server.kubeconfig))
    try:
        networking = k8s_client.NetworkingV1Api(api_client)
        read = networking.read_namespaced_network_policy("test-network-policy", "default")
        assert read.spec.pod_selector.match_labels == {"role": "db"}
        assert read.spec.policy_types == ["Ingress", "Egress"]
        peers = read.spec.ingress[0]._from
        assert peers[0].ip_block.cidr == "172.17.0.0/16"
        assert peers[0].ip_block._except == ["172.17.1.0/24"]
        assert peers[1].namespace_selector.match_labels == {"project": "myproject"}
        assert peers[2].pod_selector.match_labels == {"role": "frontend"}
        assert read.spec.egress[0].ports[0].port == 5978
        made = networking.create_namespaced_network_policy(
            "default",
            k8s_client.V1NetworkPolicy(
                metadata=k8s_client.V1ObjectMeta(name="py-deny-all"),
                spec=k8s_client.V1NetworkPolicySpec(pod_selector=k8s_client.V1LabelSelector()),
            ),
        )
        assert made.spec.policy_types == ["Ingress"]
        listed = networking.list_namespaced_network_policy("default")
        assert {"test-network-policy", "py-deny-all"} <= {p.metadata.name for p in listed.items}
        # An empty selector (every pod of the namespace) prints as kubectl prints it.
        row = kubectl("get", "networkpolicy", "py-deny-all", "--no-headers").split()
        assert row[:2] == ["py-deny-all", "<none>"]
        networking.delete_namespaced_network_policy("py-deny-all", "default")
    finally:
        api_client.close()
    assert "deleted" in kubectl("delete", "-f", str(EXAMPLE))


async def test_defaults_are_kubernetes(api_server):
    status, body = await post(
        api_server,
        policy(
            "defaults", egress=[{"ports": [{"port": 53}]}], ingress=[{"ports": [{"port": "dns"}]}]
        ),
    )
    assert status == 201, body
    spec = body["spec"]
    assert spec["podSelector"] == {}
    assert spec["policyTypes"] == ["Ingress", "Egress"]  # Egress because of the egress rule
    assert spec["egress"][0]["ports"] == [{"port": 53, "protocol": "TCP"}]
    assert spec["ingress"][0]["ports"] == [{"port": "dns", "protocol": "TCP"}]
    assert body["metadata"]["generation"] == 1
    status, body = await post(api_server, {**policy("bare"), "spec": None})
    assert status == 201, body
    assert body["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        (
            {"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.300/8"}}]}]},
            "spec.ingress[0].from[0].ipBlock.cidr",
            "must be a valid CIDR value",
        ),
        (
            {
                "ingress": [
                    {"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/16"]}}]}
                ]
            },
            "spec.ingress[0].from[0].ipBlock.except[0]",
            "must be a strict subset of `cidr`",
        ),
        (
            {
                "ingress": [
                    {"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"]}}]}
                ]
            },
            "spec.ingress[0].from[0].ipBlock.except[0]",
            "must be a strict subset of `cidr`",
        ),
        (
            {"egress": [{"ports": [{"port": 90, "endPort": 80}]}]},
            "spec.egress[0].ports[0].endPort",
            "must be greater than or equal to `port`",
        ),
        (
            {"egress": [{"ports": [{"port": "http", "endPort": 80}]}]},
            "spec.egress[0].ports[0].endPort",
            "may not be specified when `port` is non-numeric",
        ),
        (
            {"ingress": [{"ports": [{"port": 70000}]}]},
            "spec.ingress[0].ports[0].port",
            "must be between 1 and 65535, inclusive",
        ),
        (
            {"ingress": [{"ports": [{"protocol": "ICMP", "port": 1}]}]},
            "spec.ingress[0].ports[0].protocol",
            'Unsupported value: "ICMP"',
        ),
        ({"ingress": [{"from": [{}]}]}, "spec.ingress[0].from[0]", "must specify a peer"),
        (
            {
                "egress": [
                    {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]},
                ]
            },
            "spec.egress[0].to[0]",
            "may not specify both ipBlock and another peer",
        ),
        ({"policyTypes": ["Sideways"]}, "spec.policyTypes[0]", 'Unsupported value: "Sideways"'),
        (
            {"podSelector": {"matchExpressions": [{"key": "app", "operator": "Near"}]}},
            "spec.podSelector.matchExpressions[0].operator",
            'Unsupported value: "Near"',
        ),
    ],
)
async def test_invalid_policies_are_422_naming_the_field(api_server, spec, field, message):
    status, body = await post(api_server, policy("bad", **spec))
    assert status == 422, body
    found = causes(body)
    assert any(f == field and message in m for f, m in found), found
