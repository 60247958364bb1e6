"""The NetworkPolicy enforcer against a real API server (issue 24 item 9): policies,
pods and namespaces come from its informers, the table follows their changes (a policy
created, a pod relabelled, a namespace relabelled, policies deleted), stopping keeps
the table (pods stay isolated while the agent restarts) and remove() deletes it; the
host's nftables tables are unchanged throughout.

The enforcer runs with read-only credentials of its own (a viewer's): a node's may not
list every pod nor any NetworkPolicy (Kubernetes' Node authoriser), see
navarch.netpol.enforcer."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import pytest_asyncio
from netpol_lab import Lab, host_tables, lab

from navarch.apiserver.server import token_file
from navarch.client import Client, Forbidden, Unauthorized
from navarch.client.kubeconfig import KubeConfig, load_kubeconfig
from navarch.config import load_config
from navarch.netpol.enforcer import PolicyEnforcer
from navarch.netpol.ruleset import Nft
from navarch.testing.waiting import eventually

NAMESPACE_LABELS = {"shop": {"team": "shop"}, "other": {"team": "other"}}


def policy(name: str, **spec) -> dict:
    spec.setdefault("podSelector", {})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": spec,
    }


async def _client_for(api_server, role: str, name: str) -> Client:
    """A client with a new token of ``role``, once the server knows it (it reads new
    users without a restart, looking at the file at most once a second)."""
    config = load_config(file=None, env={}, overrides=[f"data_dir={api_server.data_dir}"])
    token = token_file(config).add(role, name)
    admin = load_kubeconfig(api_server.kubeconfig)
    client = Client(KubeConfig(server=admin.server, token=token, ca_data=admin.ca_data))

    async def known() -> bool:
        try:
            await client.namespaces.get("default")
        except Unauthorized:
            return False
        return True

    await eventually(known, f"the server accepts the new {role} token")
    return client


@pytest_asyncio.fixture
async def enforcer_client(api_server):
    client = await _client_for(api_server, "viewer", "netpol-enforcer")
    yield client
    await client.close()


async def test_a_node_may_not_read_what_the_enforcer_needs(api_server):
    node = await _client_for(api_server, "node", "node-a")
    try:
        with pytest.raises(Forbidden):
            await node.pods.list("")
        with pytest.raises(Forbidden):
            await node.resource("networkpolicies").list("")
    finally:
        await node.close()


async def reach(net: Lab, source: str, target: str, port: int) -> str:
    return await asyncio.to_thread(net.reach, source, target, port)


async def answers(net: Lab, source: str, target: str, port: int, expected_ok: bool) -> bool:
    return (await reach(net, source, target, port) == "ok") == expected_ok


async def register(client, net: Lab) -> None:
    for name, labels in NAMESPACE_LABELS.items():
        await client.namespaces.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
        )
    for pod in net.pods.values():
        await client.pods.create(pod.manifest(), pod.namespace)
        stored = pod.manifest()
        stored["metadata"] = (await client.pods.get(pod.name, pod.namespace)).metadata.to_dict()
        stored["status"] = {"phase": "Running", "podIP": pod.ip}
        await client.pods.update_status(stored, pod.namespace)


async def test_the_enforcer_follows_policies_pods_and_namespaces(client, enforcer_client):
    before = host_tables()
    with lab() as net:
        await register(client, net)
        # Off, so that bridged traffic would bypass the forward hook: the enforcer
        # turns it on in the node's namespace (Nft.prepare).
        net.node_a.run(["sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=0"])
        nft = Nft(net.nft_prefix())
        enforcer = PolicyEnforcer(enforcer_client, "node-a", nft=nft)
        task = asyncio.create_task(enforcer.run())
        try:
            await eventually(lambda: _true(enforcer.syncs >= 1), "the first table applied")
            assert await reach(net, "client", "web", 8080) == "ok"

            policies = client.resource("networkpolicies")
            await policies.create(policy("default-deny"))
            await eventually(
                lambda: answers(net, "client", "web", 8080, False), "default deny blocks pod to pod"
            )
            assert await reach(net, "stranger", "web", 9090) != "ok"
            assert await reach(net, "remote", "web", 9090) != "ok"

            await policies.create(
                policy(
                    "allow-clients",
                    podSelector={"matchLabels": {"app": "web"}},
                    ingress=[
                        {
                            "from": [
                                {"podSelector": {"matchLabels": {"app": "client"}}},
                                {"namespaceSelector": {"matchLabels": {"team": "friends"}}},
                            ],
                            "ports": [{"port": "http"}],
                        }
                    ],
                )
            )
            await eventually(
                lambda: answers(net, "client", "web", 8080, True), "the allow rule opens http"
            )
            assert await reach(net, "client", "web", 9090) != "ok"
            assert await reach(net, "stranger", "web", 8080) != "ok"

            # A pod relabelled out of the rule's selector loses the way in.
            client_pod = await client.pods.get("client", "shop")
            relabelled = client_pod.to_dict()
            relabelled["metadata"]["labels"] = {"app": "nobody"}
            await client.pods.update(relabelled, "shop")
            await eventually(
                lambda: answers(net, "client", "web", 8080, False), "a relabelled pod is blocked"
            )
            # A namespace relabelled into the rule's namespaceSelector gains it.
            other = (await client.namespaces.get("other")).to_dict()
            other["metadata"]["labels"] = {"team": "friends"}
            await client.namespaces.update(other)
            await eventually(
                lambda: answers(net, "stranger", "web", 8080, True),
                "a relabelled namespace's pod gets through",
            )

            await policies.delete("allow-clients", "shop")
            await policies.delete("default-deny", "shop")
            await eventually(
                lambda: answers(net, "client", "web", 9090, True), "no policy: traffic restored"
            )
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # Stopped: the table stays, so pods stay isolated while the agent restarts.
        assert "table inet navarch-policy" in await nft.listing()
        await enforcer.remove()
        assert await nft.listing() == ""
    assert host_tables() == before


async def _true(value: bool) -> bool:
    return value
