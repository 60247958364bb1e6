"""Scheduler benchmark in the shape of kube-scheduler's scheduler_perf SchedulingBasic:
an API server on LMDB and a scheduler (each its own process), N Node objects (no
agents), then 10,000 pods with requests, for both profiles at 5,000 and 1,000 nodes.

    uv run python bench/scheduler.py [--quick]    (or: make bench)

Prints pods bound per second (sustained, first create to last binding), p50/p99
create-to-bound latency, placement quality (bin-pack: nodes used against the lower
bound ceil(total requests / node capacity); spread: max - min pods per node), and the
resident memory of the scheduler and the API server. Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import ssl
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp
import orjson
import yaml
from targets import Target, report

from navarch.client.kubeconfig import load_kubeconfig
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.daemon import DaemonProcess

NODE_CPU_MILLI = 4000
POD_CPU_MILLI = 250
POD_MEMORY = "128Mi"
TIME_LIMIT = 300.0


class SchedulerProcess(DaemonProcess):
    def __init__(self, directory: Path, kubeconfig: Path, profile: str):
        self.directory = directory
        self.log_path = directory / "scheduler.log"
        self.kubeconfig = kubeconfig
        self.profile = profile

    def start(self) -> SchedulerProcess:
        self.directory.mkdir(parents=True, exist_ok=True)
        config = {
            "data_dir": str(self.directory / "data"),
            "kubeconfig": str(self.kubeconfig),
            "scheduler": {"profile": self.profile},
            "log": {"level": "WARNING", "format": "json"},
        }
        path = self.directory / "scheduler.yaml"
        path.write_text(yaml.safe_dump(config))
        env = {k: v for k, v in os.environ.items() if not k.startswith("NAVARCH_")}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "navarch.cli.navarch", "--config", str(path), "scheduler"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        return self


def cpu_seconds(pid: int | str = "self") -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def node_body(name: str) -> bytes:
    return orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name},
            "status": {
                "allocatable": {"cpu": f"{NODE_CPU_MILLI}m", "memory": "64Gi", "pods": "110"},
                "capacity": {"cpu": f"{NODE_CPU_MILLI}m", "memory": "64Gi", "pods": "110"},
            },
        }
    )


def pod_body(name: str) -> bytes:
    return orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "127.0.0.1:5000/app:1",
                        "resources": {
                            "requests": {"cpu": f"{POD_CPU_MILLI}m", "memory": POD_MEMORY}
                        },
                    }
                ]
            },
        }
    )


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return (
        ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]
        if ordered
        else float("nan")
    )


async def run_case(
    root: Path, nodes: int, pods: int, profile: str
) -> tuple[dict[str, str], dict[str, float]]:
    """One case: the printed row, and the figures the targets compare."""
    with ApiServerProcess(
        root / f"api-{nodes}-{profile}", settings={"log": {"level": "WARNING"}}
    ) as server:
        config = load_kubeconfig(server.kubeconfig)
        context = ssl.create_default_context(cadata=config.ca_data.decode())
        headers = {"Authorization": f"Bearer {config.token}", "Content-Type": "application/json"}
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=context, limit=64), headers=headers
        ) as session:

            async def post(path: str, bodies: list[bytes]) -> None:
                async def one(body: bytes) -> None:
                    async with session.post(server.url + path, data=body) as response:
                        await response.read()
                        if response.status != 201:
                            raise RuntimeError(f"create failed: {response.status}")

                for start in range(0, len(bodies), 64):
                    await asyncio.gather(*(one(b) for b in bodies[start : start + 64]))

            await post("/api/v1/nodes", [node_body(f"node-{i:05d}") for i in range(nodes)])
            scheduler = SchedulerProcess(
                root / f"sched-{nodes}-{profile}", server.kubeconfig, profile
            ).start()
            try:
                await asyncio.sleep(3.0)  # the scheduler lists the nodes
                async with session.get(
                    f"{server.url}/api/v1/namespaces/default/pods?limit=1"
                ) as response:
                    revision = orjson.loads(await response.read())["metadata"]["resourceVersion"]
                created: dict[str, float] = {}
                bound: dict[str, float] = {}
                placement: dict[str, str] = {}

                async def watch() -> None:
                    url = f"{server.url}/api/v1/namespaces/default/pods"
                    url += f"?watch=1&resourceVersion={revision}"
                    async with session.get(
                        url, timeout=aiohttp.ClientTimeout(total=TIME_LIMIT)
                    ) as response:
                        async for line in response.content:
                            event = orjson.loads(line)
                            obj = event["object"]
                            node = (obj.get("spec") or {}).get("nodeName")
                            name = obj["metadata"]["name"]
                            if node and name not in bound:
                                bound[name] = time.perf_counter()
                                placement[name] = node
                                if len(bound) == pods:
                                    return

                watcher = asyncio.create_task(watch())
                await asyncio.sleep(0.5)
                pids = {
                    "API server": server.process.pid,
                    "scheduler": scheduler.process.pid,
                    "generator": "self",
                }
                cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
                began = time.perf_counter()
                for start in range(0, pods, 64):
                    names = [f"pod-{i:05d}" for i in range(start, min(pods, start + 64))]
                    stamp = time.perf_counter()
                    await post("/api/v1/namespaces/default/pods", [pod_body(n) for n in names])
                    for name in names:
                        created[name] = stamp
                try:
                    await asyncio.wait_for(watcher, TIME_LIMIT)
                except TimeoutError:
                    watcher.cancel()
                finished = max(bound.values()) if bound else time.perf_counter()
                cpu_used = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
                scheduler_rss = scheduler.rss_bytes()
                server_rss = server.rss_bytes()
            finally:
                scheduler.stop()
    latencies = [(bound[n] - created[n]) * 1000 for n in bound if n in created]
    per_node = Counter(placement.values())
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    rate = len(bound) / (finished - began) if finished > began else 0.0
    figures = {"bound": len(bound), "rate": rate, "scheduler rss": scheduler_rss / 2**20}
    row = {
        "bound": f"{len(bound):,}/{pods:,}",
        "pods bound/s": f"{rate:,.0f}",
        "create->bound p50/p99 ms": f"{p50:,.0f} / {p99:,.0f}",
        "scheduler RSS MiB": f"{scheduler_rss / 2**20:,.0f}",
        "API server RSS MiB": f"{server_rss / 2**20:,.0f}",
        "CPU s server/scheduler/generator": " / ".join(
            f"{cpu_used[n]:.0f}" for n in ("API server", "scheduler", "generator")
        ),
    }
    if profile == "binpack":
        lower = math.ceil(len(bound) * POD_CPU_MILLI / NODE_CPU_MILLI)
        ratio = len(per_node) / max(lower, 1)
        row["quality"] = f"{len(per_node)} nodes used, lower bound {lower} ({ratio:.2f}x)"
        figures["quality"] = ratio
    else:
        counts = [per_node.get(f"node-{i:05d}", 0) for i in range(nodes)]
        row["quality"] = (
            f"max-min pods per node {max(counts) - min(counts)} ({min(counts)}..{max(counts)})"
        )
        figures["quality"] = max(counts) - min(counts)
    return row, figures


def scheduler_targets(
    results: list[tuple[int, str, dict[str, str], dict[str, float]]], pods: int
) -> list[Target]:
    targets = []
    for nodes, profile, _, figures in results:
        case = f"{nodes:,} nodes, {profile}"
        targets.append(Target(f"{case}: pods bound", figures["bound"], ">=", pods))
        if nodes == 5000:
            targets.append(Target(f"{case}: pods bound/s", figures["rate"], ">=", 1000))
        if profile == "binpack":
            quality = Target(
                f"{case}: nodes used / lower bound", figures["quality"], "<=", 1.1, "x"
            )
        else:
            quality = Target(f"{case}: max - min pods per node", figures["quality"], "<=", 1)
        targets.append(quality)
        targets.append(
            Target(f"{case}: scheduler RSS", figures["scheduler rss"], "<=", 300, " MiB")
        )
    return targets


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 pods instead of 10,000")
    args = parser.parse_args()
    pods = 1000 if args.quick else 10_000
    results = []
    with tempfile.TemporaryDirectory(prefix="navarch-bench-sched-") as scratch:
        for nodes in (5000, 1000):
            for profile in ("spread", "binpack"):
                print(f"  {nodes} nodes, {profile}…", file=sys.stderr)
                row, figures = await run_case(Path(scratch), nodes, pods, profile)
                print(f"    {row}", file=sys.stderr)
                results.append((nodes, profile, row, figures))
    print()
    print(
        f"Scheduler benchmark: {pods:,} pods of {POD_CPU_MILLI}m CPU on {NODE_CPU_MILLI}m nodes; "
        f"API server, scheduler and load generator share {os.cpu_count()} cores"
    )
    print()
    columns = [
        "bound",
        "pods bound/s",
        "create->bound p50/p99 ms",
        "scheduler RSS MiB",
        "API server RSS MiB",
        "CPU s server/scheduler/generator",
        "quality",
    ]
    header = f"{'nodes':>6} {'profile':<8} " + "  ".join(columns)
    print(header)
    print("-" * len(header))
    for nodes, profile, row, _ in results:
        print(f"{nodes:>6} {profile:<8} " + "  ".join(f"{row[c]:>{len(c)}}" for c in columns))
    report(scheduler_targets(results, pods), quick=args.quick)


if __name__ == "__main__":
    asyncio.run(main())
