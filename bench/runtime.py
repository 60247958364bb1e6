"""Runtime benchmark: the runtime plugins sim, docker, containerd and cri (containerd
through its CRI plugin) side by side in one run, docker and containerd each with its
daemon's bare CLI on the same private daemon as its floor.

    uv run python bench/runtime.py [--quick]      (or: make bench)

Measured per runtime, driven in this process through its plugin (as the agent builds
it): image load from the busybox archive; sandbox create; container create+start
p50/p99, one after another and in parallel; stop+remove. The floors (what each row
runs is in runtime_floors.py) are Debian's ``docker`` client (``docker run -d
--network none``) on the private dockerd and Debian's ``ctr`` (``ctr run -d``) on a
private containerd, in a containerd namespace of its own; cri runs on a private
containerd of its own with its CRI plugin on (navarch.testing.cri), beside the
containerd runtime's figures. Then pod startup through
the whole system: a private API server, a scheduler and an agent process on that
runtime, pod created -> Running seen on a watch, p50/p99, one pod after another; the
agent's resident memory with many pods running; and 200 simulated nodes x 20 pods in
one agent process, with the API server's CPU seconds per node heartbeat (Lease
renewal). The agents use the admin kubeconfig (one node token cannot serve 200
simulated nodes). Everything runs on 127.0.0.1; every loop is bounded in count and
time; every process started here is stopped by pid (containerd's shims too).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import os
import secrets
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml
from call_times import CallTimes
from runtime_floors import (
    LOAD_REPEATS,
    collect_garbage,
    ctr_cli,
    ctr_floor,
    docker_cli,
    docker_floor,
)
from scheduler import SchedulerProcess, cpu_seconds, percentile
from targets import Target, format_ratio, ratio, report

from navarch.assembly import assemble
from navarch.client.kubeconfig import load_kubeconfig
from navarch.config import load_config
from navarch.runtime import ContainerConfig, Runtime, RuntimeFault, SandboxConfig
from navarch.runtime.labels import container_labels, sandbox_labels
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.containerd import ContainerdProcess
from navarch.testing.cri import CRI_NAMESPACE, CriContainerdProcess
from navarch.testing.daemon import DaemonProcess, unmount_under
from navarch.testing.dockerd import DockerdProcess
from navarch.testing.images import BUSYBOX_IMAGE, busybox_archive

# Exits at once on SIGTERM (a plain `sleep` as PID 1 ignores it and every stop would
# wait out its grace period); the simulator acts this script out too.
SCRIPT = "trap 'exit 0' TERM; sleep 3600 & wait"
COMMAND = ("sh", "-c", SCRIPT)
NODE = "bench-node"
CALL_LIMIT = 120.0  # one runtime call (runtime_floors.py bounds each CLI run)
POD_LIMIT = 120.0  # one pod, created -> Running
CREATE_ATTEMPTS = 20  # a pod create answered 429 (server at its in-flight limit)
PHASE_LIMIT = 900.0  # many pods at once (4,000 simulated)
RUNTIMES = ("sim", "docker", "containerd", "cri")
FLOORS = {"docker": "docker CLI", "containerd": "ctr"}  # each real runtime's floor


@dataclass(frozen=True)
class Counts:
    sequential: int  # containers one after another
    parallel: int  # containers at once
    pods: int  # pods one after another through the system
    memory_pods: int  # pods running when the agent's memory is read
    sim_nodes: int
    pods_per_node: int
    heartbeat_window: float  # seconds the API server's CPU per heartbeat is measured over


@dataclass(frozen=True)
class RunOptions:
    keep: bool  # keep every process's log
    agent_log: str  # the agents' log level (DEBUG: each pod's steps, with pods.json)
    call_times: bool  # time each daemon call of the sequential create+starts


FULL = Counts(50, 20, 50, 100, 200, 20, 30.0)
QUICK = Counts(10, 10, 10, 20, 20, 5, 10.0)


def ms(seconds: list[float]) -> list[float]:
    return [s * 1000 for s in seconds]


def p50_p99(millis: list[float]) -> str:
    if not millis:
        return "n/a"
    return f"{percentile(millis, 50):,.1f} / {percentile(millis, 99):,.1f}"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def dockerd_directory() -> Path:
    """A short directory (a unix socket path holds at most 107 bytes) whose name is
    letters and digits only: DockerdProcess derives its containerd namespace from it,
    and containerd refuses a namespace ending in "_", which mkdtemp's names may."""
    path = Path("/tmp") / f"nb{os.getpid()}x{secrets.token_hex(4)}"
    path.mkdir(mode=0o700)
    return path


# --- the runtimes, driven directly ----------------------------------------------------


async def build_runtime(name: str, options: dict[str, Any], data_dir: Path) -> Runtime:
    """The runtime as ``navarch agent`` builds it: through its plugin's registration."""
    entry = assemble(load_config(env={})).registries.runtimes.entry(name)
    runtime = entry.value(options, str(data_dir))
    return await runtime if inspect.isawaitable(runtime) else runtime


async def timed(call: Awaitable[Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await asyncio.wait_for(call, CALL_LIMIT)
    return time.perf_counter() - started, result


async def runtime_figures(
    runtime: Runtime,
    archive: Path,
    counts: Counts,
    before_load: Callable[[], Awaitable[None]] | None = None,
    calls: CallTimes | None = None,
) -> dict[str, Any]:
    """Image load, sandbox create, container create+start (one after another and in
    parallel) and stop+remove, in seconds per operation. ``before_load`` runs untimed
    before each load (containerd: collect the removed image's content, so that each
    load starts from nothing, as its floor's does). ``calls`` records the daemon
    client's calls during the sequential create+starts."""
    loads = []
    for attempt in range(LOAD_REPEATS):
        if attempt:
            await runtime.remove_image(BUSYBOX_IMAGE)
        if before_load is not None:
            await before_load()
        loads.append((await timed(runtime.load_image(archive)))[0])
    figures: dict[str, Any] = {"load": loads}
    sandboxes: list[str] = []
    containers: list[str] = []

    async def sandbox(index: int, into: str) -> tuple[str, SandboxConfig]:
        uid = f"bench-{into}-{index}"
        config = SandboxConfig(
            uid, "default", uid, labels=sandbox_labels(NODE, "default", uid, uid)
        )
        seconds, sandbox_id = await timed(runtime.create_sandbox(config))
        sandboxes.append(sandbox_id)
        figures.setdefault(f"sandbox {into}", []).append(seconds)
        return sandbox_id, config

    async def container(sandbox_id: str, sandbox: SandboxConfig, into: str) -> None:
        uid = sandbox.uid
        config = ContainerConfig(
            "main",
            BUSYBOX_IMAGE,
            command=COMMAND,
            labels=container_labels(NODE, "default", uid, uid, "main", 0),
        )
        if calls is not None:
            calls.recording = into == "seq"
        started = time.perf_counter()
        container_id = await asyncio.wait_for(
            runtime.create_container(sandbox_id, config, sandbox), CALL_LIMIT
        )
        containers.append(container_id)
        await asyncio.wait_for(runtime.start_container(container_id), CALL_LIMIT)
        figures.setdefault(into, []).append(time.perf_counter() - started)
        if calls is not None:
            calls.recording = False

    try:
        # Untimed: a first sandbox may build and load the pause image once.
        await container(*await sandbox(0, "warm-up"), "warm-up")
        for index in range(counts.sequential):
            await container(*await sandbox(index, "seq"), "seq")
        # Sandboxes first, so the parallel containers compare with `docker run` alone.
        made = await asyncio.gather(*(sandbox(i, "par") for i in range(counts.parallel)))
        began = time.perf_counter()
        await asyncio.gather(*(container(*pair, "par") for pair in made))
        figures["par wall"] = time.perf_counter() - began
        if calls is not None and figures.get("seq"):
            figures["call times"] = calls.lines(len(figures["seq"]), sum(figures["seq"]))
    finally:
        # A runtime's error here is a finding to print, not the end of the run: the
        # rest is still torn down (and measured), the failure counted and shown.
        errors = figures.setdefault("errors", [])
        for container_id in containers:
            started = time.perf_counter()
            try:
                await asyncio.wait_for(runtime.stop_container(container_id, 0), CALL_LIMIT)
                await asyncio.wait_for(runtime.remove_container(container_id), CALL_LIMIT)
            except RuntimeFault as exc:
                errors.append(f"stop+remove: {exc!r}")
                continue
            figures.setdefault("teardown", []).append(time.perf_counter() - started)
        for sandbox_id in sandboxes:
            try:
                seconds, _ = await timed(runtime.remove_sandbox(sandbox_id))
            except RuntimeFault as exc:
                errors.append(f"sandbox remove: {exc!r}")
                continue
            figures.setdefault("sandbox remove", []).append(seconds)
    return figures


# --- the whole system: API server, scheduler, agent -----------------------------------


class AgentProcess(DaemonProcess):
    """``navarch agent`` on one runtime: one node, or ``simulate`` nodes in one process."""

    def __init__(
        self,
        directory: Path,
        kubeconfig: Path,
        runtime: str,
        options: dict[str, Any],
        *,
        simulate: int = 0,
        log_level: str = "WARNING",
        prefix: str = "sim",
    ):
        self.prefix = prefix
        self.directory = directory
        self.log_path = directory / "agent.log"
        self.kubeconfig = kubeconfig
        self.runtime = runtime
        self.options = options
        self.simulate = simulate
        self.log_level = log_level

    def start(self) -> AgentProcess:
        self.directory.mkdir(parents=True, exist_ok=True)
        agent: dict[str, Any] = {
            "node_ip": "127.0.0.1",
            "address": "127.0.0.1",
            "port": 0,
            # Several nodes share this machine: capacity as flags would set it.
            "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
        }
        if self.simulate:
            agent.update(simulate=self.simulate, simulate_prefix=self.prefix)
        else:
            agent["node_name"] = f"{NODE}-{self.runtime}"
        config = {
            "data_dir": str(self.directory / "data"),
            "kubeconfig": str(self.kubeconfig),
            "runtime": {"name": self.runtime, "options": self.options},
            "agent": agent,
            "log": {"level": self.log_level, "format": "json"},
        }
        path = self.directory / "agent.yaml"
        path.write_text(yaml.safe_dump(config))
        env = {k: v for k, v in os.environ.items() if not k.startswith("NAVARCH_")}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "navarch.cli.navarch", "--config", str(path), "agent"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        return self

    def check(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"agent exited with {self.process.returncode}: {self.log_tail()}")


def pod_body(name: str) -> bytes:
    return orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [
                    {
                        "name": "main",
                        "image": BUSYBOX_IMAGE,
                        # Loaded into docker and containerd beforehand: never
                        # pulled. The simulator "pulls" in memory.
                        "imagePullPolicy": "IfNotPresent",
                        "command": list(COMMAND),
                        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                    }
                ],
            },
        }
    )


class Api:
    """The load generator's HTTPS session to the API server (admin token), and one pod
    watch recording when each pod is first seen Running and where."""

    def __init__(self, server: ApiServerProcess):
        config = load_kubeconfig(server.kubeconfig)
        self.url = server.url
        context = ssl.create_default_context(cadata=config.ca_data.decode())
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=context, limit=64),
            headers={"Authorization": f"Bearer {config.token}", "Content-Type": "application/json"},
        )
        self.created: dict[str, float] = {}
        self.running: dict[str, float] = {}
        self.placement: dict[str, str] = {}
        self._waiters: dict[str, asyncio.Future[None]] = {}
        self._watch: asyncio.Task[None] | None = None

    async def revision(self, path: str) -> str:
        async with self.session.get(f"{self.url}{path}?limit=1") as response:
            return orjson.loads(await response.read())["metadata"]["resourceVersion"]

    async def watch_pods(self) -> None:
        revision = await self.revision("/api/v1/namespaces/default/pods")
        self._watch = asyncio.create_task(self._read_pods(revision))

    async def _read_pods(self, revision: str) -> None:
        url = f"{self.url}/api/v1/namespaces/default/pods?watch=1&resourceVersion={revision}"
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with self.session.get(url, timeout=timeout) as response:
            async for line in response.content:
                obj = orjson.loads(line)["object"]
                name = obj["metadata"]["name"]
                phase = (obj.get("status") or {}).get("phase")
                if phase == "Running" and name not in self.running:
                    self.running[name] = time.perf_counter()
                    self.placement[name] = obj["spec"].get("nodeName", "")
                    waiter = self._waiters.pop(name, None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(None)

    async def create(self, names: list[str]) -> None:
        async def one(name: str) -> None:
            self.created[name] = time.perf_counter()
            # A server at its in-flight limit answers 429 with Retry-After: come back
            # then, as client-go does (bounded: a server that never takes it is a failure).
            for _ in range(CREATE_ATTEMPTS):
                async with self.session.post(
                    f"{self.url}/api/v1/namespaces/default/pods", data=pod_body(name)
                ) as response:
                    await response.read()
                    if response.status == 201:
                        return
                    if response.status != 429:
                        raise RuntimeError(f"create {name}: HTTP {response.status}")
                    await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
            raise RuntimeError(f"create {name}: still 429 after {CREATE_ATTEMPTS} attempts")

        for start in range(0, len(names), 64):
            await asyncio.gather(*(one(n) for n in names[start : start + 64]))

    async def start_one(self, name: str, limit: float = POD_LIMIT) -> float | None:
        """Create one pod and wait until it is seen Running: seconds, None on timeout."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters[name] = waiter
        await self.create([name])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter, limit)
        if name not in self.running:
            return None
        return self.running[name] - self.created[name]

    async def wait_running(
        self, names: list[str], limit: float, alive: Callable[[], None]
    ) -> float | None:
        """Until every name is Running: the time of the last one, None past ``limit``."""
        deadline = time.perf_counter() + limit
        while time.perf_counter() < deadline:
            if all(n in self.running for n in names):
                return max(self.running[n] for n in names)
            alive()
            await asyncio.sleep(0.1)
        return None

    async def count_renewals(self, seconds: float) -> tuple[int, int]:
        """Lease renewals and Node writes the API server takes in ``seconds``."""
        counts: Counter[str] = Counter()

        async def read(path: str, kind: str) -> None:
            revision = await self.revision(path)
            url = f"{self.url}{path}?watch=1&resourceVersion={revision}"
            async with self.session.get(url) as response:
                async for line in response.content:
                    if orjson.loads(line)["type"] == "MODIFIED":
                        counts[kind] += 1

        tasks = [
            asyncio.create_task(
                read("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", "lease")
            ),
            asyncio.create_task(read("/api/v1/nodes", "node")),
        ]
        await asyncio.sleep(seconds)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return counts["lease"], counts["node"]

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        await self.session.close()


@dataclass
class Cluster:
    server: ApiServerProcess
    scheduler: SchedulerProcess
    agent: AgentProcess
    api: Api

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far by each process (the load generator is this one)."""
        daemons = {"API server": self.server, "scheduler": self.scheduler, "agent": self.agent}
        used = {name: cpu_seconds(d.process.pid) for name, d in daemons.items() if d.process}
        return {**used, "generator": cpu_seconds("self")}


@contextlib.asynccontextmanager
async def cluster(
    root: Path,
    runtime: str,
    options: dict[str, Any],
    *,
    simulate: int = 0,
    agent_log: str = "WARNING",
):
    """API server + scheduler + agent processes, each stopped by pid on the way out."""
    settings = {"log": {"level": "WARNING", "format": "json"}}
    with ApiServerProcess(root / "api", settings=settings) as server:
        scheduler = SchedulerProcess(root / "scheduler", server.kubeconfig, "spread").start()
        agent: AgentProcess | None = None
        api = Api(server)
        try:
            agent = AgentProcess(
                root / "agent",
                server.kubeconfig,
                runtime,
                options,
                simulate=simulate,
                log_level=agent_log,
            ).start()
            await api.watch_pods()
            await wait_nodes_ready(api, simulate or 1, agent)
            yield Cluster(server, scheduler, agent, api)
        finally:
            await api.close()
            if agent is not None:
                agent.stop()
            scheduler.stop()


async def wait_nodes_ready(api: Api, nodes: int, agent: AgentProcess) -> None:
    deadline = time.perf_counter() + POD_LIMIT
    while time.perf_counter() < deadline:
        agent.check()
        async with api.session.get(f"{api.url}/api/v1/nodes") as response:
            items = orjson.loads(await response.read())["items"]
        ready = sum(
            any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in (n.get("status") or {}).get("conditions") or []
            )
            for n in items
        )
        if ready >= nodes:
            await asyncio.sleep(1.0)  # the scheduler's node cache catches up
            return
        await asyncio.sleep(0.5)
    raise RuntimeError(f"{nodes} node(s) not Ready in {POD_LIMIT:g}s: {agent.log_tail()}")


def write_pod_times(api: Api, path: Path) -> None:
    """Created and Running times of the pods so far, on the wall clock (the agent's
    log has wall-clock times; this process measures on the monotonic one)."""
    offset = time.time() - time.perf_counter()
    times = {
        name: {"created": created + offset, "running": api.running.get(name, 0.0) + offset}
        for name, created in api.created.items()
    }
    path.write_bytes(orjson.dumps(times, option=orjson.OPT_INDENT_2))


async def system_figures(
    root: Path,
    runtime: str,
    options: dict[str, Any],
    counts: Counts,
    daemon: int | None,
    agent_log: str = "WARNING",
) -> dict[str, Any]:
    """Pod startup one pod after another, then the agent's memory and idle CPU (and the
    runtime daemon's, pid ``daemon``) with many pods running. Each pod's created and
    Running times (wall clock, to set beside the agent's log) go to ``root/pods.json``."""
    async with cluster(root, runtime, options, agent_log=agent_log) as running:
        agent, api = running.agent, running.api
        startups: list[float] = []
        missed = 0
        for index in range(counts.pods):
            agent.check()
            seconds = await api.start_one(f"seq-{index:03d}")
            if seconds is None:
                missed += 1
            else:
                startups.append(seconds)
        write_pod_times(api, root / "pods.json")
        rest = [f"mem-{i:03d}" for i in range(counts.memory_pods - counts.pods)]
        await api.create(rest)
        everything = [*api.created]
        done = await api.wait_running(everything, PHASE_LIMIT, agent.check)
        running = sum(n in api.running for n in everything)
        await asyncio.sleep(3.0)  # settle: status writes, relist
        assert agent.process is not None
        pids = {"agent": agent.process.pid, **({"daemon": daemon} if daemon else {})}
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        began = time.perf_counter()
        await asyncio.sleep(counts.heartbeat_window)
        elapsed = time.perf_counter() - began
        idle = {name: (cpu_seconds(pid) - before[name]) / elapsed for name, pid in pids.items()}
        return {
            "idle cpu": idle,
            "startup": startups,
            "missed": missed,
            "memory pods": running,
            "memory pods wanted": len(everything),
            "all running": done is not None,
            "agent rss": rss_mib(agent.process.pid),
        }


async def simulated_figures(root: Path, counts: Counts) -> dict[str, Any]:
    """``navarch agent --simulate N --runtime sim``: N x pods_per_node pods, all Running."""
    nodes, total = counts.sim_nodes, counts.sim_nodes * counts.pods_per_node
    async with cluster(root, "sim", {}, simulate=nodes) as running:
        server, agent, api = running.server, running.agent, running.api
        names = [f"sim-pod-{i:05d}" for i in range(total)]
        cpu_pods = running.cpu_seconds()
        began = time.perf_counter()
        await api.create(names)
        created = time.perf_counter()
        last = await api.wait_running(names, PHASE_LIMIT, agent.check)
        finished = last if last is not None else time.perf_counter()
        cpu_pods = {k: v - cpu_pods[k] for k, v in running.cpu_seconds().items()}
        pods_running = sum(n in api.running for n in names)
        per_node = Counter(api.placement[n] for n in names if n in api.placement)
        await asyncio.sleep(5.0)  # let status writes settle before the quiet window
        assert server.process is not None and agent.process is not None
        cpu_before = cpu_seconds(server.process.pid)
        window_began = time.perf_counter()
        leases, node_writes = await api.count_renewals(counts.heartbeat_window)
        window = time.perf_counter() - window_began
        server_cpu = cpu_seconds(server.process.pid) - cpu_before
        return {
            "nodes": nodes,
            "pods": total,
            "running": pods_running,
            "cpu during startup": cpu_pods,
            "create seconds": created - began,
            "seconds": finished - began,
            "spread": (min(per_node.values()), max(per_node.values())) if per_node else (0, 0),
            "window": window,
            "server cpu": server_cpu,
            "leases": leases,
            "node writes": node_writes,
            "cpu per heartbeat": server_cpu / leases if leases else None,
            "agent rss": rss_mib(agent.process.pid),
            "server rss": server.rss_bytes() / 2**20,
        }


# --- the table --------------------------------------------------------------------------


def print_table(results: dict[str, dict[str, Any]], counts: Counts) -> None:
    floors = {name: results[floor] for name, floor in FLOORS.items()}
    columns = (
        *RUNTIMES,
        *(f"{floor} (floor)" for floor in FLOORS.values()),
        *(f"{name}/floor" for name in FLOORS),
    )
    blanks = ["-"] * (len(FLOORS) * 2)

    def versus(values: list[float], base: list[float], stat: str) -> str:
        if not values or not base:
            return "-"
        if stat == "median":
            return format_ratio(ratio(statistics.median(values), statistics.median(base)))
        p50 = format_ratio(ratio(percentile(values, 50), percentile(base, 50)))
        p99 = format_ratio(ratio(percentile(values, 99), percentile(base, 99)))
        return f"{p50} / {p99}"

    def row(name: str, key: str, *, stat: str = "p50/p99", floored: bool = True) -> list[str]:
        cells = []
        for figures in [*(results[r] for r in RUNTIMES), *floors.values()]:
            values = ms(figures.get(key, []))
            if stat == "median":
                cells.append(f"{statistics.median(values):,.1f}" if values else "n/a")
            else:
                cells.append(p50_p99(values))
        for runtime, floor in floors.items():
            values, base = ms(results[runtime].get(key, [])), ms(floor.get(key, []))
            cells.append(versus(values, base, stat) if floored else "-")
        return [name, *cells]

    def startup() -> list[str]:
        """Pods through the system against each floor's bare create+start."""
        cells = [p50_p99(ms(results[f"{r} system"]["startup"])) for r in RUNTIMES]
        cells += [p50_p99(ms(floor["seq"])) for floor in floors.values()]
        cells += [
            versus(ms(results[f"{r} system"]["startup"]), ms(floor["seq"]), "p50/p99")
            for r, floor in floors.items()
        ]
        missed = sum(results[f"{r} system"]["missed"] for r in RUNTIMES)
        label = f"pod startup via API+scheduler+agent, {counts.pods} seq, p50/p99"
        return [label + (f" ({missed} never Running)" if missed else ""), *cells]

    def walls() -> list[str]:
        walls = [results[r]["par wall"] for r in RUNTIMES] + [
            f["par wall"] for f in floors.values()
        ]
        cells = [f"{wall * 1000:,.0f}" for wall in walls]
        cells += [
            format_ratio(ratio(results[r]["par wall"], floor["par wall"]))
            for r, floor in floors.items()
        ]
        return [f"  all {counts.parallel} in parallel, wall", *cells]

    def memory(name: str) -> str:
        system = results[f"{name} system"]
        running = f"{system['memory pods']}/{system['memory pods wanted']} Running"
        return f"{system['agent rss']:,.0f} ({running})"

    def idle(name: str) -> str:
        cpu = results[f"{name} system"]["idle cpu"]
        return " / ".join(f"{cpu[k] * 100:.1f}" for k in ("agent", "daemon") if k in cpu)

    rows = [
        ["operation (ms)", *columns],
        row(f"image load (busybox archive), median of {LOAD_REPEATS}", "load", stat="median"),
        row(f"sandbox create, {counts.sequential} seq, p50/p99", "sandbox seq", floored=False),
        row(f"sandbox create, {counts.parallel} parallel, p50/p99", "sandbox par", floored=False),
        row(f"container create+start, {counts.sequential} seq, p50/p99", "seq"),
        row(f"container create+start, {counts.parallel} parallel, p50/p99", "par"),
        walls(),
        row("container stop+remove (grace 0), p50/p99", "teardown"),
        row("sandbox remove, p50/p99", "sandbox remove", floored=False),
        startup(),
        [f"agent RSS MiB, {counts.memory_pods} pods", *map(memory, RUNTIMES), *blanks],
        [
            f"idle CPU % with {counts.memory_pods} pods: agent / daemon",
            *map(idle, RUNTIMES),
            *blanks,
        ],
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for index, cells in enumerate(rows):
        print(
            f"{cells[0]:<{widths[0]}}  "
            + "  ".join(f"{c:>{w}}" for c, w in zip(cells[1:], widths[1:], strict=True))
        )
        if index == 0:
            print("-" * (sum(widths) + 2 * len(widths)))
    for runtime in RUNTIMES:
        if results[runtime].get("call times"):
            print(f"{runtime}: daemon calls in {counts.sequential} sequential create+starts")
            print("\n".join(results[runtime]["call times"]))
    for runtime in RUNTIMES:
        errors = results[runtime].get("errors") or []
        if errors:
            print(f"{runtime}: {len(errors)} teardown call(s) failed, not timed: {errors[0]}")
    print(
        "floors: docker CLI = docker load / run -d --network none / stop -t 0 + rm; "
        "ctr = ctr images import / run -d --log-uri file:// / tasks delete -f + "
        "containers delete (bench/runtime_floors.py). Pod startup is against each "
        "floor's create+start."
    )


def print_simulated(sim: dict[str, Any]) -> None:
    low, high = sim["spread"]
    per_heartbeat = sim["cpu per heartbeat"]
    writes = sim["leases"] + sim["node writes"]
    lines = [
        ("pods Running", f"{sim['running']:,} of {sim['pods']:,}"),
        ("first create -> last Running, s", f"{sim['seconds']:,.1f}"),
        ("  of which creating them, s", f"{sim['create seconds']:,.1f}"),
        (
            "  CPU s: " + " / ".join(sim["cpu during startup"]),
            " / ".join(f"{v:,.1f}" for v in sim["cpu during startup"].values()),
        ),
        ("pods per node (min..max)", f"{low}..{high}"),
        (
            f"API server CPU over a {sim['window']:.0f} s quiet window",
            f"{sim['server cpu']:.2f} s for {sim['leases']:,} lease renewals "
            f"(+{sim['node writes']:,} Node writes)",
        ),
        (
            "API server CPU per node heartbeat (lease renewal)",
            "n/a" if per_heartbeat is None else f"{per_heartbeat * 1000:.2f} ms",
        ),
        (
            "  per write in the window (lease or Node)",
            f"{sim['server cpu'] / writes * 1000:.2f} ms" if writes else "n/a",
        ),
        ("agent process RSS, MiB", f"{sim['agent rss']:,.0f}"),
        ("API server RSS, MiB", f"{sim['server rss']:,.0f}"),
    ]
    width = max(len(name) for name, _ in lines)
    for name, value in lines:
        print(f"{name:<{width}}  {value}")


# --- one runtime's phases -----------------------------------------------------------------


async def measure_runtime(
    name: str,
    options: dict[str, Any],
    root: Path,
    archive: Path,
    counts: Counts,
    before_load: Callable[[], Awaitable[None]] | None = None,
    *,
    call_times: bool = False,
) -> dict[str, Any]:
    print(f"  {name}: runtime operations…", file=sys.stderr)
    runtime = await build_runtime(name, options, root / f"runtime-{name}")
    calls = CallTimes() if call_times else None
    if calls is not None and not calls.install(runtime):
        calls = None  # sim: no daemon
    try:
        return await runtime_figures(runtime, archive, counts, before_load, calls)
    finally:
        await runtime.close()


async def measure_system(
    name: str,
    options: dict[str, Any],
    root: Path,
    counts: Counts,
    daemon: int | None,
    agent_log: str = "WARNING",
) -> dict[str, Any]:
    print(f"  {name}: pods through API server, scheduler, agent…", file=sys.stderr)
    return await system_figures(root / f"system-{name}", name, options, counts, daemon, agent_log)


async def clear_node(name: str, options: dict[str, Any], data_dir: Path) -> None:
    """Remove the pods a stopped agent left running, through its runtime on the same
    data_dir: containerd's shims outlive containerd, and the pods' cgroups and network
    namespaces are the plugin's to undo. Best effort, each pod on its own: what is
    left is ended with the daemon (remove_cgroups, unmount_under)."""
    failed: list[str] = []
    try:
        runtime = await build_runtime(name, options, data_dir)
        try:
            for sandbox in await asyncio.wait_for(runtime.list_sandboxes(), CALL_LIMIT):
                try:
                    await asyncio.wait_for(runtime.remove_sandbox(sandbox.id), CALL_LIMIT)
                except Exception as exc:  # cleanup: report it and go on
                    failed.append(f"{sandbox.id}: {exc!r}")
        finally:
            await runtime.close()
    except Exception as exc:  # cleanup: report it; the daemon's removal follows
        failed.append(repr(exc))
    if failed:
        print(
            f"  {name}: {len(failed)} of the agent's pods not removed through the runtime "
            f"(first: {failed[0]})",
            file=sys.stderr,
        )


async def remove_cgroups(namespaces: list[str]) -> None:
    """The cgroup directories /<namespace>/<id> containerd's containers had in every
    hierarchy, when their processes were killed with their shims (runc never deleted
    them), deepest first. Bounded retries: a killed process leaves its cgroup soon."""
    base = Path("/sys/fs/cgroup")
    for _ in range(20):
        left = [
            path
            for namespace in namespaces
            for top in base.glob(f"*/{namespace}")
            for path in [top, *top.rglob("*")]
            if path.is_dir()
        ]
        for path in sorted(left, key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                path.rmdir()
        if not any(path.exists() for path in left):
            return
        await asyncio.sleep(0.25)


async def docker_phase(
    root: Path, archive: Path, counts: Counts, run: RunOptions
) -> dict[str, Any]:
    """The docker runtime, `docker` CLI floor and pods, on a private dockerd removed
    afterwards."""
    results: dict[str, Any] = {}
    dockerd = DockerdProcess(dockerd_directory())
    try:
        dockerd.start()
        options = {"socket": dockerd.socket_url}
        results["docker"] = await measure_runtime(
            "docker", options, root, archive, counts, call_times=run.call_times
        )
        print("  docker CLI: the same operations…", file=sys.stderr)
        cli = docker_cli(dockerd.socket_url, root / "docker-cli")
        results[FLOORS["docker"]] = await docker_floor(cli, archive, COMMAND, counts)
        assert dockerd.process is not None
        results["docker system"] = await measure_system(
            "docker", options, root, counts, dockerd.process.pid, run.agent_log
        )
    finally:
        if run.keep:
            dockerd.stop()
            print(f"  dockerd's logs kept under {dockerd.directory}", file=sys.stderr)
        else:
            dockerd.remove()
    return results


async def containerd_phase(
    root: Path, archive: Path, counts: Counts, run: RunOptions
) -> dict[str, Any]:
    """The `ctr` floor, the containerd runtime and pods, on a private containerd removed
    afterwards with its shims. The floor goes first, on a daemon holding nothing yet;
    before each timed load the removed image's content is collected, so that every
    load (plugin's and ctr's) starts from nothing."""
    results: dict[str, Any] = {}
    containerd = ContainerdProcess(root / "containerd")
    tag = secrets.token_hex(4)
    # the plugin's (and its agent's) namespace, and ctr's own beside it
    namespace, floor_namespace = f"navbench{tag}", f"navbenchctr{tag}"
    options = {"socket": str(containerd.socket_path), "namespace": namespace}
    try:
        containerd.start()
        print("  ctr: the same operations…", file=sys.stderr)
        floor_cli = ctr_cli(containerd.socket_path, floor_namespace)
        results[FLOORS["containerd"]] = await ctr_floor(
            floor_cli, archive, COMMAND, counts, root / "ctr-logs"
        )
        ctr = ctr_cli(containerd.socket_path, namespace)
        results["containerd"] = await measure_runtime(
            "containerd",
            options,
            root,
            archive,
            counts,
            lambda: collect_garbage(ctr),
            call_times=run.call_times,
        )
        assert containerd.process is not None
        try:
            results["containerd system"] = await measure_system(
                "containerd", options, root, counts, containerd.process.pid, run.agent_log
            )
        finally:
            data_dir = root / "system-containerd" / "agent" / "data" / "runtime"
            await clear_node("containerd", options, data_dir / f"{NODE}-containerd")
    finally:
        if run.keep:
            with contextlib.suppress(OSError):
                shutil.copy(containerd.log_path, root / "containerd.log")
        containerd.remove()  # ends the shims left serving it, by pid
        unmount_under((root,))  # network namespaces of pods killed with their shims
        await remove_cgroups([namespace, floor_namespace])
    return results


async def cri_phase(root: Path, archive: Path, counts: Counts, run: RunOptions) -> dict[str, Any]:
    """The cri runtime and pods on a private containerd with its CRI plugin, removed
    afterwards with its shims. No floor of its own: beside the containerd runtime's
    figures (and its ctr floor) it shows what going through CRI costs."""
    results: dict[str, Any] = {}
    containerd = CriContainerdProcess(root / "cri-containerd")
    options = {"endpoint": containerd.endpoint}
    try:
        containerd.start()
        results["cri"] = await measure_runtime(
            "cri", options, root, archive, counts, call_times=run.call_times
        )
        assert containerd.process is not None
        try:
            results["cri system"] = await measure_system(
                "cri", options, root, counts, containerd.process.pid, run.agent_log
            )
        finally:
            data_dir = root / "system-cri" / "agent" / "data" / "runtime"
            await clear_node("cri", options, data_dir / f"{NODE}-cri")
    finally:
        if run.keep:
            with contextlib.suppress(OSError):
                shutil.copy(containerd.log_path, root / "cri-containerd.log")
        containerd.remove()  # ends the shims left serving it, by pid
        unmount_under((root,))
        # the CRI plugin's containers' cgroups (cgroupfs: /k8s.io/<id>)
        await remove_cgroups([CRI_NAMESPACE])
    return results


# --- main -------------------------------------------------------------------------------


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts (a smoke run)")
    parser.add_argument(
        "--keep", action="store_true", help="keep every process's log (prints where)"
    )
    parser.add_argument(
        "--agent-log",
        default="WARNING",
        choices=("DEBUG", "INFO", "WARNING"),
        help="the agents' log level: DEBUG logs each pod's steps (sandbox created, "
        "container started, status written) to set beside system-*/pods.json with --keep",
    )
    parser.add_argument(
        "--call-times",
        action="store_true",
        help="time each call of the docker and containerd plugins to their daemon during "
        "the sequential create+starts, printed below the table (bench/call_times.py)",
    )
    args = parser.parse_args()
    counts = QUICK if args.quick else FULL
    run = RunOptions(args.keep, args.agent_log, args.call_times)
    results: dict[str, dict[str, Any]] = {}
    root = Path(tempfile.mkdtemp(prefix="navarch-bench-runtime-"))
    try:
        archive = busybox_archive(root)
        results["sim"] = await measure_runtime("sim", {}, root, archive, counts)
        results["sim system"] = await measure_system("sim", {}, root, counts, None, run.agent_log)
        results.update(await docker_phase(root, archive, counts, run))
        results.update(await containerd_phase(root, archive, counts, run))
        results.update(await cri_phase(root, archive, counts, run))
        nodes, per_node = counts.sim_nodes, counts.pods_per_node
        print(f"  {nodes} simulated nodes x {per_node} pods…", file=sys.stderr)
        simulated = await simulated_figures(root / "simulated", counts)
    finally:
        if args.keep:
            print(f"  logs kept under {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)

    print()
    print(
        f"Runtime benchmark ({'quick' if args.quick else 'full'}): busybox from a local archive, "
        f"private dockerd and containerd (and one with CRI), {os.cpu_count()} cores shared "
        "by every process; "
        f"load average {os.getloadavg()[0]:.2f} at the end"
    )
    print()
    print_table(results, counts)
    print()
    print(f"{nodes} simulated nodes x {per_node} pods in one agent process (runtime sim):")
    print_simulated(simulated)
    report(targets(results, simulated, counts), quick=args.quick)
    containerd_system = results["containerd system"]
    print(
        f"  info     {nodes * per_node:,} simulated pods Running in {simulated['seconds']:,.1f} s; "
        "API server CPU per heartbeat "
        + (
            "n/a"
            if simulated["cpu per heartbeat"] is None
            else f"{simulated['cpu per heartbeat'] * 1000:.2f} ms"
        )
    )
    cri_p99 = p99_ms(results["cri system"]["startup"])
    containerd_p99 = p99_ms(containerd_system["startup"])
    if cri_p99 is not None and containerd_p99 is not None:
        print(
            f"  info     pod startup p99 on cri (containerd's CRI plugin) {cri_p99:,.0f} ms, "
            f"on containerd's own API {containerd_p99:,.0f} ms "
            f"({format_ratio(ratio(cri_p99, containerd_p99))})"
        )
    print(
        f"  info     agent RSS with {counts.memory_pods} pods on containerd: "
        f"{containerd_system['agent rss']:,.0f} MiB "
        f"({containerd_system['memory pods']} Running)"
    )


def p99_ms(seconds: list[float]) -> float | None:
    return percentile(ms(seconds), 99) if seconds else None


def targets(
    results: dict[str, dict[str, Any]], simulated: dict[str, Any], counts: Counts
) -> list[Target]:
    nodes, per_node = counts.sim_nodes, counts.pods_per_node
    docker_system, containerd_system = results["docker system"], results["containerd system"]

    def startup_ratio(runtime: str) -> float | None:
        startup = p99_ms(results[f"{runtime} system"]["startup"])
        floor = p99_ms(results[FLOORS[runtime]]["seq"])
        return None if startup is None or floor is None else ratio(startup, floor)

    docker_p99 = p99_ms(docker_system["startup"])
    containerd_p99 = p99_ms(containerd_system["startup"])
    return [
        Target(
            "pod startup p99 on docker / bare docker run p99",
            startup_ratio("docker"),
            "<=",
            1.5,
            "x",
        ),
        Target(
            "pod startup p99 on containerd / bare ctr run p99",
            startup_ratio("containerd"),
            "<=",
            1.3,
            "x",
        ),
        Target(
            "pod startup p99 on containerd, below docker's in this run",
            containerd_p99 if docker_p99 is not None else None,
            "<",
            docker_p99 if docker_p99 is not None else float("nan"),
            " ms",
        ),
        Target(
            f"agent RSS with {counts.memory_pods} pods Running (docker, "
            f"{docker_system['memory pods']} Running)",
            docker_system["agent rss"] if docker_system["all running"] else None,
            "<=",
            80,
            " MiB",
        ),
        Target(
            f"{nodes} simulated nodes x {per_node} pods: pods Running",
            simulated["running"],
            ">=",
            nodes * per_node,
        ),
    ]


if __name__ == "__main__":
    asyncio.run(main())
