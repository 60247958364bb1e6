"""Navarch's side of the end-to-end benchmark (bench/e2e.py): a private cluster (API
server, scheduler, controller manager, one agent process per node on a real runtime)
and one pod watch that sees the bench Deployment's replicas, their nodes and their
containers.

Every daemon is a process of its own, stopped by pid on the way out; the agents are
``navarch agent`` with ``runtime.name`` docker or containerd and the options the
runtime plugin documents (docs/runtimes.md); logs at WARNING (the controller
manager's at INFO: its readiness is a log line).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from navarch.client.kubeconfig import load_kubeconfig
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.cluster import CAPACITY, controllers_process, daemon_config
from navarch.testing.controllermanager import ControllerManagerProcess
from navarch.testing.navarchprocess import NavarchProcess

LOG = {"level": "WARNING", "format": "json"}
APP = "bench"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
PODS = "/api/v1/namespaces/default/pods"
READY_LIMIT = 120.0  # nodes Ready, warm-up pods Running and gone


def pod_template(image: str, command: list[str], *, labels: dict[str, str]) -> dict[str, Any]:
    """A hostNetwork pod of one container, never pulled (the image is loaded)."""
    return {
        "metadata": {"labels": labels},
        "spec": {
            "hostNetwork": True,
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "main",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": command,
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                }
            ],
        },
    }


def deployment(image: str, command: list[str], replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": APP, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": APP}},
            "template": pod_template(image, command, labels={"app": APP}),
        },
    }


@dataclass
class Replica:
    """One bench pod as the watch last saw it."""

    phase: str = ""
    node: str = ""
    terminating: bool = False
    container_id: str = ""  # "<runtime>://<id>" of the running container, "" if none
    # when the watch first saw it, first saw it bound, first saw it Running (perf_counter)
    seen: float = 0.0
    bound: float | None = None
    running_since: float | None = None


@dataclass
class ReplicaView:
    """The bench Deployment's pods (label app=bench), from one watch."""

    pods: dict[str, Replica] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def apply(self, kind: str, obj: dict[str, Any]) -> None:
        metadata = obj["metadata"]
        if (metadata.get("labels") or {}).get("app") != APP:
            return
        name = metadata["name"]
        if kind == "DELETED":
            self.pods.pop(name, None)
        else:
            now = time.perf_counter()
            before = self.pods.get(name) or Replica(seen=now)
            status = obj.get("status") or {}
            statuses = status.get("containerStatuses") or []
            running = statuses and "running" in (statuses[0].get("state") or {})
            replica = Replica(
                phase=status.get("phase", ""),
                node=obj["spec"].get("nodeName") or "",
                terminating=bool(metadata.get("deletionTimestamp")),
                container_id=statuses[0].get("containerID", "") if running else "",
                seen=before.seen,
                bound=before.bound,
                running_since=before.running_since,
            )
            if replica.node and replica.bound is None:
                replica.bound = now
            if replica.phase == "Running" and replica.running_since is None:
                replica.running_since = now
            self.pods[name] = replica
        self.changed.set()

    def stages(self, began: float) -> tuple[float, float, float]:
        """Seconds after ``began`` at which the last pod was first seen, bound, Running."""

        def last(times: list[float | None]) -> float:
            return max((t for t in times if t is not None), default=began) - began

        pods = self.pods.values()
        return (
            last([p.seen for p in pods]),
            last([p.bound for p in pods]),
            last([p.running_since for p in pods]),
        )

    def running(self, dead: frozenset[str] = frozenset()) -> list[str]:
        """Names of the pods Running (not being deleted) on nodes not in ``dead``."""
        return [
            name
            for name, pod in self.pods.items()
            if pod.phase == "Running" and not pod.terminating and pod.node not in dead
        ]


class Api:
    """The bench's HTTPS session to the API server (admin token) and its pod watch."""

    def __init__(self, server: ApiServerProcess):
        config = load_kubeconfig(server.kubeconfig)
        self.url = server.url
        context = ssl.create_default_context(cadata=config.ca_data.decode())
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=context, limit=16),
            headers={"Authorization": f"Bearer {config.token}"},
            timeout=aiohttp.ClientTimeout(total=60),
        )
        self.view = ReplicaView()
        self._watch: asyncio.Task[None] | None = None

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        data = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        async with self.session.request(
            method, f"{self.url}{path}", data=data, headers=headers
        ) as response:
            payload = orjson.loads(await response.read())
            if response.status >= 300:
                raise RuntimeError(f"{method} {path}: HTTP {response.status}: {payload}")
            return payload

    async def watch_pods(self) -> None:
        listed = await self.call("GET", PODS)
        for item in listed["items"]:
            self.view.apply("ADDED", item)
        self._watch = asyncio.create_task(self._read(listed["metadata"]["resourceVersion"]))

    async def _read(self, revision: str) -> None:
        url = f"{self.url}{PODS}?watch=1&resourceVersion={revision}"
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with self.session.get(url, timeout=timeout) as response:
            async for line in response.content:
                event = orjson.loads(line)
                if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                    self.view.apply(event["type"], event["object"])

    async def until(self, check: Callable[[], bool], limit: float) -> float | None:
        """Seconds until ``check()`` holds (looked at on every pod event and at least
        every second, so a watch that broke is noticed), None past ``limit``."""
        began = time.perf_counter()
        while not check():
            if self._watch is not None and self._watch.done():
                raise RuntimeError(f"the pod watch ended: {self._watch.exception()!r}")
            left = began + limit - time.perf_counter()
            if left <= 0:
                return None
            self.view.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.view.changed.wait(), min(left, 1.0))
        return time.perf_counter() - began

    async def ready_nodes(self) -> list[str]:
        items = (await self.call("GET", "/api/v1/nodes"))["items"]
        return [
            node["metadata"]["name"]
            for node in items
            if any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in (node.get("status") or {}).get("conditions") or []
            )
        ]

    async def pod_gone(self, name: str) -> bool:
        async with self.session.get(f"{self.url}{PODS}/{name}") as response:
            await response.read()
            return response.status == 404

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        await self.session.close()


@dataclass
class Cluster:
    server: ApiServerProcess
    agents: dict[str, NavarchProcess]  # by node name
    api: Api

    def check_agents(self, dead: frozenset[str] = frozenset()) -> None:
        for node, agent in self.agents.items():
            process = agent.process
            if node not in dead and process is not None and process.poll() is not None:
                raise RuntimeError(f"agent {node} exited: {agent.log_tail()}")


def agent_process(
    root: Path, server: ApiServerProcess, node: str, runtime: str, options: dict[str, Any]
) -> NavarchProcess:
    directory = root / node
    agent = {"node_name": node, "node_ip": "127.0.0.1", "address": "127.0.0.1", "port": 0}
    config = daemon_config(
        server,
        directory / "data",
        log=LOG,
        runtime={"name": runtime, "options": options},
        agent={**agent, "capacity": CAPACITY},
    )
    return NavarchProcess(directory, "agent", config)


@contextlib.asynccontextmanager
async def navarch_cluster(
    root: Path, runtime: str, options: dict[str, Any], nodes: list[str]
) -> AsyncIterator[Cluster]:
    """API server, scheduler, controller manager (every controller) and one agent
    process per node, Ready; each process stopped by pid on the way out."""
    with ApiServerProcess(root / "api", settings={"log": LOG}) as server:
        scheduler = NavarchProcess(
            root / "scheduler", "scheduler", daemon_config(server, root / "sched", log=LOG)
        )
        manager: ControllerManagerProcess = controllers_process(root, server, ["*"])
        agents = {node: agent_process(root, server, node, runtime, options) for node in nodes}
        api = Api(server)
        cluster = Cluster(server, agents, api)
        try:
            scheduler.start()
            manager.start(timeout=60)
            for agent in agents.values():
                agent.start()
            await wait_ready(cluster)
            await api.watch_pods()
            yield cluster
        finally:
            await api.close()
            for agent in agents.values():
                agent.stop()
            manager.stop()
            scheduler.stop()


async def wait_ready(cluster: Cluster) -> None:
    deadline = time.perf_counter() + READY_LIMIT
    while set(await cluster.api.ready_nodes()) < set(cluster.agents):
        cluster.check_agents()
        if time.perf_counter() > deadline:
            raise RuntimeError(f"nodes {sorted(cluster.agents)} not Ready in {READY_LIMIT:g}s")
        await asyncio.sleep(0.3)
    await asyncio.sleep(1.5)  # the scheduler's node cache catches up


async def warm_up(cluster: Cluster, image: str, command: list[str]) -> None:
    """One pod per node, bound by name (no scheduler), Running, then deleted and gone:
    each agent's first sandbox loads its pause image and opens its runtime client,
    costs Swarm's tasks do not pay. Untimed."""
    names = [f"warm-up-{node}" for node in cluster.agents]
    for name, node in zip(names, cluster.agents, strict=True):
        body = {"apiVersion": "v1", "kind": "Pod", **pod_template(image, command, labels={})}
        body["metadata"]["name"] = name
        body["spec"]["nodeName"] = node
        await cluster.api.call("POST", PODS, body)
    deadline = time.perf_counter() + READY_LIMIT
    pending = set(names)
    while pending:
        cluster.check_agents()
        if time.perf_counter() > deadline:
            raise RuntimeError(f"warm-up pods {sorted(pending)} not Running in {READY_LIMIT:g}s")
        for name in list(pending):
            pod = await cluster.api.call("GET", f"{PODS}/{name}")
            if (pod.get("status") or {}).get("phase") == "Running":
                pending.discard(name)
        await asyncio.sleep(0.2)
    for name in names:
        await cluster.api.call("DELETE", f"{PODS}/{name}", {"gracePeriodSeconds": 0})
    while not all([await cluster.api.pod_gone(name) for name in names]):
        if time.perf_counter() > deadline:
            raise RuntimeError(f"warm-up pods not gone in {READY_LIMIT:g}s")
        await asyncio.sleep(0.2)


async def delete_deployment(cluster: Cluster, limit: float) -> None:
    """Delete the bench Deployment (its ReplicaSets and pods with it) and wait until the
    watch sees none of its pods; RuntimeError past ``limit``."""
    body = {"propagationPolicy": "Background"}
    await cluster.api.call("DELETE", f"{DEPLOYMENTS}/{APP}", body)
    if await cluster.api.until(lambda: not cluster.api.view.pods, limit) is None:
        left = len(cluster.api.view.pods)
        raise RuntimeError(f"{left} bench pods still there {limit:g}s after the delete")
