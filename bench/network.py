"""Networking benchmarks (issue 24), inside network namespaces this process makes —
nothing in the host's namespace changes: the Service proxy's sync (below) and the pod
network's data path against a plain veth pair (network_datapath.py).

    uv run python bench/network.py [--quick] [--runs N]    (or: make bench)

**Service proxy sync** (issue 24 item 5): SERVICES Services x ENDPOINTS endpoints each
(every third with a NodePort, every seventh with ClientIP affinity), from wire dicts as
the informers hold them, through the proxy's own path (``navarch.proxy``: model →
ruleset → one ``nft -f -`` transaction) into a node namespace:

* full sync: the first write of the whole table (an agent's start), build included;
* one-endpoint change: one endpoint removed from one Service (and put back): the whole
  ruleset rebuilt, the difference applied to the table in place — what a pod becoming
  unready costs (the informers' objects turned into wire dicts, ~0.1 s more at 1,000
  Services, are not counted);
* shown, not a target: a full rewrite of a table already holding all of it (the sync
  after a refused transaction), which the kernel makes dearer than the first write.

Targets (chosen here; kube-proxy's nftables mode is the reference, whose partial syncs
exist for the same reason): full sync <= 5 s, one-endpoint change <= 0.5 s (medians).
The machine is shared, so figures swing with its load.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import statistics
import time
from typing import Any

from network_datapath import datapath
from targets import Target, report

from navarch.proxy.apply import Nft
from navarch.proxy.model import service_ports
from navarch.proxy.ruleset import NodeView, Ruleset, build, full_script, removal, update_script
from navarch.testing import netns

SERVICES = 1000
ENDPOINTS = 10
NODE = NodeView("bench-node")


def services_and_slices(count: int, per_service: int) -> tuple[list[Any], list[Any]]:
    """Wire dicts as an informer holds them: Services and one EndpointSlice each."""
    services, slices = [], []
    for i in range(count):
        name = f"svc-{i}"
        spec: dict[str, Any] = {
            "type": "NodePort" if i % 3 == 0 else "ClusterIP",
            "clusterIP": f"10.43.{i // 250}.{i % 250 + 1}",
            "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}],
        }
        if i % 3 == 0:
            spec["ports"][0]["nodePort"] = 30000 + i
        if i % 7 == 0:
            spec["sessionAffinity"] = "ClientIP"
        services.append({"metadata": {"namespace": "bench", "name": name}, "spec": spec})
        endpoints = []
        for j in range(per_service):
            n = i * per_service + j
            endpoints.append(
                {
                    "addresses": [f"10.42.{n // 250}.{n % 250 + 1}"],
                    "conditions": {"ready": True},
                    "nodeName": f"node-{j % 3}",
                }
            )
        slices.append(
            {
                "metadata": {
                    "namespace": "bench",
                    "name": f"{name}-1",
                    "labels": {"kubernetes.io/service-name": name},
                },
                "addressType": "IPv4",
                "ports": [{"name": "http", "protocol": "TCP", "port": 8080}],
                "endpoints": endpoints,
            }
        )
    return services, slices


def ruleset_of(services: list[Any], slices: list[Any]) -> Ruleset:
    return build(service_ports(services, slices), NODE)


async def timed(step: Any) -> float:
    started = time.perf_counter()
    await step()
    return time.perf_counter() - started


async def proxy_sync(runs: int, count: int, per_service: int) -> list[Target]:
    services, slices = services_and_slices(count, per_service)
    changed = copy.deepcopy(slices)
    changed[count // 2]["endpoints"].pop()
    full, rewrite, change = [], [], []
    with netns.namespaces("proxy-bench") as (node,):
        nft = Nft(tuple(node.argv([])))
        for _ in range(runs):
            await nft.apply(removal())
            before: Ruleset | None = None

            async def first_write() -> None:
                nonlocal before
                before = ruleset_of(services, slices)
                await nft.apply(full_script(before))

            full.append(await timed(first_write))
            assert before is not None
            applied = [before]

            async def sync_to(now: list[Any], applied: list[Any] = applied) -> None:
                # As the proxier does: rebuild everything, apply the difference.
                new = ruleset_of(services, now)
                await nft.apply(update_script(applied[0], new))
                applied[0] = new

            for _ in range(3):
                for now in (changed, slices):
                    change.append(await timed(lambda now=now: sync_to(now)))
            rewrite.append(
                await timed(lambda: nft.apply(full_script(ruleset_of(services, slices))))
            )
        await nft.apply(removal())
    chains = len(ruleset_of(services, slices).chains)
    print(f"Service proxy sync: {count} Services x {per_service} endpoints ({chains} chains)")
    print(f"  full sync (first write)      median {statistics.median(full):.2f} s")
    print(f"  one-endpoint change          median {statistics.median(change):.3f} s")
    print(
        f"  full rewrite of the table    median {statistics.median(rewrite):.2f} s (not a target)"
    )
    return [
        Target(
            f"proxy full sync, {count} Services x {per_service} endpoints",
            statistics.median(full),
            "<=",
            5.0,
            " s",
        ),
        Target("proxy one-endpoint change", statistics.median(change), "<=", 0.5, " s"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 Services, one run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    count = 100 if args.quick else SERVICES
    runs = 1 if args.quick else args.runs
    netns.sweep()
    targets = asyncio.run(proxy_sync(runs, count, ENDPOINTS))
    targets += datapath(args.quick)
    report(targets, quick=args.quick)


if __name__ == "__main__":
    main()
