"""API server benchmark: a real ``navarch server`` on LMDB and a load generator, both on
127.0.0.1.

    uv run python bench/api.py [--quick]          (or: make bench)

Measured: pod creates/s with p50/p99 latency at 1, 16 and 64 concurrent clients; a list
of 10,000 pods; 500 concurrent watchers on pods and the p99 delivery latency of every
event to every watcher; and the API's create throughput against the raw store's
(its own overhead). The load generator is one Python process (aiohttp, pre-encoded
bodies) sharing the machine's 2 cores with the server. All loops are bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson
from targets import Target, format_ratio, ratio, report

from navarch.client.kubeconfig import load_kubeconfig
from navarch.testing.apiserver import ApiServerProcess
from navarch_store_lmdb import LmdbStore

TIME_LIMIT = 15.0


def pod_body(name: str) -> bytes:
    return orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "bench"}},
            "spec": {
                "containers": [
                    {
                        "name": "main",
                        "image": "127.0.0.1:5000/app:1",
                        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                    }
                ]
            },
        }
    )


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


class Load:
    def __init__(self, server: ApiServerProcess):
        config = load_kubeconfig(server.kubeconfig)
        self.url = server.url
        self.headers = {
            "Authorization": f"Bearer {config.token}",
            "Content-Type": "application/json",
        }
        self.ssl = ssl.create_default_context(cadata=config.ca_data.decode())
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1000, ssl=self.ssl), headers=self.headers
        )

    async def creates(
        self, clients: int, total: int, prefix: str
    ) -> tuple[float, float, float, int]:
        latencies: list[float] = []
        deadline = time.perf_counter() + TIME_LIMIT
        per_client = total // clients
        url = f"{self.url}/api/v1/namespaces/default/pods"

        async def worker(c: int) -> None:
            for i in range(per_client):
                if time.perf_counter() > deadline:
                    return
                body = pod_body(f"{prefix}-{c}-{i}")
                started = time.perf_counter()
                async with self.session.post(url, data=body) as response:
                    await response.read()
                    if response.status != 201:
                        raise RuntimeError(f"create failed: {response.status}")
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in range(clients)))
        elapsed = time.perf_counter() - started
        return (
            len(latencies) / elapsed,
            percentile(latencies, 50) * 1000,
            percentile(latencies, 99) * 1000,
            len(latencies),
        )

    async def list_ms(self, expected: int, repeats: int = 5) -> float:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            async with self.session.get(f"{self.url}/api/v1/namespaces/default/pods") as response:
                body = orjson.loads(await response.read())
            times.append((time.perf_counter() - started) * 1000)
            assert len(body["items"]) >= expected, len(body["items"])
        return statistics.median(times)

    async def watch_latency(
        self, watchers: int, events: int, rate: float
    ) -> tuple[float, float, float, int]:
        async with self.session.get(
            f"{self.url}/api/v1/namespaces/default/pods?limit=1"
        ) as response:
            revision = orjson.loads(await response.read())["metadata"]["resourceVersion"]
        acked: dict[str, float] = {}
        received: list[float] = []
        ready = 0
        url = f"{self.url}/api/v1/namespaces/default/pods?watch=1&resourceVersion={revision}"

        async def watcher() -> None:
            nonlocal ready
            seen = 0
            async with self.session.get(url, timeout=aiohttp.ClientTimeout(total=120)) as response:
                ready += 1
                async for line in response.content:
                    now = time.perf_counter()
                    # Cheap name extraction: this process reads 500 streams at once and
                    # must not become the bottleneck it is measuring.
                    start = line.index(b'"name":"') + 8
                    name = line[start : line.index(b'"', start)].decode()
                    received.append(now - acked.get(name, now))
                    seen += 1
                    if seen == events:
                        return

        tasks = [asyncio.create_task(watcher()) for _ in range(watchers)]
        while ready < watchers:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        url_create = f"{self.url}/api/v1/namespaces/default/pods"
        began = time.perf_counter()
        for i in range(events):
            delay = began + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            name = f"watched-{rate:.0f}-{i}"
            async with self.session.post(url_create, data=pod_body(name)) as response:
                await response.read()
                acked[name] = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
        millis = [r * 1000 for r in received]
        return percentile(millis, 50), percentile(millis, 99), max(millis), len(millis)

    async def close(self) -> None:
        await self.session.close()


async def raw_store_writes(directory: Path, writers: int, total: int) -> float:
    store = LmdbStore.open(directory)
    value = pod_body("x") * 2  # about the size of a stored pod
    per = total // writers

    async def writer(w: int) -> None:
        for i in range(per):
            await store.create(b"/raw/%d/%d" % (w, i), value)

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    rate = per * writers / (time.perf_counter() - started)
    await store.close()
    return rate


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts (a smoke run)")
    args = parser.parse_args()
    scale = 0.2 if args.quick else 1.0
    rows: list[tuple[str, str]] = []
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="navarch-bench-api-") as scratch:
        root = Path(scratch)
        with ApiServerProcess(
            root / "server", settings={"log": {"level": "WARNING", "format": "json"}}
        ) as server:
            load = Load(server)
            created = 0
            for clients, total in ((1, 500), (16, 4000), (64, 6000)):
                rate, p50, p99, done = await load.creates(
                    clients, int(total * scale), f"c{clients}"
                )
                created += done
                summary = f"{rate:,.0f} creates/s p50 {p50:.1f} ms p99 {p99:.1f} ms"
                print(f"  {clients:>2} clients: {summary}", file=sys.stderr)
                rows.append(
                    (
                        f"pod creates/s, {clients} client(s)",
                        f"{rate:,.0f}  (p50 {p50:.1f} ms, p99 {p99:.1f} ms)",
                    )
                )
                if clients == 64:
                    api_rate = rate
                    figures["creates/s at 64"], figures["create p99 at 64"] = rate, p99
            target = int(10_000 * scale)
            if created < target:
                await load.creates(64, target - created, "fill")
            figures["list ms"] = await load.list_ms(target)
            rows.append(
                (f"list of {target:,} pods, ms (median of 5)", f"{figures['list ms']:,.1f}")
            )
            watchers = int(500 * scale) if args.quick else 500
            for rate in (20.0, 50.0):
                w50, w99, wmax, samples = await load.watch_latency(
                    watchers, int(100 * scale) or 20, rate
                )
                figures["watch p99"] = max(figures.get("watch p99", 0.0), w99)
                rows.append(
                    (
                        f"watch delivery, {watchers} watchers, {rate:.0f} events/s, p50/p99/max ms",
                        f"{w50:.1f} / {w99:.1f} / {wmax:.1f}  ({samples:,} deliveries)",
                    )
                )
            rows.append(("API server resident memory, MiB", f"{server.rss_bytes() / 2**20:,.0f}"))
            await load.close()
        raw = await raw_store_writes(root / "raw", 64, int(6000 * scale))
        rows.append(("raw LMDB store writes/s, 64 writers (same size)", f"{raw:,.0f}"))
        rows.append(("API creates / raw store writes (64)", format_ratio(ratio(api_rate, raw))))

    print()
    print(
        f"API benchmark ({'quick' if args.quick else 'full'}): navarch server on LMDB, HTTPS, "
        f"{os.cpu_count()} cores shared with the load generator"
    )
    print()
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print()
    print("Latencies are measured in the load generator, which reads every watch stream in one")
    print("Python process on the second core: its own CPU time is part of the figures.")
    report(
        [
            Target("pod creates at 64 clients", figures["creates/s at 64"], ">=", 2000, "/s"),
            Target("create p99 at 64 clients", figures["create p99 at 64"], "<=", 100, " ms"),
            Target(f"list of {target:,} pods", figures["list ms"], "<=", 300, " ms"),
            Target(
                f"watch p99 with {watchers} watchers (worst rate)",
                figures["watch p99"],
                "<=",
                50,
                " ms",
            ),
        ],
        quick=args.quick,
    )


if __name__ == "__main__":
    asyncio.run(main())
