"""A node token reads the Secrets and ConfigMaps of the pods bound to its node, and
nothing else of them: the Node authoriser's graph (issue 23 item 1)."""

from __future__ import annotations

import pytest
import pytest_asyncio

from navarch import hookimpl
from navarch.api.pod_references import pod_references
from navarch.apiserver import authz, requestinfo
from navarch.apiserver.auth import User
from navarch.apiserver.authz import Decision
from navarch.apiserver.nodegraph import NodeAuthorizer, NodeGraph
from navarch.client import Forbidden
from navarch.plugins import build_plugin_manager
from navarch.resources.core import PODS
from navarch.testing.waiting import eventually

from .test_api import raw
from .test_auth import _client_for, tokens  # noqa: F401  (module fixture reused)

NODE = "node-1"  # the node the tokens fixture made a token for


@pytest_asyncio.fixture
async def node_client(api_server, tokens):  # noqa: F811
    client = _client_for(api_server, tokens["node"])
    yield client
    await client.close()


def _secret(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": {"k": "dg=="}}


def _configmap(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}


def _pod(name: str, node: str, *, secret: str = "", configmap: str = "", pull: str = "") -> dict:
    container: dict = {"name": "main", "image": "127.0.0.1:5000/busybox:1"}
    if secret:
        container["env"] = [
            {"name": "S", "valueFrom": {"secretKeyRef": {"name": secret, "key": "k"}}}
        ]
    spec: dict = {"nodeName": node, "containers": [container]}
    if configmap:
        spec["volumes"] = [{"name": "config", "configMap": {"name": configmap}}]
    if pull:
        spec["imagePullSecrets"] = [{"name": pull}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


async def test_node_reads_what_its_own_pods_reference(client, node_client):
    for name in ("own-env", "own-pull"):
        await client.secrets.create(_secret(name), namespace="default")
    await client.configmaps.create(_configmap("own-volume"), namespace="default")
    # Read at once after the pod is bound: the graph may not have seen the pod yet,
    # and the read must not depend on it having done so.
    await client.pods.create(
        _pod("own", NODE, secret="own-env", configmap="own-volume", pull="own-pull"),
        namespace="default",
    )
    assert (await node_client.secrets.get("own-env", "default")).data == {"k": "dg=="}
    assert (await node_client.secrets.get("own-pull", "default")).name == "own-pull"
    assert (await node_client.configmaps.get("own-volume", "default")).data == {"k": "v"}


async def test_node_refused_another_nodes_secret_an_unreferenced_one_and_all(
    api_server,
    tokens,  # noqa: F811
    client,
    node_client,
):
    await client.secrets.create(_secret("elsewhere"), namespace="default")
    await client.secrets.create(_secret("nobodys"), namespace="default")
    await client.configmaps.create(_configmap("elsewhere-cm"), namespace="default")
    await client.pods.create(
        _pod("other", "node-2", secret="elsewhere", configmap="elsewhere-cm"), namespace="default"
    )
    for plural, name in (
        ("secrets", "elsewhere"),
        ("configmaps", "elsewhere-cm"),
        ("secrets", "nobodys"),
    ):
        with pytest.raises(Forbidden) as refused:
            await node_client.resource(plural).get(name, "default")
        assert f"no relationship found between node '{NODE}' and this object" in str(refused.value)
    # Never a list or watch of them all, in a namespace or across namespaces.
    for path in (
        "/api/v1/namespaces/default/secrets",
        "/api/v1/secrets",
        "/api/v1/namespaces/default/configmaps",
        "/api/v1/namespaces/default/secrets?watch=1",
        "/api/v1/namespaces/default/secrets?fieldSelector=type%3DOpaque",
    ):
        status, body, _ = await raw(api_server, "GET", path, token=tokens["node"])
        assert status == 403 and body["reason"] == "Forbidden", (path, body)
    # Nor any write.
    with pytest.raises(Forbidden):
        await node_client.secrets.create(_secret("made-by-node"), namespace="default")
    # The administrator still reads all of them.
    assert {"elsewhere", "nobodys"} <= {s.name for s in (await client.secrets.list()).items}


async def test_node_lists_and_watches_one_referenced_secret_by_name(
    api_server,
    tokens,  # noqa: F811
    client,
):
    """kubelet's reflector per object: a list/watch with fieldSelector metadata.name."""
    await client.secrets.create(_secret("watched"), namespace="default")
    await client.secrets.create(_secret("not-watched"), namespace="default")
    await client.pods.create(_pod("watcher", NODE, secret="watched"), namespace="default")
    base = "/api/v1/namespaces/default/secrets"
    status, body, _ = await raw(
        api_server, "GET", f"{base}?fieldSelector=metadata.name%3Dwatched", token=tokens["node"]
    )
    assert status == 200, body
    assert [item["metadata"]["name"] for item in body["items"]] == ["watched"]
    version = body["metadata"]["resourceVersion"]
    status, body, _ = await raw(
        api_server,
        "GET",
        f"{base}?fieldSelector=metadata.name%3Dnot-watched",
        token=tokens["node"],
    )
    assert status == 403, body
    # A watch of the one object streams (it ends at its timeout).
    status, _, _ = await raw(
        api_server,
        "GET",
        f"{base}?watch=1&fieldSelector=metadata.name%3Dwatched&resourceVersion={version}"
        "&timeoutSeconds=1",
        token=tokens["node"],
    )
    assert status == 200


async def test_node_loses_the_secret_with_its_pod(client, node_client):
    await client.secrets.create(_secret("transient"), namespace="default")
    await client.pods.create(_pod("short-lived", NODE, secret="transient"), namespace="default")
    assert (await node_client.secrets.get("transient", "default")).name == "transient"
    await client.pods.delete("short-lived", "default", grace_period_seconds=0)

    async def refused() -> bool:
        try:
            await node_client.secrets.get("transient", "default")
        except Forbidden:
            return True
        return False

    await eventually(refused, "the node refused the Secret of its deleted pod")


async def test_graph_follows_pods_from_the_watch(storage):
    """The graph answers from what it watched: a bound pod adds its references to its
    node, a pod moved or deleted takes them away (no store scan involved)."""
    graph = NodeGraph(storage.store)
    try:
        await storage.create(PODS, "default", _pod("p", "n1", secret="s", configmap="c"))
        assert await graph.node_references("n1", ("secrets", "default", "s"))

        async def has(node: str, ref: tuple[str, str, str], wanted: bool) -> bool:
            return graph.has_edge(node, ref) is wanted

        await eventually(lambda: has("n1", ("configmaps", "default", "c"), True), "edge added")
        await storage.create(PODS, "default", _pod("q", "n1", secret="s"))
        await eventually(lambda: has("n1", ("secrets", "default", "s"), True), "second pod")
        await storage.delete(PODS, "default", "p", {"gracePeriodSeconds": 0})
        await eventually(lambda: has("n1", ("configmaps", "default", "c"), False), "c gone")
        assert graph.has_edge("n1", ("secrets", "default", "s"))  # q still names it
        assert not graph.has_edge("n2", ("secrets", "default", "s"))
        assert not await graph.node_references("n2", ("secrets", "default", "s"))
    finally:
        await graph.close()


def test_pod_references_cover_env_volumes_projected_and_pull_secrets():
    pod = {
        "metadata": {"name": "web"},
        "spec": {
            "imagePullSecrets": [{"name": "pull"}],
            "initContainers": [
                {"name": "i", "envFrom": [{"secretRef": {"name": "init-env"}, "prefix": "X_"}]}
            ],
            "containers": [
                {
                    "name": "c",
                    "env": [
                        {"name": "A", "value": "plain"},
                        {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "cm-key"}}},
                        {"name": "C", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    ],
                    "envFrom": [{"configMapRef": {"name": "cm-all"}}],
                }
            ],
            "volumes": [
                {"name": "s", "secret": {"secretName": "vol-secret"}},
                {
                    "name": "p",
                    "projected": {
                        "sources": [
                            {"secret": {"name": "proj-secret"}},
                            {"configMap": {"name": "proj-cm"}},
                            {"downwardAPI": {"items": []}},
                        ]
                    },
                },
                {"name": "d", "persistentVolumeClaim": {"claimName": "data"}},
                {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}},
                {"name": "e", "emptyDir": {}},
            ],
        },
    }
    assert pod_references(pod) == {
        ("secrets", "pull"),
        ("secrets", "init-env"),
        ("configmaps", "cm-key"),
        ("configmaps", "cm-all"),
        ("secrets", "vol-secret"),
        ("secrets", "proj-secret"),
        ("configmaps", "proj-cm"),
        ("persistentvolumeclaims", "data"),
        ("persistentvolumeclaims", "web-scratch"),
    }


async def test_graph_allows_only_what_the_roles_refused_a_node(storage):
    """The Node authoriser wraps the hook: it turns the roles' refusal into an allow,
    also behind an asynchronous plugin with no opinion, and leaves a plugin's own
    denial standing."""
    pm = build_plugin_manager(entry_points=False)
    graph = NodeGraph(storage.store)
    pm.register(NodeAuthorizer(graph), name="graph")
    node = User("system:node:n1", ("system:nodes",))
    get = requestinfo.parse("GET", "/api/v1/namespaces/default/secrets/s", {})
    try:
        await storage.create(PODS, "default", _pod("p", "n1", secret="s"))
        assert (await authz.decide(pm, node, get, None)).allowed

        class NoOpinion:
            @hookimpl
            async def navarch_authorize(self, user, info, field_selector):
                return None

        pm.register(NoOpinion(), name="no-opinion")
        assert (await authz.decide(pm, node, get, None)).allowed

        class Refuses:
            @hookimpl
            def navarch_authorize(self, user, info, field_selector):
                return Decision.deny("not today") if info.plural == "secrets" else None

        pm.register(Refuses(), name="refuses")
        assert await authz.decide(pm, node, get, None) == Decision.deny("not today")
    finally:
        await graph.close()
