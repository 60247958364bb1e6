"""The request path's semantics that clients rely on: patches never 409 without a
precondition, binding marks a pod scheduled, Status bytes as Kubernetes writes them,
watches that resume from deep in history, go away with their client, and end on
shutdown; dry runs; namespace deletion through its finalizer."""

from __future__ import annotations

import asyncio
import ssl

import aiohttp
import orjson
import pytest

from navarch.client import Conflict, NotFound
from navarch.client.client import JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH
from navarch.client.kubeconfig import load_kubeconfig
from navarch.testing.waiting import eventually

from .test_api import deployment, pod, raw

DEADLINE = 60.0


async def test_patches_without_version_never_conflict_under_concurrent_writers(client):
    await client.pods.create(pod("busy", {"app": "busy"}), namespace="default")
    stop = asyncio.Event()

    async def status_writer():
        n = 0
        while not stop.is_set():
            n += 1
            await client.pods.patch(
                "busy",
                {"status": {"message": f"beat {n}"}},
                "default",
                subresource="status",
            )

    def label_patch(kind: str, i: int):
        if kind == JSON_PATCH:
            return [{"op": "add", "path": f"/metadata/labels/j{i}", "value": "x"}]
        return {"metadata": {"labels": {f"{'m' if kind == MERGE_PATCH else 's'}{i}": "x"}}}

    writer = asyncio.create_task(status_writer())
    try:
        kinds = (MERGE_PATCH, STRATEGIC_MERGE_PATCH, JSON_PATCH)
        await asyncio.gather(
            *(
                client.pods.patch("busy", label_patch(kind, i), "default", patch_type=kind)
                for i in range(12)
                for kind in kinds
            )
        )
    finally:
        stop.set()
        await writer
    labels = (await client.pods.get("busy", "default")).metadata.labels
    assert len(labels) == 37  # app + 36 patched in
    # A stale resourceVersion in the patch is still a precondition: 409.
    with pytest.raises(Conflict):
        await client.pods.patch(
            "busy", {"metadata": {"resourceVersion": "1", "labels": {"late": "x"}}}, "default"
        )


async def test_binding_marks_an_unschedulable_pod_scheduled(client):
    await client.pods.create(pod("waits"), namespace="default")
    unschedulable = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": "0/1 nodes are available: 1 Insufficient cpu.",
    }
    await client.pods.patch(
        "waits", {"status": {"conditions": [unschedulable]}}, "default", subresource="status"
    )
    await client.pods.bind("waits", "worker-1", "default")
    bound = await client.pods.get("waits", "default")
    scheduled = [c for c in bound.status.conditions if c.type == "PodScheduled"]
    assert len(scheduled) == 1 and scheduled[0].status == "True"
    assert bound.spec.node_name == "worker-1"


async def test_status_bytes_are_kubernetes_own(api_server):
    config = load_kubeconfig(api_server.kubeconfig)
    context = ssl.create_default_context(cadata=config.ca_data.decode())
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            api_server.url + "/api/v1/namespaces/default/pods/nowhere",
            headers={"Authorization": f"Bearer {config.token}"},
            ssl=context,
        ) as response,
    ):
        body = await response.read()
    assert response.status == 404
    assert body == (
        b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        b'"message":"pods \\"nowhere\\" not found","reason":"NotFound",'
        b'"details":{"name":"nowhere","kind":"pods"},"code":404}\n'
    )


async def test_objects_in_kubernetes_field_order(api_server, client):
    await client.pods.create(pod("ordered"), namespace="default")
    status, body, _ = await raw(api_server, "GET", "/api/v1/namespaces/default/pods/ordered")
    assert status == 200
    assert list(body)[:3] == ["kind", "apiVersion", "metadata"]
    assert list(body["metadata"])[:5] == [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] or list(body["metadata"])[:5] == ["name", "namespace", "uid", "resourceVersion", "generation"]


async def test_generated_names_are_retried_on_collision(tmp_path, monkeypatch):
    """Kubernetes retries a generated name that is taken; so does the storage."""
    from navarch.apiserver import objects, storage
    from navarch.plugins import build_plugin_manager
    from navarch.resources.core import PODS
    from navarch_store_lmdb import LmdbStore

    store = LmdbStore.open(tmp_path)
    try:
        pods = PODS
        generic = storage.Storage(store, build_plugin_manager(entry_points=False))
        suffixes = iter(["aaaaa", "aaaaa", "aaaaa", "bbbbb"])
        monkeypatch.setattr(objects, "random_suffix", lambda: next(suffixes))
        names = []
        for _ in range(2):
            body = pod("")
            body["metadata"] = {"generateName": "twin-"}
            names.append((await generic.create(pods, "default", body)).obj["metadata"]["name"])
        assert names == ["twin-aaaaa", "twin-bbbbb"]
    finally:
        await store.close()


async def test_unchanged_update_keeps_generation_and_version(client):
    created = await client.deployments.create(deployment("same"), namespace="default")
    again = await client.deployments.update(deployment("same"), namespace="default")
    assert again.metadata.generation == 1
    assert again.metadata.resource_version == created.metadata.resource_version


async def test_dry_run_stores_nothing(api_server, client):
    body = orjson.dumps(pod("dry"))
    status, created, _ = await raw(
        api_server,
        "POST",
        "/api/v1/namespaces/default/pods?dryRun=All",
        body=body,
        headers={"Content-Type": "application/json"},
    )
    assert status == 201 and created["metadata"]["name"] == "dry"
    with pytest.raises(NotFound):
        await client.pods.get("dry", "default")


async def _open_watches(api_server) -> float:
    _, body, _ = await raw(api_server, "GET", "/metrics")
    text = body.get("text", "")
    total = 0.0
    for line in text.splitlines():
        if line.startswith("apiserver_open_watches{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_watch_of_a_gone_client_is_closed(api_server, client):
    config = load_kubeconfig(api_server.kubeconfig)
    context = ssl.create_default_context(cadata=config.ca_data.decode())
    before = await _open_watches(api_server)
    session = aiohttp.ClientSession()
    response = await session.get(
        api_server.url + "/api/v1/namespaces/kube-public/pods?watch=1&resourceVersion=0",
        headers={"Authorization": f"Bearer {config.token}"},
        ssl=context,
    )
    assert response.status == 200
    await eventually(lambda: _gt(_open_watches(api_server), before), "the watch counted open")
    response.close()
    await session.close()

    async def closed():
        return await _open_watches(api_server) <= before

    await eventually(closed, "the closed watch no longer counted")


async def _gt(value, than):
    return (await value) > than


async def test_watch_resumes_from_deep_in_the_cache(client):
    """1,500 events back: more than one watcher's queue (1,000), well inside the
    shared history (10,000). Every event arrives, in order, with no ERROR."""
    created = await client.pods.create(pod("ticker"), namespace="default")
    start = created.metadata.resource_version
    total = 1500
    semaphore = asyncio.Semaphore(16)

    async def tick(i: int):
        async with semaphore:
            await client.pods.patch("ticker", {"metadata": {"labels": {"n": str(i)}}}, "default")

    await asyncio.gather(*(tick(i) for i in range(total)))
    seen: list[int] = []

    async def follow():
        async for kind, obj in client.pods.watch(
            "default", resource_version=start, field_selector="metadata.name=ticker"
        ):
            assert kind == "MODIFIED"
            seen.append(int(obj.metadata.resource_version))
            if len(seen) == total:
                return

    await asyncio.wait_for(follow(), DEADLINE)
    assert seen == sorted(seen) and len(set(seen)) == total


async def test_concurrent_updates_with_one_version_let_exactly_one_win(client):
    """A PUT carrying a resourceVersion that loses the race is a 409, also when it is
    retried internally: the precondition survives the retry."""
    created = await client.deployments.create(deployment("race"), namespace="default")
    version = created.metadata.resource_version

    async def put(i: int):
        body = deployment("race", replicas=i + 2)
        body["metadata"]["resourceVersion"] = version
        try:
            await client.deployments.update(body, namespace="default")
            return "won"
        except Conflict:
            return "conflict"

    results = await asyncio.gather(*(put(i) for i in range(8)))
    assert results.count("won") == 1 and results.count("conflict") == 7


async def test_kubectl_label_annotate_scale_beside_a_status_writer(api_server, client):
    """kubectl's own patches (no resourceVersion) never meet a 409 while another writer
    keeps changing the object's status."""
    import shutil

    binary = shutil.which("kubectl")
    assert binary is not None, "kubectl is needed for this test"
    await client.deployments.create(deployment("busy-web"), namespace="default")
    stop = asyncio.Event()

    async def status_writer():
        n = 0
        while not stop.is_set():
            n += 1
            await client.deployments.patch(
                "busy-web", {"status": {"observedGeneration": n}}, "default", subresource="status"
            )

    async def kubectl(*args: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            binary,
            "--kubeconfig",
            str(api_server.kubeconfig),
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(process.communicate(), DEADLINE)
        return process.returncode or 0, err.decode()

    writer = asyncio.create_task(status_writer())
    try:
        commands = []
        for i in range(6):
            commands += [
                ("label", "deployment", "busy-web", f"l{i}=x"),
                ("annotate", "deployment", "busy-web", f"a{i}=x"),
                ("scale", "deployment", "busy-web", f"--replicas={i + 1}"),
            ]
        results = await asyncio.gather(*(kubectl(*command) for command in commands))
    finally:
        stop.set()
        await writer
    failures = [err for code, err in results if code != 0]
    assert failures == []
    labels = (await client.deployments.get("busy-web", "default")).metadata.labels
    assert {f"l{i}" for i in range(6)} <= set(labels)


async def test_kubectl_delete_dry_run_deletes_nothing(api_server, client):
    """kubectl sends dryRun in the DeleteOptions body, not the query."""
    await client.pods.create(pod("survivor"), namespace="default")
    body = orjson.dumps({"kind": "DeleteOptions", "apiVersion": "v1", "dryRun": ["All"]})
    status, answer, _ = await raw(
        api_server, "DELETE", "/api/v1/namespaces/default/pods/survivor", body=body
    )
    assert status == 200, answer
    assert (await client.pods.get("survivor", "default")).metadata.name == "survivor"
    status, _, _ = await raw(api_server, "DELETE", "/api/v1/namespaces/default/pods", body=body)
    assert status == 200
    assert (await client.pods.get("survivor", "default")).metadata.name == "survivor"


async def test_malformed_delete_options_are_400(api_server):
    for options in ({"preconditions": ["x"]}, {"gracePeriodSeconds": "soon"}, {"dryRun": "All"}):
        status, body, _ = await raw(
            api_server,
            "DELETE",
            "/api/v1/namespaces/default/pods/anything",
            body=orjson.dumps(options),
        )
        assert status == 400 and body["reason"] == "BadRequest", (options, body)


async def test_made_up_paths_do_not_make_new_metric_series(api_server):
    for i in range(3):
        await raw(api_server, "GET", f"/api/v1/made-up-{i}", token=None)
    _, body, _ = await raw(api_server, "GET", "/metrics")
    assert "made-up" not in body.get("text", "")


async def test_namespaces_deleted_as_a_collection_take_no_new_content(api_server, client):
    await client.namespaces.create(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "swept", "labels": {"sweep": "y"}},
        }
    )
    await client.pods.create(pod("first"), namespace="swept")  # the namespace is now cached
    status, _, _ = await raw(api_server, "DELETE", "/api/v1/namespaces?labelSelector=sweep%3Dy")
    assert status == 200
    status, body, _ = await raw(
        api_server,
        "POST",
        "/api/v1/namespaces/swept/pods",
        body=orjson.dumps(pod("second")),
        headers={"Content-Type": "application/json"},
    )
    assert status in (403, 404), body  # Terminating, or already gone


async def test_watch_with_timeout_zero_uses_the_server_limit(api_server, client):
    """timeoutSeconds=0 means "the server's limit", not "end at once": the stream stays
    open and delivers a pod created after it started."""
    listed = await client.pods.list("default")
    config = load_kubeconfig(api_server.kubeconfig)
    context = ssl.create_default_context(cadata=config.ca_data.decode())
    url = (
        f"{api_server.url}/api/v1/namespaces/default/pods?watch=1&timeoutSeconds=0"
        f"&resourceVersion={listed.resource_version}"
    )
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers={"Authorization": f"Bearer {config.token}"}, ssl=context) as r,
    ):
        assert r.status == 200
        await client.pods.create(pod("after-zero"), namespace="default")

        async def names():
            async for line in r.content:
                yield orjson.loads(line)["object"]["metadata"]["name"]

        async def first_match():
            async for name in names():
                if name == "after-zero":
                    return True
            return False  # the stream ended first

        assert await asyncio.wait_for(first_match(), DEADLINE)
