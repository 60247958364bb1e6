"""Store benchmark: the same workload through the store contract against the embedded
LMDB store and a real etcd (started here on 127.0.0.1 with its own data directory),
side by side, with LMDB/etcd ratios.

    uv run python bench/store.py [--quick]        (or: make bench)

Measured: durable writes/s with 1 KiB values at 1, 16 and 256 concurrent writers;
gets/s; ranging 10,000 keys; watch delivery latency at 1,000 writes/s; resident memory
against the data size. Every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from targets import Target, format_ratio, ratio, report

from navarch.store import Store
from navarch_store_etcd import EtcdOptions, EtcdStore
from navarch_store_etcd.testing import EtcdServer
from navarch_store_lmdb import LmdbStore

VALUE = os.urandom(1024)
TIME_LIMIT = 5.0  # seconds per measurement, at most


def rss_bytes(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def durable_writes(store: Store, writers: int, total: int, tag: str) -> float:
    """Creates of 1 KiB values by ``writers`` concurrent tasks; writes acknowledged/s."""
    per_writer = max(1, total // writers)
    done = 0
    deadline = time.perf_counter() + TIME_LIMIT

    async def writer(w: int) -> None:
        nonlocal done
        for i in range(per_writer):
            if time.perf_counter() > deadline:
                return
            await store.create(b"/bench/w/%s/%d/%d" % (tag.encode(), w, i), VALUE)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    return done / (time.perf_counter() - started)


async def gets(store: Store, keys: list[bytes], concurrency: int = 16) -> float:
    done = 0
    deadline = time.perf_counter() + TIME_LIMIT

    async def reader(offset: int) -> None:
        nonlocal done
        for key in keys[offset::concurrency]:
            if time.perf_counter() > deadline:
                return
            await store.get(key)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(reader(i) for i in range(concurrency)))
    return done / (time.perf_counter() - started)


async def load_keys(store: Store, prefix: bytes, count: int) -> list[bytes]:
    keys = [prefix + b"%06d" % i for i in range(count)]
    for start in range(0, count, 1000):
        await asyncio.gather(*(store.create(k, VALUE) for k in keys[start : start + 1000]))
    return keys


async def range_ms(store: Store, prefix: bytes, expected: int, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = await store.range(prefix)
        times.append((time.perf_counter() - started) * 1000)
        assert len(result.items) == expected, (len(result.items), expected)
    return statistics.median(times)


async def watch_latency(
    store: Store, rate: int, seconds: float
) -> tuple[float, float, float, float]:
    """Writes paced at ``rate``/s; returns p50/p99 ms from issue to delivery and from
    acknowledgement to delivery."""
    prefix = b"/bench/watch/"
    issued: dict[bytes, float] = {}
    acked: dict[bytes, float] = {}
    delivered: dict[bytes, float] = {}
    count = int(rate * seconds)
    start_revision = await store.current_revision() + 1
    watch = store.watch(prefix, start_revision)

    async def consume() -> None:
        async for event in watch:
            delivered[event.kv.key] = time.perf_counter()
            if len(delivered) == count:
                return

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0.2)

    async def write(key: bytes) -> None:
        issued[key] = time.perf_counter()
        await store.create(key, VALUE)
        acked[key] = time.perf_counter()

    tasks = []
    began = time.perf_counter()
    for i in range(count):
        target = began + i / rate
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(write(prefix + b"%06d" % i)))
    await asyncio.gather(*tasks)
    await asyncio.wait_for(consumer, 30)
    await watch.aclose()
    from_issue = sorted((delivered[k] - issued[k]) * 1000 for k in issued)
    from_ack = sorted(max(0.0, delivered[k] - acked[k]) * 1000 for k in issued)
    return (
        percentile(from_issue, 50),
        percentile(from_issue, 99),
        percentile(from_ack, 50),
        percentile(from_ack, 99),
    )


def percentile(sorted_values: list[float], pct: float) -> float:
    index = min(len(sorted_values) - 1, round(pct / 100 * (len(sorted_values) - 1)))
    return sorted_values[index]


async def run_suite(
    name: str, store: Store, quick: bool, rss: Callable[[], int]
) -> dict[str, float]:
    scale = 0.2 if quick else 1.0
    results: dict[str, float] = {}
    for writers, total in ((1, 1500), (16, 8000), (256, 30000)):
        rate = await durable_writes(store, writers, int(total * scale), f"{name}{writers}")
        results[f"durable writes/s, {writers} writer(s)"] = rate
        print(f"  {name}: {writers:>3} writers: {rate:,.0f} writes/s", file=sys.stderr)
    keys = await load_keys(store, b"/bench/range/", 10_000)
    results["gets/s (16 concurrent)"] = await gets(store, keys)
    results["range of 10,000 keys, ms"] = await range_ms(store, b"/bench/range/", 10_000)
    p50, p99, ack50, ack99 = await watch_latency(store, 1000, 3.0 * scale if quick else 3.0)
    results["watch p50 ms (write issued -> delivered)"] = p50
    results["watch p99 ms (write issued -> delivered)"] = p99
    results["watch p50 ms (write acked -> delivered)"] = ack50
    results["watch p99 ms (write acked -> delivered)"] = ack99
    data_bytes = 100_000 * (len(VALUE) + 16) if not quick else 20_000 * (len(VALUE) + 16)
    before = rss()
    await load_keys(store, b"/bench/memory/", data_bytes // (len(VALUE) + 16))
    await store.range(b"/bench/memory/", limit=1)
    results["data loaded, MiB"] = data_bytes / 2**20
    results["resident memory, MiB"] = rss() / 2**20
    results["resident growth while loading, MiB"] = (rss() - before) / 2**20
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fifth of the work (a smoke run)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="navarch-bench-") as scratch:
        root = Path(scratch)
        lmdb_store = LmdbStore.open(root / "lmdb")
        print("LMDB (embedded, in this process)…", file=sys.stderr)
        lmdb_results = await run_suite("lmdb", lmdb_store, args.quick, rss_bytes)
        await lmdb_store.close()

        with EtcdServer(root / "etcd") as server:
            etcd_store = EtcdStore.open(EtcdOptions(endpoints=(server.endpoint,), prefix="/bench"))
            version = await etcd_store.server_version()
            print(f"etcd {version} (separate process, gRPC on {server.endpoint})…", file=sys.stderr)
            etcd_results = await run_suite(
                "etcd", etcd_store, args.quick, lambda: server.rss_bytes() + rss_bytes()
            )
            await etcd_store.close()

    print()
    print(f"Store benchmark ({'quick' if args.quick else 'full'}), 1 KiB values, durable writes,")
    print(f"{os.cpu_count()} cores; etcd {version}; LMDB and etcd run one after the other.")
    print()
    header = f"{'metric':<44} {'LMDB':>12} {'etcd':>12} {'LMDB/etcd':>10}  better"
    print(header)
    print("-" * len(header))
    for metric, lmdb_value in lmdb_results.items():
        etcd_value = etcd_results[metric]
        better = (
            "higher" if "/s" in metric else "lower" if "MiB" in metric or "ms" in metric else ""
        )
        if metric.startswith("data loaded"):
            better = ""
        shown = format_ratio(ratio(lmdb_value, etcd_value))
        print(f"{metric:<44} {lmdb_value:>12,.2f} {etcd_value:>12,.2f} {shown:>10}  {better}")
    print("etcd's resident memory is the etcd process plus this client process.")
    report(store_targets(lmdb_results, etcd_results), quick=args.quick)


def store_targets(lmdb: dict[str, float], etcd: dict[str, float]) -> list[Target]:
    writes = "durable writes/s, {} writer(s)"
    return [
        Target(
            "LMDB/etcd durable writes, 256 writers",
            ratio(lmdb[writes.format(256)], etcd[writes.format(256)]),
            ">=",
            3,
            "x",
        ),
        Target(
            "LMDB/etcd durable writes, 1 writer",
            ratio(lmdb[writes.format(1)], etcd[writes.format(1)]),
            ">=",
            10,
            "x",
        ),
        Target(
            "LMDB watch p99 (write issued -> delivered)",
            lmdb["watch p99 ms (write issued -> delivered)"],
            "<=",
            5,
            " ms",
        ),
        Target(
            "LMDB resident memory / data size",
            ratio(lmdb["resident memory, MiB"], lmdb["data loaded, MiB"]),
            "<",
            2,
            "x",
        ),
    ]


if __name__ == "__main__":
    asyncio.run(main())
