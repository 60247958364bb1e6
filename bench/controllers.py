"""Controllers benchmark: a Deployment of many replicas on simulated nodes, its rolling
update, and a node failure, through a private API server, scheduler, controller
manager and agents on the simulated runtime.

    uv run python bench/controllers.py [--quick]

100 simulated nodes are run by 10 agent processes of 10 nodes each, so that one
process killed (SIGKILL) is 10 nodes failing at once, with their pods. Measured:

* a Deployment of 1,000 replicas: created -> every replica Running (on a pod watch);
* a rolling update of it (a new image): the update -> every replica Running the new
  template and the Deployment's status complete;
* failure: one agent process (10 nodes, ~100 pods) SIGKILLed -> 1,000 replicas Running
  on live nodes again; printed beside the node-lifecycle settings that decide it
  (lease renewal, grace, tolerationSeconds);
* a DaemonSet (a pod on each of the 100 nodes, placed by the scheduler) rolled to a new
  image with maxUnavailable 10%: the update -> a new pod Running on every node and the
  status complete (what ``kubectl rollout status ds/x`` waits for);
* a Job of 1,000 completions at parallelism 100, each pod exiting at once: its
  creation -> its Complete condition (every pod created, run and counted through the
  tracking finalizer), in seconds and pods completed per second (no stated target);
* the controller manager's CPU seconds and resident memory.

Everything runs on 127.0.0.1; every loop is bounded in count and time; every process
started here is stopped by pid.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import ssl
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from runtime import AgentProcess, rss_mib
from scheduler import SchedulerProcess, cpu_seconds
from targets import Target, report

from navarch.client.kubeconfig import load_kubeconfig
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.controllermanager import ControllerManagerProcess

IMAGE = "127.0.0.1:5000/bench:{version}"
SCRIPT = "trap 'exit 0' TERM; sleep 3600 & wait"
LIMIT = 600.0  # any one phase, seconds
LOG = {"level": "WARNING", "format": "json"}


@dataclass(frozen=True)
class Counts:
    agents: int
    nodes_per_agent: int
    replicas: int
    job_completions: int = 1000
    job_parallelism: int = 100


FULL = Counts(agents=10, nodes_per_agent=10, replicas=1000)
QUICK = Counts(agents=3, nodes_per_agent=4, replicas=60, job_completions=40, job_parallelism=10)


def deployment(replicas: int, version: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "bench", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "bench"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": {
                "metadata": {"labels": {"app": "bench"}},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {
                            "name": "main",
                            "image": IMAGE.format(version=version),
                            "command": ["sh", "-c", SCRIPT],
                            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                        }
                    ],
                },
            },
        },
    }


@dataclass
class PodView:
    """The pods of the default namespace as one watch sees them."""

    phase: dict[str, str] = field(default_factory=dict)
    node: dict[str, str] = field(default_factory=dict)
    image: dict[str, str] = field(default_factory=dict)
    terminating: set[str] = field(default_factory=set)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def apply(self, kind: str, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        if kind == "DELETED":
            for table in (self.phase, self.node, self.image):
                table.pop(name, None)
            self.terminating.discard(name)
        else:
            self.phase[name] = (obj.get("status") or {}).get("phase", "")
            self.node[name] = obj["spec"].get("nodeName") or ""
            self.image[name] = obj["spec"]["containers"][0]["image"]
            if obj["metadata"].get("deletionTimestamp"):
                self.terminating.add(name)
        self.changed.set()

    def running(self, *, image: str | None = None, dead: frozenset[str] = frozenset()) -> int:
        return sum(
            1
            for name, phase in self.phase.items()
            if phase == "Running"
            and name not in self.terminating
            and self.node.get(name) not in dead
            and (image is None or self.image.get(name) == image)
        )


class Api:
    def __init__(self, server: ApiServerProcess):
        config = load_kubeconfig(server.kubeconfig)
        self.url = server.url
        context = ssl.create_default_context(cadata=config.ca_data.decode())
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=context, limit=16),
            headers={"Authorization": f"Bearer {config.token}"},
        )
        self.pods = PodView()
        self._watch: asyncio.Task[None] | None = None

    async def call(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        data = orjson.dumps(body) if body is not None else None
        kwargs: dict[str, Any] = {"data": data}
        if data is not None:
            kwargs["headers"] = {"Content-Type": headers.get("content_type", "application/json")}
        async with self.session.request(method, f"{self.url}{path}", **kwargs) as response:
            payload = orjson.loads(await response.read())
            if response.status >= 300:
                raise RuntimeError(f"{method} {path}: HTTP {response.status}: {payload}")
            return payload

    async def watch_pods(self) -> None:
        listed = await self.call("GET", "/api/v1/namespaces/default/pods")
        for item in listed["items"]:
            self.pods.apply("ADDED", item)
        revision = listed["metadata"]["resourceVersion"]
        self._watch = asyncio.create_task(self._read(revision))

    async def _read(self, revision: str) -> None:
        url = f"{self.url}/api/v1/namespaces/default/pods?watch=1&resourceVersion={revision}"
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with self.session.get(url, timeout=timeout) as response:
            async for line in response.content:
                event = orjson.loads(line)
                if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                    self.pods.apply(event["type"], event["object"])

    async def until(self, check: Any, limit: float = LIMIT) -> float | None:
        """Seconds until ``check()`` holds (looked at on every pod event), None past
        ``limit``."""
        began = time.perf_counter()
        deadline = began + limit
        while not check():
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            self.pods.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.pods.changed.wait(), min(left, 1.0))
        return time.perf_counter() - began

    async def ready_nodes(self) -> int:
        items = (await self.call("GET", "/api/v1/nodes"))["items"]
        return sum(
            any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in (n.get("status") or {}).get("conditions") or []
            )
            for n in items
        )

    async def deployment_done(self, generation_at_least: int, replicas: int) -> bool:
        body = await self.call("GET", "/apis/apps/v1/namespaces/default/deployments/bench")
        status = body.get("status") or {}
        return (
            (status.get("observedGeneration") or 0) >= generation_at_least
            and status.get("updatedReplicas") == replicas
            and status.get("availableReplicas") == replicas
            and status.get("replicas") == replicas
        )

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        await self.session.close()


DAEMONSET = "bench-agent"


def daemonset(version: int) -> dict[str, Any]:
    labels = {"app": DAEMONSET}
    container = {
        "name": "agent",
        "image": IMAGE.format(version=version),
        "command": ["sh", "-c", SCRIPT],
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": DAEMONSET, "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": labels},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"terminationGracePeriodSeconds": 1, "containers": [container]},
            },
        },
    }


async def daemonset_rollout(api: Api, nodes: int) -> dict[str, float | None]:
    """A DaemonSet on every node, then rolled to a new image: seconds to a pod Running
    everywhere, and seconds from the update to every node running the new image with
    the DaemonSet's status complete. The DaemonSet is deleted after (the phases after
    this one count the Deployment's pods only)."""
    path = "/apis/apps/v1/namespaces/default/daemonsets"
    prefix = f"{DAEMONSET}-"

    def running(image: str) -> int:
        view = api.pods
        return sum(
            1
            for name, phase in view.phase.items()
            if name.startswith(prefix)
            and phase == "Running"
            and name not in view.terminating
            and view.image.get(name) == image
        )

    async def complete() -> bool:
        body = await api.call("GET", f"{path}/{DAEMONSET}")
        status = body.get("status") or {}
        return (
            (status.get("observedGeneration") or 0) >= body["metadata"]["generation"]
            and status.get("updatedNumberScheduled") == nodes
            and status.get("numberAvailable") == nodes
        )

    figures: dict[str, float | None] = {}
    await api.call("POST", path, daemonset(1))
    figures["daemonset up"] = await api.until(lambda: running(IMAGE.format(version=1)) >= nodes)
    new_image = IMAGE.format(version=2)
    containers = [{"name": "agent", "image": new_image}]
    patch = {"spec": {"template": {"spec": {"containers": containers}}}}
    began = time.perf_counter()
    await api.call(
        "PATCH",
        f"{path}/{DAEMONSET}",
        patch,
        content_type="application/strategic-merge-patch+json",
    )
    rolled = await api.until(lambda: running(new_image) >= nodes)
    if rolled is not None:
        deadline = time.perf_counter() + LIMIT
        while not await complete():
            if time.perf_counter() > deadline:
                rolled = None
                break
            await asyncio.sleep(0.2)
    figures["daemonset rollout"] = None if rolled is None else time.perf_counter() - began
    await api.call("DELETE", f"{path}/{DAEMONSET}", {"propagationPolicy": "Foreground"})
    await api.until(lambda: not any(name.startswith(prefix) for name in api.pods.phase))
    return figures


JOB = "bench-job"


def job(completions: int, parallelism: int) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": JOB, "namespace": "default"},
        "spec": {
            "completions": completions,
            "parallelism": parallelism,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {
                            "name": "work",
                            "image": IMAGE.format(version=1),
                            "command": ["sh", "-c", "echo done"],
                            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                        }
                    ],
                },
            },
        },
    }


async def job_completion(api: Api, completions: int, parallelism: int) -> dict[str, float | None]:
    """A Job of ``completions`` pods, ``parallelism`` at a time, each exiting at once:
    seconds from its creation to its Complete condition (every pod created, run,
    counted through the tracking finalizer), and pods completed per second. The Job and
    its pods are deleted after (the failover phase counts the Deployment's pods only)."""
    path = "/apis/batch/v1/namespaces/default/jobs"
    began = time.perf_counter()
    await api.call("POST", path, job(completions, parallelism))
    seconds: float | None = None
    while time.perf_counter() - began < LIMIT:
        status = (await api.call("GET", f"{path}/{JOB}")).get("status") or {}
        if any(
            c.get("type") == "Complete" and c.get("status") == "True"
            for c in status.get("conditions") or []
        ):
            seconds = time.perf_counter() - began
            break
        await asyncio.sleep(0.2)
    await api.call("DELETE", f"{path}/{JOB}", {"propagationPolicy": "Background"})
    await api.until(lambda: not any(name.startswith(f"{JOB}-") for name in api.pods.phase))
    return {"job": seconds, "job pods/s": completions / seconds if seconds else None}


def node_lifecycle_settings() -> str:
    """What decides how fast a dead node's pods come back, as configured by default."""
    from navarch.config import SETTINGS

    agent = {s.key: s.default for s in SETTINGS if s.key.startswith("agent.lease")}
    parts = [f"lease renewed every {agent['agent.lease_renew_seconds']} s"]
    try:
        from navarch.controllers.nodelifecycle import NodeLifecycleOptions
    except ImportError:
        return ", ".join(parts) + "; node-lifecycle controller not installed"
    defaults = NodeLifecycleOptions()
    for name in ("node_monitor_grace_seconds",):
        if hasattr(defaults, name):
            parts.append(f"{name} {getattr(defaults, name)}")
    for setting in SETTINGS:
        if "toleration" in setting.key:
            parts.append(f"{setting.key} {setting.default}")
    return ", ".join(parts)


async def run(root: Path, counts: Counts, quick: bool) -> bool:
    nodes = counts.agents * counts.nodes_per_agent
    figures: dict[str, Any] = {}
    with ApiServerProcess(root / "api", settings={"log": LOG}) as server:
        scheduler = SchedulerProcess(root / "scheduler", server.kubeconfig, "spread").start()
        # INFO: its readiness is the "controllers starting" line
        manager = ControllerManagerProcess(
            root / "controllers", server.kubeconfig, settings={"log": {**LOG, "level": "INFO"}}
        )
        agents = [
            AgentProcess(
                root / f"agent-{index}",
                server.kubeconfig,
                "sim",
                {},
                simulate=counts.nodes_per_agent,
                prefix=f"sim{index}",
            )
            for index in range(counts.agents)
        ]
        api = Api(server)
        try:
            manager.start(timeout=60)
            for agent in agents:
                agent.start()
            began = time.perf_counter()
            while await api.ready_nodes() < nodes:
                for agent in agents:
                    agent.check()
                if time.perf_counter() - began > LIMIT:
                    raise RuntimeError(f"{nodes} nodes not Ready in {LIMIT:g}s")
                await asyncio.sleep(0.5)
            await asyncio.sleep(2.0)  # the scheduler's node cache catches up
            await api.watch_pods()
            cpu_before = cpu_seconds(manager.process.pid) if manager.process else 0.0

            # 1. the Deployment, created -> every replica Running
            print(f"  a Deployment of {counts.replicas:,} replicas on {nodes} nodes…", flush=True)
            await api.call(
                "POST",
                "/apis/apps/v1/namespaces/default/deployments",
                deployment(counts.replicas, 1),
            )
            cpu_at = _cpu(server, scheduler, manager, agents)
            figures["scale up"] = await api.until(lambda: api.pods.running() >= counts.replicas)
            after = _cpu(server, scheduler, manager, agents)
            figures["scale up cpu"] = {name: after[name] - cpu_at[name] for name in after}

            # 2. the rolling update: a new image
            print("  its rolling update…", flush=True)
            new_image = IMAGE.format(version=2)
            patch = {
                "spec": {
                    "template": {"spec": {"containers": [{"name": "main", "image": new_image}]}}
                }
            }
            began = time.perf_counter()
            await api.call(
                "PATCH",
                "/apis/apps/v1/namespaces/default/deployments/bench",
                patch,
                content_type="application/strategic-merge-patch+json",
            )
            updated = await api.until(
                lambda: (
                    api.pods.running(image=new_image) >= counts.replicas
                    and len(api.pods.phase) == counts.replicas
                )
            )
            if updated is not None:
                deadline = time.perf_counter() + LIMIT
                while not await api.deployment_done(2, counts.replicas):
                    if time.perf_counter() > deadline:
                        updated = None
                        break
                    await asyncio.sleep(0.2)
            figures["rolling update"] = None if updated is None else time.perf_counter() - began

            # 3. a DaemonSet on every node, rolled to a new image (removed after)
            print(f"  a DaemonSet on {nodes} nodes and its rollout…", flush=True)
            figures.update(await daemonset_rollout(api, nodes))

            # 4. a Job run to completion (removed after)
            print(
                f"  a Job of {counts.job_completions:,} completions at parallelism "
                f"{counts.job_parallelism}…",
                flush=True,
            )
            figures.update(
                await job_completion(api, counts.job_completions, counts.job_parallelism)
            )

            # 5. one agent process (its nodes, their pods) killed
            victim = agents[0]
            dead = frozenset(f"{victim.prefix}-{n}" for n in range(counts.nodes_per_agent))
            on_dead = sum(1 for name, node in api.pods.node.items() if node in dead)
            print(f"  SIGKILL one agent: {len(dead)} nodes, {on_dead} pods…", flush=True)
            assert victim.process is not None
            victim.process.send_signal(signal.SIGKILL)
            victim.process.wait(timeout=30)
            figures["failover"] = await api.until(
                lambda: api.pods.running(dead=dead) >= counts.replicas
            )
            figures["failover pods"] = on_dead
            if manager.process is not None:
                figures["cm cpu"] = cpu_seconds(manager.process.pid) - cpu_before
                figures["cm rss"] = rss_mib(manager.process.pid)
        finally:
            await api.close()
            for agent in agents:
                agent.stop()
            manager.stop()
            scheduler.stop()
    return print_figures(figures, counts, quick)


def _cpu(
    server: ApiServerProcess,
    scheduler: SchedulerProcess,
    manager: ControllerManagerProcess,
    agents: list[AgentProcess],
) -> dict[str, float]:
    """CPU seconds used so far by each daemon (the agents summed)."""

    def used(process: Any) -> float:
        return cpu_seconds(process.pid) if process is not None and process.poll() is None else 0.0

    return {
        "API server": used(server.process),
        "scheduler": used(scheduler.process),
        "controllers": used(manager.process),
        "agents": sum(used(agent.process) for agent in agents),
    }


def _seconds(value: float | None) -> str:
    return "not reached" if value is None else f"{value:.1f} s"


def print_figures(figures: dict[str, Any], counts: Counts, quick: bool) -> bool:
    nodes = counts.agents * counts.nodes_per_agent
    print()
    print(
        f"Controllers benchmark ({'quick' if quick else 'full'}): {nodes} simulated nodes "
        f"in {counts.agents} agent processes, 2 cores shared by every process"
    )
    rows = [
        (f"Deployment of {counts.replicas:,}: created -> all Running", figures.get("scale up")),
        ("rolling update (new image) -> complete", figures.get("rolling update")),
        (f"DaemonSet on {nodes} nodes: created -> all Running", figures.get("daemonset up")),
        (
            f"DaemonSet rollout, {nodes} nodes, 10% at a time -> complete",
            figures.get("daemonset rollout"),
        ),
        (
            f"Job of {counts.job_completions:,} completions, parallelism "
            f"{counts.job_parallelism} -> Complete",
            figures.get("job"),
        ),
        (
            f"one agent killed ({counts.nodes_per_agent} nodes, "
            f"{figures.get('failover pods', 0)} pods) -> all Running again",
            figures.get("failover"),
        ),
    ]
    print()
    for label, seconds in rows:
        print(f"{label:<64} {_seconds(seconds)}")
    job_rate = figures.get("job pods/s")
    print(f"  Job: {'n/a' if job_rate is None else f'{job_rate:.1f}'} pods completed/s")
    cpu = figures.get("scale up cpu") or {}
    print(
        "  CPU s during the scale-up: "
        + " / ".join(f"{name} {seconds:.1f}" for name, seconds in cpu.items())
    )
    print(f"  failover decided by: {node_lifecycle_settings()}")
    print(
        f"controller manager: {figures.get('cm cpu', 0.0):.1f} CPU s over the run, "
        f"RSS {figures.get('cm rss', 0.0):.0f} MiB"
    )
    targets = [
        Target(f"{counts.replicas:,} replicas Running", figures.get("scale up"), "<=", 10.0, " s"),
        Target("failover, all replicas Running again", figures.get("failover"), "<=", 30.0, " s"),
        Target(
            f"DaemonSet rolled across {nodes} nodes",
            figures.get("daemonset rollout"),
            "<=",
            60.0,
            " s",
        ),
    ]
    return report(targets, quick=quick)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts (a smoke run)")
    args = parser.parse_args()
    counts = QUICK if args.quick else FULL
    with tempfile.TemporaryDirectory(prefix="navarch-bench-controllers-") as root:
        ok = asyncio.run(run(Path(root), counts, args.quick))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
