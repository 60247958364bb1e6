"""Docker Swarm's side of the end-to-end benchmark (bench/e2e.py): a private dockerd in
a network namespace of its own, a one-node swarm on it, and a replicated service
timed through the Engine API.

Why a network namespace: ``docker swarm init`` creates the ``ingress`` overlay network
and, for its sandbox, the ``docker_gwbridge`` bridge with a veth pair and a route
(172.x/16) — even with ``--bridge=none --iptables=false`` and even when no service
ever uses them. On the machine's own network that would be a routing change; in a
namespace holding only ``lo`` (``unshare --net``, lo set up, then dockerd) it stays
there and goes when the daemon does. In that namespace the swarm is initialised with
``--advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:PORT`` (Docker 20.10 accepts a
loopback address for a single-node swarm; without one it answers "could not find the
system's IP address"). Navarch's docker runtime uses the same daemon, so its
``hostNetwork`` pods share that namespace as the swarm's ``--network host`` tasks do.

The service is created with ``POST /services/create`` on an open connection, as the
Navarch side creates its Deployment with one POST: the spec is what
``docker service create --detach --replicas N --network host --no-resolve-image
--stop-grace-period 1s IMAGE sh -c SCRIPT`` sends (image as named, never resolved
against a registry). Tasks are polled (``GET /tasks``) every POLL seconds: a task
counts when its state is ``running`` (its container started).
"""

from __future__ import annotations

import asyncio
import shlex
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from navarch.testing.daemon import free_port
from navarch.testing.dockerd import DockerdProcess

SERVICE = "bench"
POLL = 0.05  # seconds between two looks at the tasks
API = "/v1.41"  # Docker 20.10's Engine API
TASK_LABEL = f"com.docker.swarm.service.name={SERVICE}"  # on each task's container


class IsolatedDockerd(DockerdProcess):
    """A private dockerd (see DockerdProcess) in a new network namespace holding only
    ``lo``. ``sh`` execs dockerd, so the pid stopped is dockerd's own."""

    def command(self) -> list[str]:
        inner = shlex.join(super().command())
        return ["unshare", "--net", "--", "sh", "-c", f"ip link set lo up && exec {inner}"]


class Engine:
    """The Engine API over the daemon's unix socket (one connection pool)."""

    def __init__(self, socket_path: Path):
        self.session = aiohttp.ClientSession(
            connector=aiohttp.UnixConnector(path=str(socket_path)),
            timeout=aiohttp.ClientTimeout(total=60),
        )

    async def call(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        data = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        async with self.session.request(
            method, f"http://docker{API}{path}", data=data, params=params, headers=headers
        ) as response:
            raw = await response.read()
            if response.status >= 300:
                raise RuntimeError(f"{method} {path}: HTTP {response.status}: {raw[:500]!r}")
            return orjson.loads(raw) if raw else None

    async def containers(self, label: str, *, stopped: bool = False) -> list[dict[str, Any]]:
        """Containers labelled ``label`` ("key=value"): running ones, or all."""
        filters = orjson.dumps({"label": [label]}).decode()
        params = {"filters": filters, **({"all": "1"} if stopped else {})}
        return await self.call("GET", "/containers/json", **params)

    async def until_no_containers(self, label: str, limit: float) -> None:
        """Wait (bounded) until no container labelled ``label`` is left, even stopped."""
        deadline = time.perf_counter() + limit
        while await self.containers(label, stopped=True):
            if time.perf_counter() > deadline:
                raise RuntimeError(f"containers labelled {label} still there after {limit:g}s")
            await asyncio.sleep(0.2)

    async def close(self) -> None:
        await self.session.close()


def service_spec(image: str, command: list[str], replicas: int, network_id: str) -> dict[str, Any]:
    """What ``docker service create`` sends for the flags in the module's docstring."""
    return {
        "Name": SERVICE,
        "TaskTemplate": {
            "ContainerSpec": {"Image": image, "Args": command, "StopGracePeriod": 1_000_000_000},
            "Networks": [{"Target": network_id}],
        },
        "Mode": {"Replicated": {"Replicas": replicas}},
    }


def running_containers(tasks: list[dict[str, Any]]) -> set[str]:
    """Container ids of the tasks meant to run that run."""
    return {
        task["Status"]["ContainerStatus"]["ContainerID"]
        for task in tasks
        if task.get("DesiredState") == "running"
        and task["Status"].get("State") == "running"
        and (task["Status"].get("ContainerStatus") or {}).get("ContainerID")
    }


class Swarm:
    """A one-node swarm on ``engine``: ``init``, services, ``leave`` (force)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.listen_port = free_port()

    async def init(self) -> None:
        address = f"127.0.0.1:{self.listen_port}"
        await self.engine.call(
            "POST", "/swarm/init", {"ListenAddr": address, "AdvertiseAddr": address}
        )

    async def host_network(self) -> str:
        networks = await self.engine.call("GET", "/networks")
        return next(n["Id"] for n in networks if n["Name"] == "host")

    async def tasks(self) -> list[dict[str, Any]]:
        filters = orjson.dumps({"service": [SERVICE]}).decode()
        return await self.engine.call("GET", "/tasks", filters=filters)

    async def create(self, spec: dict[str, Any]) -> None:
        await self.engine.call("POST", "/services/create", spec)

    async def until_running(self, replicas: int, limit: float, exclude: set[str]) -> float | None:
        """Seconds until ``replicas`` tasks run in containers not in ``exclude``,
        polled every POLL s; None past ``limit``."""
        began = time.perf_counter()
        while time.perf_counter() - began < limit:
            if len(running_containers(await self.tasks()) - exclude) >= replicas:
                return time.perf_counter() - began
            await asyncio.sleep(POLL)
        return None

    async def containers(self) -> list[dict[str, Any]]:
        """The service's running containers."""
        return await self.engine.containers(TASK_LABEL)

    async def remove_service(self, limit: float) -> None:
        """Remove the service and wait (bounded) until its containers are gone."""
        await self.engine.call("DELETE", f"/services/{SERVICE}")
        await self.engine.until_no_containers(TASK_LABEL, limit)

    async def leave(self) -> None:
        await self.engine.call("POST", "/swarm/leave", force="1")
