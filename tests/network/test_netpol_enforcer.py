"""The NetworkPolicy enforcer against a real API server (issue 24 item 9): policies,
pods and namespaces come from its informers, the table follows their changes (a policy
created, a pod relabelled, a namespace relabelled, policies deleted), stopping keeps
the table (pods stay isolated while the agent restarts) and remove() deletes it; the
host's nftables tables are unchanged throughout.

The enforcer runs with the admin's credentials: a node's may not list every pod
(Kubernetes' Node authoriser), see navarch.netpol.enforcer."""

from __future__ import annotations

import asyncio
import contextlib

from netpol_lab import Lab, host_tables, lab

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


async def test_the_enforcer_follows_policies_pods_and_namespaces(client):
    before = host_tables()
    with lab() as net:
        await register(client, net)
        # Off, so that bridged traffic would bypass the forward hook: the enforcer
        # turns it on in the node's namespace (Nft.prepare).
        net.node_a.run(["sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=0"])
        nft = Nft(net.nft_prefix())
        enforcer = PolicyEnforcer(client, "node-a", nft=nft)
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
