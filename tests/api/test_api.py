"""API semantics through the async client: object handling, concurrency, status
subresources, patches, selectors, paging, deletion, binding, watch, discovery."""

from __future__ import annotations

import aiohttp
import orjson
import pytest

from navarch.client import AlreadyExists, Conflict, Invalid, NotFound
from navarch.client.client import JSON_PATCH, STRATEGIC_MERGE_PATCH


def pod(name: str, labels: dict[str, str] | None = None, **spec) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"containers": [{"name": "main", "image": "127.0.0.1:5000/app:1"}], **spec},
    }


def deployment(name: str, replicas: int = 1) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "127.0.0.1:5000/app:1"}]},
            },
        },
    }


async def raw(
    api_server,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict | None = None,
    token: str | None = "admin",
) -> tuple[int, dict, dict]:
    """A request with full control over bytes and headers; returns (status, body, headers)."""
    import ssl

    from navarch.client.kubeconfig import load_kubeconfig

    config = load_kubeconfig(api_server.kubeconfig)
    all_headers = dict(headers or {})
    if token == "admin":
        all_headers["Authorization"] = f"Bearer {config.token}"
    elif token:
        all_headers["Authorization"] = f"Bearer {token}"
    context = ssl.create_default_context(cadata=config.ca_data.decode())
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method, api_server.url + path, data=body, headers=all_headers, ssl=context
        ) as response,
    ):
        payload = await response.read()
        try:
            decoded = orjson.loads(payload) if payload else {}
        except orjson.JSONDecodeError:
            decoded = {"text": payload.decode(errors="replace")}
        return response.status, decoded, dict(response.headers)


# --- object handling -----------------------------------------------------------------


async def test_server_sets_uid_timestamps_generation_and_defaults(client):
    created = await client.pods.create(pod("meta-1"), namespace="default")
    meta = created.metadata
    assert meta.uid and meta.creation_timestamp.endswith("Z") and meta.generation == 1
    assert int(meta.resource_version) > 0
    assert created.spec.restart_policy == "Always"
    assert created.status.phase == "Pending"
    with pytest.raises(AlreadyExists):
        await client.pods.create(pod("meta-1"), namespace="default")


async def test_generate_name(client):
    body = pod("")
    body["metadata"] = {"generateName": "gen-"}
    created = await client.pods.create(body, namespace="default")
    assert created.metadata.name.startswith("gen-") and len(created.metadata.name) == 9


async def test_generation_bumps_on_spec_change_only(client):
    created = await client.deployments.create(deployment("gen-web"), namespace="default")
    assert created.metadata.generation == 1
    labelled = await client.deployments.patch(
        "gen-web", {"metadata": {"labels": {"x": "y"}}}, "default"
    )
    assert labelled.metadata.generation == 1
    scaled = await client.deployments.patch("gen-web", {"spec": {"replicas": 3}}, "default")
    assert scaled.metadata.generation == 2


async def test_stale_resource_version_is_409_conflict(client):
    created = await client.deployments.create(deployment("cas-web"), namespace="default")
    body = {
        **deployment("cas-web", 2),
        "metadata": {"name": "cas-web", "resourceVersion": created.metadata.resource_version},
    }
    updated = await client.deployments.update(body, namespace="default")
    assert updated.spec.replicas == 2
    with pytest.raises(Conflict) as info:
        await client.deployments.update(body, namespace="default")  # the same, now stale, version
    assert info.value.status["reason"] == "Conflict"


async def test_status_subresource_and_main_resource_ignore_each_other(client):
    created = await client.deployments.create(deployment("status-web"), namespace="default")
    status_body = {
        **deployment("status-web", 9),
        "status": {"replicas": 1, "readyReplicas": 1},
        "metadata": {"name": "status-web"},
    }
    after_status = await client.deployments.update_status(status_body, namespace="default")
    assert after_status.status.ready_replicas == 1
    assert after_status.spec.replicas == 1  # spec change through /status ignored
    assert after_status.metadata.generation == created.metadata.generation
    main_body = {
        **deployment("status-web", 1),
        "status": {"replicas": 0},
        "metadata": {"name": "status-web"},
    }
    after_main = await client.deployments.update(main_body, namespace="default")
    assert after_main.status.ready_replicas == 1  # status change through the main resource ignored


async def test_pod_spec_is_immutable_except_image(client):
    await client.pods.create(pod("immutable"), namespace="default")
    changed = await client.pods.patch(
        "immutable",
        {"spec": {"containers": [{"name": "main", "image": "127.0.0.1:5000/app:2"}]}},
        "default",
        patch_type=STRATEGIC_MERGE_PATCH,
    )
    assert changed.spec.containers[0].image == "127.0.0.1:5000/app:2"
    with pytest.raises(Invalid) as info:
        await client.pods.patch("immutable", {"spec": {"nodeName": "n1"}}, "default")
    assert info.value.causes[0]["field"] == "spec"


# --- patches -------------------------------------------------------------------------


async def test_json_patch_and_strategic_merge_by_container_name(client):
    body = pod("patchy", {"app": "patchy"})  # an empty labels map is not stored (omitempty)
    body["spec"]["containers"].append({"name": "side", "image": "127.0.0.1:5000/side:1"})
    await client.pods.create(body, namespace="default")
    patched = await client.pods.patch(
        "patchy",
        [{"op": "add", "path": "/metadata/labels/added", "value": "yes"}],
        "default",
        patch_type=JSON_PATCH,
    )
    assert patched.labels["added"] == "yes"
    smp = {"spec": {"containers": [{"name": "side", "image": "127.0.0.1:5000/side:2"}]}}
    patched = await client.pods.patch("patchy", smp, "default", patch_type=STRATEGIC_MERGE_PATCH)
    images = {c.name: c.image for c in patched.spec.containers}
    assert images == {
        "main": "127.0.0.1:5000/app:1",
        "side": "127.0.0.1:5000/side:2",
    }  # merged by name
    with pytest.raises(Invalid):
        await client.pods.patch(
            "patchy",
            [{"op": "test", "path": "/metadata/name", "value": "other"}],
            "default",
            patch_type=JSON_PATCH,
        )


async def test_patch_of_missing_object_is_404(client):
    with pytest.raises(NotFound):
        await client.pods.patch("nope", {"metadata": {"labels": {"a": "b"}}}, "default")


# --- list: selectors and paging --------------------------------------------------------


async def test_label_and_field_selectors_and_paging(client):
    await client.namespaces.create(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "sel"}}
    )
    for i in range(12):
        await client.pods.create(
            pod(
                f"p{i:02d}",
                {"tier": "web" if i % 2 else "db", "i": str(i)},
                nodeName="node-a" if i < 4 else None,
            ),
            namespace="sel",
        )
    web = await client.pods.list("sel", label_selector="tier=web,i notin (1,3)")
    assert sorted(p.name for p in web.items) == ["p05", "p07", "p09", "p11"]
    on_a = await client.pods.list("sel", field_selector="spec.nodeName=node-a")
    assert [p.name for p in on_a.items] == ["p00", "p01", "p02", "p03"]
    seen, token = [], None
    while True:
        page = await client.pods.list("sel", limit=5, continue_token=token)
        seen += [p.name for p in page.items]
        token = page.continue_token
        if not token:
            break
    assert seen == [f"p{i:02d}" for i in range(12)]


# --- deletion ----------------------------------------------------------------------------


async def test_bound_pod_gets_deletion_timestamp_and_goes_when_confirmed(client):
    await client.pods.create(pod("graceful", nodeName="node-x"), namespace="default")
    marked = await client.pods.delete("graceful", "default")
    assert marked.metadata.deletion_timestamp
    assert (await client.pods.get("graceful", "default")).metadata.deletion_timestamp
    await client.pods.delete("graceful", "default", grace_period_seconds=0)  # the agent confirms
    with pytest.raises(NotFound):
        await client.pods.get("graceful", "default")


async def test_unbound_pod_goes_at_once_and_delete_collection(client):
    await client.pods.create(pod("unbound", {"batch": "1"}), namespace="default")
    await client.pods.create(pod("unbound-2", {"batch": "1"}), namespace="default")
    await client.pods.create(pod("kept", {"batch": "2"}), namespace="default")
    await client.pods.delete("unbound", "default", propagation_policy="Background")
    with pytest.raises(NotFound):
        await client.pods.get("unbound", "default")
    deleted = await client.request(
        "DELETE", "/api/v1/namespaces/default/pods", params={"labelSelector": "batch=1"}
    )
    assert [i["metadata"]["name"] for i in deleted["items"]] == ["unbound-2"]
    assert [p.name for p in (await client.pods.list("default", label_selector="batch")).items] == [
        "kept"
    ]


# --- binding --------------------------------------------------------------------------------


async def test_binding_sets_node_once(client):
    await client.pods.create(pod("to-bind"), namespace="default")
    await client.pods.bind("to-bind", "node-b", "default")
    assert (await client.pods.get("to-bind", "default")).spec.node_name == "node-b"
    with pytest.raises(Conflict):
        await client.pods.bind("to-bind", "node-c", "default")


# --- watch ------------------------------------------------------------------------------------


async def test_watch_resumes_from_resource_version_in_order(client):
    await client.namespaces.create(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "w"}}
    )
    first = await client.pods.create(pod("w1"), namespace="w")
    await client.pods.patch("w1", {"metadata": {"labels": {"step": "2"}}}, "w")
    await client.pods.create(pod("w2"), namespace="w")
    await client.pods.delete("w2", "w")
    seen = []
    async for kind, obj in client.pods.watch("w", resource_version=first.metadata.resource_version):
        seen.append((kind, obj.name))
        if len(seen) == 3:
            break
    assert seen == [("MODIFIED", "w1"), ("ADDED", "w2"), ("DELETED", "w2")]


async def test_watch_without_version_starts_with_current_objects(client):
    await client.namespaces.create(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "w0"}}
    )
    await client.pods.create(pod("existing"), namespace="w0")
    async for kind, obj in client.pods.watch("w0"):
        assert (kind, obj.name) == ("ADDED", "existing")
        break


async def test_watch_label_selector_reports_leaving_as_deleted(client):
    await client.namespaces.create(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "wl"}}
    )
    created = await client.pods.create(pod("sel", {"app": "a"}), namespace="wl")
    await client.pods.patch("sel", {"metadata": {"labels": {"app": "b"}}}, "wl")
    async for kind, obj in client.pods.watch(
        "wl", resource_version=created.metadata.resource_version, label_selector="app=a"
    ):
        assert (kind, obj.name, obj.labels["app"]) == ("DELETED", "sel", "b")
        break


async def test_watch_with_a_malformed_version_is_400(api_server):
    status, body, _ = await raw(api_server, "GET", "/api/v1/pods?watch=1&resourceVersion=abc")
    assert status == 400 and body["reason"] == "BadRequest"


async def test_watch_ends_after_timeout_seconds(client, api_server):
    current = (await client.pods.list("default")).resource_version
    path = f"/api/v1/namespaces/default/pods?watch=1&resourceVersion={current}&timeoutSeconds=1"
    status, _, _ = await raw(api_server, "GET", path)
    assert status == 200  # the stream ended by itself after 1 s


# --- discovery, health, metrics ------------------------------------------------------------------


async def test_discovery_health_and_metrics(api_server):
    status, body, _ = await raw(api_server, "GET", "/apis")
    assert status == 200 and {g["name"] for g in body["groups"]} == {
        "apps",
        "batch",
        "coordination.k8s.io",
        "apiextensions.k8s.io",
        "storage.k8s.io",
        "discovery.k8s.io",  # EndpointSlices
        "networking.k8s.io",  # NetworkPolicies
        "authorization.k8s.io",  # SelfSubjectAccessReview only (kubectl auth can-i)
    }
    status, body, _ = await raw(api_server, "GET", "/api/v1")
    names = {r["name"] for r in body["resources"]}
    assert {"pods", "pods/status", "pods/binding", "nodes", "namespaces", "events"} <= names
    status, body, _ = await raw(api_server, "GET", "/apis/apps/v1")
    assert "deployments/scale" in {r["name"] for r in body["resources"]}
    status, body, _ = await raw(api_server, "GET", "/apis/coordination.k8s.io/v1")
    assert [r["name"] for r in body["resources"]] == ["leases"]
    status, body, _ = await raw(api_server, "GET", "/version", token=None)
    assert status == 200 and body["major"] == "1"
    assert (await raw(api_server, "GET", "/healthz", token=None))[0] == 200
    assert (await raw(api_server, "GET", "/readyz", token=None))[0] == 200
    # a list of our own to be counted (the test must not lean on earlier tests' requests)
    assert (await raw(api_server, "GET", "/api/v1/namespaces/default/pods"))[0] == 200
    status, body, _ = await raw(api_server, "GET", "/metrics")
    text = body["text"]
    assert 'apiserver_request_total{code="200",resource="pods",verb="list"}' in text
    assert "apiserver_request_duration_seconds_bucket" in text
    assert "apiserver_open_watches" in text
    assert 'navarch_store_request_duration_seconds_count{operation="create"}' in text
