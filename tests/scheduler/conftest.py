"""A running scheduler per test, on the module's API server (tests/conftest.py) emptied
of nodes and pods before each test."""

from __future__ import annotations

import asyncio
import itertools

import pytest
import pytest_asyncio

from navarch.client import Client
from navarch.plugins import build_plugin_manager
from navarch.registry import collect
from navarch.scheduler.scheduler import Scheduler

_namespaces = itertools.count()


@pytest_asyncio.fixture
async def client(api_server):
    client = Client.from_kubeconfig(api_server.kubeconfig)
    # Every test starts from an empty cluster: no nodes, no pods.
    for node in (await client.nodes.list()).items:
        await client.nodes.delete(node.name)
    for pod in (await client.pods.list("")).items:
        await client.pods.delete(pod.name, pod.namespace, grace_period_seconds=0)
    yield client
    await client.close()


@pytest.fixture
def start_scheduler(client):
    tasks = []

    async def start(profile: str = "spread", **options) -> Scheduler:
        pm = build_plugin_manager()
        weights = collect(pm).scheduler_profiles.get(profile)
        scheduler = Scheduler(client, pm, weights, **options)
        tasks.append(asyncio.create_task(scheduler.run()))
        await scheduler.node_informer.wait_synced(10)
        await scheduler.pod_informer.wait_synced(10)
        return scheduler

    yield start
    for task in tasks:
        task.cancel()
