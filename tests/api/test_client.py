"""The async client's informer: list + watch into a cache with handlers, and kubeconfig."""

from __future__ import annotations

import asyncio

import pytest

from navarch.client import Informer
from navarch.client.kubeconfig import KubeConfigError, load_kubeconfig

from .test_api import pod


async def test_informer_syncs_then_follows_changes(client):
    await client.namespaces.create(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "inf"}}
    )
    await client.pods.create(pod("before"), namespace="inf")
    events: list[tuple[str, str]] = []
    informer = Informer(client.pods, "inf")
    informer.add_handler(
        on_add=lambda obj: events.append(("add", obj.name)),
        on_update=lambda old, new: events.append(("update", new.name)),
        on_delete=lambda obj: events.append(("delete", obj.name)),
    )
    task = asyncio.create_task(informer.run())
    try:
        await informer.wait_synced(timeout=10)
        assert events == [("add", "before")]
        assert informer.get("inf/before").spec.containers[0].image == "127.0.0.1:5000/app:1"
        await client.pods.create(pod("after"), namespace="inf")
        await client.pods.patch("before", {"metadata": {"labels": {"x": "y"}}}, "inf")
        await client.pods.delete("after", "inf")
        for _ in range(100):
            if len(events) >= 4:
                break
            await asyncio.sleep(0.05)
        assert events == [
            ("add", "before"),
            ("add", "after"),
            ("update", "before"),
            ("delete", "after"),
        ]
        assert sorted(informer.cache) == ["inf/before"]
        assert informer.get("inf/before").labels == {"x": "y"}
    finally:
        task.cancel()


async def test_async_handlers_and_a_failing_handler_do_not_stop_the_informer(client):
    await client.namespaces.create(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "inf2"}}
    )
    seen: list[str] = []

    async def record(obj):
        seen.append(obj.name)

    def broken(obj):
        raise RuntimeError("handler bug")

    informer = Informer(client.pods, "inf2")
    informer.add_handler(on_add=broken)
    informer.add_handler(on_add=record)
    task = asyncio.create_task(informer.run())
    try:
        await informer.wait_synced(timeout=10)
        await client.pods.create(pod("one"), namespace="inf2")
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.05)
        assert seen == ["one"]
    finally:
        task.cancel()


def test_kubeconfig_errors_name_what_is_missing(tmp_path):
    with pytest.raises(KubeConfigError, match="cannot read kubeconfig"):
        load_kubeconfig(tmp_path / "none")
    path = tmp_path / "config"
    path.write_text("apiVersion: v1\nkind: Config\ncurrent-context: x\ncontexts: []\n")
    with pytest.raises(KubeConfigError, match="no context named 'x'"):
        load_kubeconfig(path)


def test_kubeconfig_shared_with_kubectl(api_server):
    config = load_kubeconfig(api_server.kubeconfig)
    assert config.server == api_server.url
    assert config.token and config.ca_data.startswith(b"-----BEGIN CERTIFICATE-----")
    assert config.namespace == "default"
