"""A Node's pod CIDR on a real API server (issue 24 item 2): ``spec.podCIDR`` and
``spec.podCIDRs`` are served (no "ignored" warning), fill each other, are validated as
Kubernetes' ValidateNode does, and are given once: from none to a range, never
changed after (ValidateNodeUpdate)."""

from __future__ import annotations

import orjson

from .test_api import raw

NODES = "/api/v1/nodes"
JSON = {"Content-Type": "application/json"}
MERGE = {"Content-Type": "application/merge-patch+json"}


def node(name: str, **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": spec}


async def post(api_server, obj: dict) -> tuple[int, dict, dict]:
    return await raw(api_server, "POST", NODES, body=orjson.dumps(obj), headers=JSON)


async def patch(api_server, name: str, body: dict) -> tuple[int, dict]:
    status, answer, _ = await raw(
        api_server, "PATCH", f"{NODES}/{name}", body=orjson.dumps(body), headers=MERGE
    )
    return status, answer


def causes(body: dict) -> list[tuple[str, str]]:
    return [(c["field"], c["message"]) for c in body["details"]["causes"]]


async def test_pod_cidr_fields_are_served_and_fill_each_other(api_server):
    status, body, headers = await post(api_server, node("cidr-one", podCIDR="10.42.3.0/24"))
    assert status == 201, body
    assert body["spec"]["podCIDR"] == "10.42.3.0/24"
    assert body["spec"]["podCIDRs"] == ["10.42.3.0/24"]
    assert "podCIDR" not in headers.get("warning", "")
    status, body, _ = await post(
        api_server, node("cidr-dual", podCIDRs=["10.42.4.0/24", "fd00:42:4::/64"])
    )
    assert status == 201, body
    assert body["spec"]["podCIDR"] == "10.42.4.0/24"


async def test_bad_pod_cidrs_are_422_naming_the_field(api_server):
    status, body, _ = await post(api_server, node("cidr-bad", podCIDR="10.42.300.0/24"))
    assert status == 422
    assert causes(body) == [
        (
            "spec.podCIDRs[0]",
            'Invalid value: "10.42.300.0/24": must be a valid CIDR value, '
            "(e.g. 10.9.8.0/24 or 2001:db8::/64)",
        )
    ]
    status, body, _ = await post(
        api_server, node("cidr-two-v4", podCIDRs=["10.42.5.0/24", "10.42.6.0/24"])
    )
    assert status == 422
    assert [(f, m.split(": ")[-1]) for f, m in causes(body)] == [
        ("spec.podCIDRs", "may specify no more than one CIDR for each IP family")
    ]
    status, body, _ = await post(
        api_server, node("cidr-mismatch", podCIDR="10.42.7.0/24", podCIDRs=["10.42.8.0/24"])
    )
    assert status == 422
    assert [f for f, _ in causes(body)] == ["spec.podCIDR"]


async def test_a_pod_cidr_is_given_once_and_never_changed(api_server):
    status, body, _ = await post(api_server, node("cidr-once"))
    assert status == 201, body
    assert "podCIDR" not in body["spec"]
    status, body = await patch(api_server, "cidr-once", {"spec": {"podCIDR": "10.42.9.0/24"}})
    assert status == 200, body
    assert body["spec"]["podCIDRs"] == ["10.42.9.0/24"]
    # The same value again is no change; another is refused.
    status, body = await patch(
        api_server,
        "cidr-once",
        {"spec": {"podCIDR": "10.42.9.0/24", "podCIDRs": ["10.42.9.0/24"]}},
    )
    assert status == 200, body
    status, body = await patch(
        api_server,
        "cidr-once",
        {"spec": {"podCIDR": "10.42.10.0/24", "podCIDRs": ["10.42.10.0/24"]}},
    )
    assert status == 422
    assert causes(body) == [
        ("spec.podCIDRs", 'Forbidden: node updates may not change podCIDR except from "" to valid')
    ]
    status, body = await patch(
        api_server, "cidr-once", {"spec": {"podCIDR": None, "podCIDRs": None}}
    )
    assert status == 422
    assert [f for f, _ in causes(body)] == ["spec.podCIDRs"]
