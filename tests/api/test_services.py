"""Services on the API server (issue 24 item 3): Kubernetes' defaults and rules, and
ClusterIP / NodePort allocation kept in the store — a taken or out-of-range address is
422 naming the field, a deleted Service's or a changed type's addresses are freed,
500 Services created at once get 500 distinct ClusterIPs, kubectl shows them."""

from __future__ import annotations

import asyncio
import ipaddress
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest

from .test_api import raw

SERVICES = "/api/v1/namespaces/default/services"
JSON = {"Content-Type": "application/json"}
SERVICE_CIDR = ipaddress.ip_network("10.43.0.0/16")
MANIFESTS = Path(__file__).parent.parent / "fixtures/manifests/k8s-docs"


def service(name: str, **spec) -> dict:
    spec.setdefault("ports", [{"port": 80}])
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


async def post(api_server, obj: dict) -> tuple[int, dict]:
    status, body, _ = await raw(api_server, "POST", SERVICES, body=orjson.dumps(obj), headers=JSON)
    return status, body


async def put(api_server, obj: dict) -> tuple[int, dict]:
    path = f"{SERVICES}/{obj['metadata']['name']}"
    status, body, _ = await raw(api_server, "PUT", path, body=orjson.dumps(obj), headers=JSON)
    return status, body


async def delete(api_server, name: str) -> None:
    status, _, _ = await raw(api_server, "DELETE", f"{SERVICES}/{name}")
    assert status == 200


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


async def test_defaults_and_an_allocated_cluster_ip(api_server):
    status, body = await post(api_server, service("defaults", selector={"app": "web"}))
    assert status == 201, body
    spec = body["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["sessionAffinity"] == "None"
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    assert spec["ipFamilies"] == ["IPv4"] and spec["ipFamilyPolicy"] == "SingleStack"
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert "externalTrafficPolicy" not in spec
    assert ipaddress.ip_address(spec["clusterIP"]) in SERVICE_CIDR
    assert spec["clusterIPs"] == [spec["clusterIP"]]


async def test_a_taken_or_out_of_range_cluster_ip_is_422_naming_the_field(api_server):
    status, first = await post(api_server, service("first", clusterIP="10.43.0.200"))
    assert status == 201, first
    status, body = await post(api_server, service("second", clusterIP="10.43.0.200"))
    assert status == 422
    assert causes(body) == [
        (
            "spec.clusterIPs[0]",
            'Invalid value: "10.43.0.200": failed to allocate IP 10.43.0.200: '
            "provided IP is already allocated",
        )
    ]
    status, body = await post(api_server, service("third", clusterIP="10.96.0.5"))
    assert status == 422
    assert causes(body) == [
        (
            "spec.clusterIPs[0]",
            'Invalid value: "10.96.0.5": failed to allocate IP 10.96.0.5: the provided IP '
            "(10.96.0.5) is not in the valid range. The range of valid IPs is 10.43.0.0/16",
        )
    ]
    # Deleting the holder frees the address: the next Service asking for it gets it.
    await delete(api_server, "first")

    async def taken_again() -> int:
        status, _ = await post(api_server, service("second", clusterIP="10.43.0.200"))
        return status

    for _ in range(100):  # the release runs just after the delete's answer
        if await taken_again() == 201:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("10.43.0.200 was not freed by deleting its Service")


async def test_node_ports_allocated_taken_out_of_range_and_freed_on_type_change(api_server):
    status, body = await post(api_server, service("np-auto", type="NodePort"))
    assert status == 201, body
    assert 30000 <= body["spec"]["ports"][0]["nodePort"] <= 32767
    assert body["spec"]["externalTrafficPolicy"] == "Cluster"

    status, body = await post(
        api_server, service("np-1", type="NodePort", ports=[{"port": 80, "nodePort": 30100}])
    )
    assert status == 201, body
    status, body = await post(
        api_server, service("np-2", type="NodePort", ports=[{"port": 80, "nodePort": 30100}])
    )
    assert status == 422
    assert causes(body) == [
        ("spec.ports[0].nodePort", "Invalid value: 30100: provided port is already allocated")
    ]
    status, body = await post(
        api_server, service("np-3", type="NodePort", ports=[{"port": 80, "nodePort": 8080}])
    )
    assert status == 422
    assert causes(body) == [
        (
            "spec.ports[0].nodePort",
            "Invalid value: 8080: provided port is not in the valid range. "
            "The range of valid ports is 30000-32767",
        )
    ]
    # NodePort -> ClusterIP drops the port (it is not asked for again) and frees it.
    status, current, _ = await raw(api_server, "GET", f"{SERVICES}/np-1")
    current["spec"]["type"] = "ClusterIP"
    del current["spec"]["externalTrafficPolicy"]
    status, body = await put(api_server, current)
    assert status == 200, body
    assert "nodePort" not in body["spec"]["ports"][0]
    status, body = await post(
        api_server, service("np-2", type="NodePort", ports=[{"port": 80, "nodePort": 30100}])
    )
    assert status == 201, body


async def test_cluster_ip_may_not_change_and_is_kept_when_left_out(api_server):
    status, created = await post(api_server, service("immutable"))
    assert status == 201
    ip = created["spec"]["clusterIP"]
    changed = {
        **created,
        "spec": {**created["spec"], "clusterIP": "10.43.0.201", "clusterIPs": ["10.43.0.201"]},
    }
    status, body = await put(api_server, changed)
    assert status == 422
    assert [f for f, _ in causes(body)] == ["spec.clusterIPs[0]"]
    assert "may not change once set" in causes(body)[0][1]
    # A manifest without a clusterIP (kubectl apply, replace) keeps the allocated one.
    status, body = await put(api_server, service("immutable", selector={"app": "x"}))
    assert status == 200, body
    assert body["spec"]["clusterIP"] == ip


async def test_headless_external_name_and_type_change_to_external_name(api_server):
    status, body = await post(api_server, service("headless", clusterIP="None", ports=[]))
    assert status == 201, body
    assert body["spec"]["clusterIP"] == "None"
    status, body = await post(
        api_server,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "ext"},
            "spec": {"type": "ExternalName", "externalName": "my.database.example.com"},
        },
    )
    assert status == 201, body
    assert "clusterIP" not in body["spec"] and "internalTrafficPolicy" not in body["spec"]
    status, body = await post(
        api_server, service("bad-ext", type="ExternalName", clusterIP="10.43.0.9")
    )
    assert status == 422
    assert ("spec.clusterIPs", "Forbidden: may not be set for ExternalName services") in causes(
        body
    )
    status, body = await post(api_server, service("np-headless", type="NodePort", clusterIP="None"))
    assert status == 422
    assert causes(body)[0][0] == "spec.clusterIPs[0]"
    # ClusterIP -> ExternalName frees the address (a ClusterIP Service may then take it).
    status, body = await post(api_server, service("to-ext", clusterIP="10.43.0.202"))
    assert status == 201, body
    body["spec"] = {"type": "ExternalName", "externalName": "example.com"}
    status, body = await put(api_server, body)
    assert status == 200, body
    assert "clusterIP" not in body["spec"]
    status, body = await post(api_server, service("took-it", clusterIP="10.43.0.202"))
    assert status == 201, body


async def test_bad_services_are_422_with_kubernetes_messages(api_server):
    status, body = await post(api_server, service("Bad_Name"))
    assert status == 422
    assert causes(body)[0][0] == "metadata.name"
    status, body = await post(api_server, service("no-ports", ports=[]))
    assert status == 422 and causes(body) == [("spec.ports", "Required value")]
    status, body = await post(api_server, service("two-ports", ports=[{"port": 80}, {"port": 81}]))
    assert status == 422
    assert ("spec.ports[0].name", "Required value") in causes(body)
    status, body = await post(
        api_server, service("cip-np", ports=[{"port": 80, "nodePort": 30200}])
    )
    assert status == 422
    assert causes(body) == [
        ("spec.ports[0].nodePort", "Forbidden: may not be used when `type` is 'ClusterIP'")
    ]
    status, body = await post(api_server, service("big-port", ports=[{"port": 70000}]))
    assert status == 422
    assert (
        "spec.ports[0].port",
        "Invalid value: 70000: must be between 1 and 65535, inclusive",
    ) in causes(body)


async def test_500_services_created_at_once_get_500_distinct_cluster_ips(api_server):
    async def create(i: int) -> str:
        for _ in range(50):  # 429 under the in-flight limit: try again
            status, body = await post(api_server, service(f"many-{i}"))
            if status == 201:
                return body["spec"]["clusterIP"]
            assert status == 429, body
            await asyncio.sleep(0.2)
        raise AssertionError(f"many-{i} was never created")

    ips = await asyncio.gather(*(create(i) for i in range(500)))
    assert len(set(ips)) == 500
    assert all(ipaddress.ip_address(ip) in SERVICE_CIDR for ip in ips)


def test_kubectl_applies_the_documentation_services_and_shows_them(kubectl):
    kubectl("apply", "-f", str(MANIFESTS / "service-my-service.yaml"))
    kubectl("apply", "-f", str(MANIFESTS / "service-nodeport.yaml"))
    # Applying again changes nothing (the allocated ClusterIP is kept).
    assert "unchanged" in kubectl("apply", "-f", str(MANIFESTS / "service-my-service.yaml"))
    lines = kubectl("get", "svc", "my-service", "my-nodeport-service", "-o", "wide").splitlines()
    assert lines[0].split() == [
        "NAME",
        "TYPE",
        "CLUSTER-IP",
        "EXTERNAL-IP",
        "PORT(S)",
        "AGE",
        "SELECTOR",
    ]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["my-service"][1] == "ClusterIP"
    assert ipaddress.ip_address(rows["my-service"][2]) in SERVICE_CIDR
    assert rows["my-service"][3:5] == ["<none>", "80/TCP"]
    assert rows["my-service"][6] == "app.kubernetes.io/name=MyApp"
    assert rows["my-nodeport-service"][1] == "NodePort"
    assert rows["my-nodeport-service"][4] == "80:30007/TCP"
