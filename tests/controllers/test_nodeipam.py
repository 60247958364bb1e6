"""The node IPAM controller with everything real (issue 24 item 2): an API server,
``navarch controllers`` running ``node-ipam``, Nodes written by hand. Nodes get the
lowest free /24 of 10.42.0.0/16 in the order they come; a controller manager started
afresh, or a leader-elected standby taking over from a killed leader, hands out no
range a Node holds; a deleted Node's range is given again; an
exhausted cluster CIDR is a ``CIDRNotAvailable`` Event, and a deletion then serves the
Node that waited."""

from __future__ import annotations

import ipaddress
import re
import signal
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from navarch import api
from navarch.client import Client
from navarch.controllers.nodeipam import NodeIPAMOptions, RangeSet
from navarch.options import OptionsError, structure_options
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.cluster import NO_ELECTION
from navarch.testing.controllermanager import ControllerManagerProcess
from navarch.testing.waiting import eventually

# Short election times, so that a take-over is seen in seconds.
FAST_ELECTION = {
    "enabled": True,
    "lease_duration_seconds": 4,
    "renew_deadline_seconds": 3,
    "retry_period_seconds": 1,
}


def manager(
    root, server: ApiServerProcess, name: str, election=NO_ELECTION, **options: Any
) -> ControllerManagerProcess:
    controllers: dict[str, Any] = {"enabled": ["node-ipam"]}
    if options:
        controllers["options"] = {"node-ipam": options}
    return ControllerManagerProcess(
        root / name,
        server.kubeconfig,
        settings={"leader_election": election, "controllers": controllers},
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("nodeipam")
    with ApiServerProcess(root / "apiserver") as server:
        yield root, server


@pytest_asyncio.fixture
async def client(server) -> AsyncIterator[Client]:
    _, apiserver = server
    async with Client.from_kubeconfig(apiserver.kubeconfig) as client:
        yield client


async def add_node(client: Client, name: str) -> None:
    await client.nodes.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})


async def cidr_of(client: Client, name: str) -> str | None:
    spec = api.dump(await client.nodes.get(name)).get("spec") or {}
    return spec.get("podCIDR")


async def wait_cidr(client: Client, name: str, daemon: ControllerManagerProcess) -> str:
    async def given() -> str | None:
        return await cidr_of(client, name)

    await eventually(given, f"node {name} gets a pod CIDR", [daemon])
    spec = api.dump(await client.nodes.get(name))["spec"]
    assert spec["podCIDRs"] == [spec["podCIDR"]]
    return spec["podCIDR"]


async def test_ranges_in_order_kept_across_a_restart_and_freed_by_deletion(server, client):
    root, apiserver = server
    first = manager(root, apiserver, "first").start()
    try:
        given = []
        for name in ("a1", "a2", "a3"):
            await add_node(client, name)
            given.append(await wait_cidr(client, name, first))
    finally:
        first.stop()
    assert given == ["10.42.0.0/24", "10.42.1.0/24", "10.42.2.0/24"]

    # A Node joins while no controller runs; a new controller manager (a restart, or
    # a standby taking over) learns the taken ranges from the Nodes and gives the next.
    await add_node(client, "a4")
    second = manager(root, apiserver, "second").start()
    try:
        assert await wait_cidr(client, "a4", second) == "10.42.3.0/24"
        # Deleting a Node frees its range: the lowest free one is given again.
        await client.nodes.delete("a2")
        await add_node(client, "a5")
        assert await wait_cidr(client, "a5", second) == "10.42.1.0/24"
        await add_node(client, "a6")
        assert await wait_cidr(client, "a6", second) == "10.42.4.0/24"
    finally:
        second.stop()
    cidrs = [await cidr_of(client, n) for n in ("a1", "a3", "a4", "a5", "a6")]
    assert len(set(cidrs)) == len(cidrs)


async def test_an_exhausted_cluster_cidr_is_an_event_and_a_deletion_serves_the_waiting(
    server, client
):
    root, apiserver = server
    # Two /24s only; the other test's Nodes hold ranges of 10.42.0.0/16, outside it.
    small = manager(root, apiserver, "small", cluster_cidr="10.99.0.0/23", node_cidr_mask_size=24)
    small.start()
    try:
        await add_node(client, "b1")
        assert await wait_cidr(client, "b1", small) == "10.99.0.0/24"
        await add_node(client, "b2")
        assert await wait_cidr(client, "b2", small) == "10.99.1.0/24"
        await add_node(client, "b3")

        async def told() -> list[dict]:
            events = [api.dump(e) for e in (await client.events.list("default")).items]
            return [
                e
                for e in events
                if e["involvedObject"].get("name") == "b3" and e["reason"] == "CIDRNotAvailable"
            ]

        await eventually(told, "a CIDRNotAvailable Event about node b3", [small])
        [event] = await told()
        assert event["type"] == "Warning"
        assert event["involvedObject"]["kind"] == "Node"
        assert "10.99.0.0/23" in event["message"]
        assert await cidr_of(client, "b3") is None

        await client.nodes.delete("b1")
        assert await wait_cidr(client, "b3", small) == "10.99.0.0/24"
    finally:
        small.stop()


async def test_a_standby_taking_over_from_a_killed_leader_gives_no_range_twice(server, client):
    root, apiserver = server
    options = {"cluster_cidr": "10.77.0.0/16"}  # apart from the other tests' ranges
    leader = manager(root, apiserver, "leader", FAST_ELECTION, **options).start()
    standby = manager(root, apiserver, "standby", FAST_ELECTION, **options)
    standby.start(wait_leading=False)
    try:
        await add_node(client, "c1")
        assert await wait_cidr(client, "c1", leader) == "10.77.0.0/24"
        await add_node(client, "c2")
        assert await wait_cidr(client, "c2", leader) == "10.77.1.0/24"
        assert not standby.leading_since()
        # SIGKILL: no release; the standby waits the Lease out and leads.
        assert leader.process is not None
        leader.process.send_signal(signal.SIGKILL)
        leader.process.wait(timeout=30)
        await add_node(client, "c3")
        standby.wait_leading(60.0)
        assert await wait_cidr(client, "c3", standby) == "10.77.2.0/24"
    finally:
        leader.stop()
        standby.stop()


def test_the_lowest_free_range_skips_overlapping_and_foreign_ranges():
    ranges = RangeSet(ipaddress.ip_network("10.42.0.0/16"), 24)
    assert ranges.lowest_free([]) == "10.42.0.0/24"
    # A /23 held by hand covers two /24s; a range outside the cluster CIDR, an IPv6
    # range and a malformed one take nothing.
    taken = ["10.42.0.0/23", "192.168.0.0/24", "fd00::/64", "nonsense"]
    assert ranges.lowest_free(taken) == "10.42.2.0/24"
    assert ranges.lowest_free([f"10.42.{i}.0/24" for i in range(256)]) is None
    v6 = RangeSet(ipaddress.ip_network("fd00:42::/56"), 64)
    assert v6.lowest_free(["fd00:42::/64"]) == "fd00:42:0:1::/64"


def test_options_are_checked_against_each_other():
    with pytest.raises(OptionsError, match="node_cidr_mask_size = 8: must be between"):
        structure_options(
            NodeIPAMOptions, {"node_cidr_mask_size": 8}, where="controllers.options.node-ipam"
        )
    with pytest.raises(OptionsError, match=re.escape("cluster_cidr = '10.42.0.0/33'")):
        structure_options(
            NodeIPAMOptions, {"cluster_cidr": "10.42.0.0/33"}, where="controllers.options.node-ipam"
        )
