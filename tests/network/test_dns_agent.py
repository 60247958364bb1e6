"""Cluster DNS through the agent (issue 24 item 6): an agent with ``dns_address`` set
serves the cluster's names and announces its server on its Node, and every container
finds its pod's resolv.conf at /etc/resolv.conf (the simulated runtime reads the
mounted file as a container would)."""

from __future__ import annotations

import attrs
import dns.asyncquery
import dns.message
import pytest

from navarch import api
from navarch.client.errors import NotFound
from navarch.dns import ADDRESS_ANNOTATION
from navarch.runtime import labels
from navarch.testing.daemon import free_port
from navarch.testing.images import BUSYBOX_IMAGE
from navarch.testing.waiting import eventually
from tests.agent.conftest import FAST, build_runtime, pod_body, running_agent

NODE = "dns-agent-node"


@pytest.fixture
def runtime(tmp_path):
    return build_runtime("sim", {}, tmp_path / "sim")


async def read_in(runtime, pod: str, path: str) -> str:
    containers = await runtime.list_containers({labels.POD_NAME: pod})
    running = [c for c in containers if c.state.value == "running"]
    if not running:
        return ""
    result = await runtime.exec_sync(running[0].id, ["cat", path], 10)
    return result.stdout.decode()


async def test_the_agent_serves_dns_and_its_pods_resolve_through_the_cluster(
    api_server, client, runtime, tmp_path
):
    port = free_port()
    settings = attrs.evolve(FAST, data_dir=tmp_path / "agent", dns_address=f"127.0.0.1:{port}")
    async with running_agent(client, runtime, NODE, settings):

        async def announced() -> bool:
            try:
                node = await client.nodes.get(NODE)
            except NotFound:  # not registered yet
                return False
            return (node.metadata.annotations or {}).get(ADDRESS_ANNOTATION) == (
                f"127.0.0.1:{port}"
            )

        await eventually(announced, "the agent's DNS server announced", [api_server])
        query = dns.message.make_query("kubernetes.default.svc.cluster.local", "A")
        reply = await dns.asyncquery.udp(query, "127.0.0.1", port=port, timeout=10)
        assert [r.to_text() for rrset in reply.answer for r in rrset] == ["10.43.0.1"]

        await client.pods.create(pod_body("dns-pod", NODE, image=BUSYBOX_IMAGE))
        await client.pods.create(
            pod_body(
                "dns-none",
                NODE,
                image=BUSYBOX_IMAGE,
                dnsPolicy="None",
                dnsConfig={"nameservers": ["192.0.2.1"], "searches": ["example.test"]},
            )
        )

        async def resolv_conf(pod: str) -> str:
            return await read_in(runtime, pod, "/etc/resolv.conf")

        async def cluster_first() -> bool:
            return await resolv_conf("dns-pod") == (
                "search default.svc.cluster.local svc.cluster.local cluster.local"
                + "".join(f" {s}" for s in _host_searches())
                + "\nnameserver 10.43.0.10\noptions ndots:5\n"
            )

        await eventually(cluster_first, "the ClusterFirst resolv.conf", [api_server])

        async def only_dns_config() -> bool:
            return await resolv_conf("dns-none") == ("search example.test\nnameserver 192.0.2.1\n")

        await eventually(only_dns_config, "the dnsPolicy None resolv.conf", [api_server])

        for name in ("dns-pod", "dns-none"):
            await client.pods.delete(name, "default", grace_period_seconds=0)
    # The agent stopped: its announcement is taken back.
    node = api.dump(await client.nodes.get(NODE))
    assert ADDRESS_ANNOTATION not in (node["metadata"].get("annotations") or {})


def _host_searches() -> tuple[str, ...]:
    from navarch.agent.dnsconfig import ResolvConf

    return ResolvConf.of_host().searches
