"""The pods/eviction subresource: discovery names it as kubectl drain expects, and an
Eviction deletes the pod honouring its DeleteOptions."""

from __future__ import annotations

from typing import Any

import pytest

from navarch.client import Client
from navarch.client.errors import ApiException, Conflict, NotFound


def _pod(name: str, node: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "127.0.0.1:5000/a:1"}]}
    if node:
        spec["nodeName"] = node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


async def _evict(client: Client, name: str, **eviction: Any) -> Any:
    body = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": name, "namespace": "default"},
        **eviction,
    }
    path = client.pods.path("default", name, "eviction")
    return await client.request("POST", path, body=body)


async def _gone(client: Client, name: str) -> bool:
    try:
        await client.pods.get(name, "default")
    except NotFound:
        return True
    return False


async def test_discovery_names_the_eviction_subresource(client: Client) -> None:
    resources = (await client.request("GET", "/api/v1"))["resources"]
    entry = next(r for r in resources if r["name"] == "pods/eviction")
    assert (entry["group"], entry["version"], entry["kind"]) == ("policy", "v1", "Eviction")
    assert entry["verbs"] == ["create"]


async def test_an_eviction_deletes_the_pod(client: Client) -> None:
    await client.pods.create(_pod("evicted"))
    status = await _evict(client, "evicted")
    assert (status["kind"], status["status"], status["code"]) == ("Status", "Success", 201)
    assert await _gone(client, "evicted")


async def test_an_eviction_keeps_the_grace_period_unless_its_options_say_otherwise(
    client: Client,
) -> None:
    await client.pods.create(_pod("graceful", node="n1"))
    await _evict(client, "graceful")
    pod = await client.pods.get("graceful", "default")
    assert pod.metadata.deletion_timestamp  # marked: its agent has 30 s to stop it
    await _evict(client, "graceful", deleteOptions={"gracePeriodSeconds": 0})
    assert await _gone(client, "graceful")


async def test_an_eviction_honours_preconditions_and_dry_run(client: Client) -> None:
    created = await client.pods.create(_pod("guarded"))
    with pytest.raises(Conflict):
        await _evict(client, "guarded", deleteOptions={"preconditions": {"uid": "not-it"}})
    await _evict(client, "guarded", deleteOptions={"dryRun": ["All"]})
    assert not await _gone(client, "guarded")
    await _evict(client, "guarded", deleteOptions={"preconditions": {"uid": created.metadata.uid}})
    assert await _gone(client, "guarded")


async def test_bad_evictions_are_refused(client: Client) -> None:
    with pytest.raises(NotFound):
        await _evict(client, "nobody")
    await client.pods.create(_pod("named"))
    path = client.pods.path("default", "named", "eviction")
    with pytest.raises(ApiException) as refused:
        await client.request(
            "POST",
            path,
            body={"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "other"}},
        )
    assert refused.value.code == 400 and "does not match" in str(refused.value)
    assert not await _gone(client, "named")
