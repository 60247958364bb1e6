"""The endpoints of a Service, as pure functions (issue 24 item 4): conditions from the
pod's and its node's readiness, named target ports, hostNetwork pods at their node's
address, slices cut at 100 endpoints and grouped by port set."""

from __future__ import annotations

from navarch.controllers.endpoints import subsets
from navarch.controllers.endpointslice import desired_slices
from navarch.controllers.endpointslice_plan import endpoints_of


def node(name: str, ready: bool, ip: str = "10.250.0.1", zone: str = "") -> dict:
    labels = {"topology.kubernetes.io/zone": zone} if zone else {}
    return {
        "metadata": {"name": name, "labels": labels},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "addresses": [{"type": "InternalIP", "address": ip}],
        },
    }


def pod(
    name: str, node_name: str = "n1", ip: str | None = "10.42.0.1", ready: bool = True, **more
) -> dict:
    status: dict = {"phase": "Running", "conditions": [{"type": "Ready", "status": str(ready)}]}
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    spec = {
        "nodeName": node_name,
        "containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}],
        **more.pop("spec", {}),
    }
    return {
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", **more},
        "spec": spec,
        "status": status,
    }


SERVICE = {
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "selector": {"app": "web"},
        "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
    },
}
NODES = {"n1": node("n1", True, zone="a"), "n2": node("n2", False, ip="10.250.0.2")}


def test_conditions_follow_the_pod_and_its_node():
    found = {
        e.pod_name: e
        for e in endpoints_of(
            SERVICE,
            [
                pod("ready"),
                pod("not-ready", ip="10.42.0.2", ready=False),
                pod("on-dead-node", node_name="n2", ip="10.42.1.3"),
                pod("no-ip", ip=None),
                pod("finished", ip="10.42.0.9")
                | {"status": {"phase": "Succeeded", "podIP": "10.42.0.9"}},
                pod("leaving", ip="10.42.0.4", deletionTimestamp="2026-01-01T00:00:00Z"),
                pod("host", ip=None, spec={"hostNetwork": True}),
            ],
            NODES,
        )
    }
    assert set(found) == {"ready", "not-ready", "on-dead-node", "leaving", "host"}
    assert (found["ready"].ready, found["ready"].serving, found["ready"].terminating) == (
        True,
        True,
        False,
    )
    assert found["ready"].zone == "a" and found["ready"].node_name == "n1"
    assert found["ready"].ports == (("http", "TCP", 8080),)  # the named port, resolved
    assert (found["not-ready"].ready, found["not-ready"].serving) == (False, False)
    assert (found["on-dead-node"].ready, found["on-dead-node"].serving) == (False, False)
    assert (found["leaving"].ready, found["leaving"].serving, found["leaving"].terminating) == (
        False,
        True,
        True,
    )
    assert found["host"].ip == "10.250.0.1"
    # The legacy Endpoints: ready ones in addresses, terminating ones left out.
    [subset] = subsets(list(found.values()), publish_not_ready=False)
    assert [a["ip"] for a in subset["addresses"]] == ["10.250.0.1", "10.42.0.1"]
    assert [a["ip"] for a in subset["notReadyAddresses"]] == ["10.42.0.2", "10.42.1.3"]
    assert subset["ports"] == [{"name": "http", "protocol": "TCP", "port": 8080}]


def test_publish_not_ready_addresses_makes_every_endpoint_ready():
    service = {**SERVICE, "spec": {**SERVICE["spec"], "publishNotReadyAddresses": True}}
    [endpoint] = endpoints_of(service, [pod("not-ready", ready=False)], NODES)
    assert endpoint.ready and not endpoint.serving


def test_slices_hold_at_most_100_endpoints_and_one_port_set_each():
    pods = [pod(f"p{i:03}", ip=f"10.42.{i // 250}.{i % 250 + 1}") for i in range(250)]
    other = pod("other-port", ip="10.42.9.9")
    other["spec"]["containers"][0]["ports"][0]["containerPort"] = 9090
    slices = desired_slices(SERVICE, endpoints_of(SERVICE, [*pods, other], NODES), 100)
    assert [len(s["endpoints"]) for s in slices] == [100, 100, 50, 1]
    assert [s["ports"][0]["port"] for s in slices] == [8080, 8080, 8080, 9090]
    assert {s["addressType"] for s in slices} == {"IPv4"}


def test_a_service_with_no_endpoints_keeps_one_empty_slice():
    [placeholder] = desired_slices(SERVICE, [], 100)
    assert placeholder == {"addressType": "IPv4", "ports": None, "endpoints": []}
