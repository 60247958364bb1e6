"""Cluster DNS benchmark (issue 24 item 6): queries per second one node's server
answers, and what its index costs to build.

    uv run python bench/cluster_dns.py [--quick]

The server (navarch.dns.server.DnsServer, as the agent runs it) answers from an index
of 1,000 ClusterIP Services and 100 headless Services with 10 ready endpoints each,
in a process of its own on 127.0.0.1 (one event loop, as in the agent). A client
process keeps a window of UDP queries in flight (prepared wire messages, a raw socket:
the client must not be the bottleneck) over a mix of names: ClusterIP A, headless A
(10 addresses), SRV, PTR, NXDOMAIN and a name outside the cluster (REFUSED). Bounded:
a fixed number of queries, and a time limit. Prints queries/s and the answers' rcodes,
then the time to build the index (every Service's records) and to apply one change.
Repeated questions are answered from the server's cache of answer bytes; questions
in a new letter case are parsed and rendered each time (the RRsets still come from
the index's memo): the two figures bound what a node sees.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import socket
import time
from collections import Counter
from typing import Any

import dns.message
import dns.rcode

from navarch.api.core_v1_endpoints import EndpointSlice
from navarch.api.core_v1_service import Service
from navarch.dns.zone import ClusterZone

CLUSTER_IP_SERVICES = 1000
HEADLESS_SERVICES = 100
ENDPOINTS_PER_HEADLESS = 10
WINDOW = 64  # queries in flight
TIME_LIMIT = 60.0


def cluster_ip(n: int) -> str:
    return f"10.43.{n // 250 + 1}.{n % 250 + 1}"


def build_zone() -> ClusterZone:
    zone = ClusterZone("cluster.local")
    for n in range(CLUSTER_IP_SERVICES):
        zone.set_service(
            Service.from_dict(
                {
                    "metadata": {"name": f"svc-{n}", "namespace": "bench"},
                    "spec": {
                        "clusterIP": cluster_ip(n),
                        "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
                    },
                }
            )
        )
    for n in range(HEADLESS_SERVICES):
        name = f"headless-{n}"
        zone.set_service(
            Service.from_dict(
                {"metadata": {"name": name, "namespace": "bench"}, "spec": {"clusterIP": "None"}}
            )
        )
        zone.set_slice(endpoint_slice(name, n, ENDPOINTS_PER_HEADLESS))
    return zone


def endpoint_slice(service: str, n: int, count: int) -> Any:
    return EndpointSlice.from_dict(
        {
            "metadata": {
                "name": f"{service}-a",
                "namespace": "bench",
                "labels": {"kubernetes.io/service-name": service},
            },
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [
                {
                    "addresses": [f"10.42.{n}.{i + 1}"],
                    "hostname": f"{service}-{i}",
                    "conditions": {"ready": True},
                }
                for i in range(count)
            ],
        }
    )


def serve(port: Any, ready: Any) -> None:
    import asyncio

    from navarch.dns.server import DnsServer

    async def main() -> None:
        server = DnsServer(build_zone(), "127.0.0.1", 0)
        await server.start()
        port.value = server.port
        ready.set()
        await asyncio.Event().wait()

    from loguru import logger

    logger.remove()
    asyncio.run(main())


def questions() -> list[tuple[str, str]]:
    asked = []
    for n in range(0, CLUSTER_IP_SERVICES, 7):
        asked.append((f"svc-{n}.bench.svc.cluster.local", "A"))
        asked.append((f"_http._tcp.svc-{n}.bench.svc.cluster.local", "SRV"))
        reverse = ".".join(reversed(cluster_ip(n).split("."))) + ".in-addr.arpa"
        asked.append((reverse, "PTR"))
        asked.append((f"missing-{n}.bench.svc.cluster.local", "A"))
    for n in range(HEADLESS_SERVICES):
        asked.append((f"headless-{n}.bench.svc.cluster.local", "A"))
    asked.append(("www.example.com", "A"))
    return asked


def run_client(port: int, total: int, *, fresh: bool = False) -> tuple[float, Counter[str], int]:
    """(seconds, rcodes, answered) for ``total`` queries with WINDOW in flight.
    ``fresh``: every query's name in a letter case of its own (the same answer, but
    never the same bytes: no answer comes from the server's cache)."""
    wires = []
    rng = random.Random(7)
    count = total if fresh else 1
    for _ in range(count):
        for name, rdtype in questions():
            if fresh:
                name = "".join(c.upper() if rng.random() < 0.5 else c for c in name)
            query = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)
            wires.append(query.to_wire())
        if len(wires) >= total:
            break
    rng.shuffle(wires)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(("127.0.0.1", port))
    sock.settimeout(2.0)
    rcodes: Counter[str] = Counter()
    sent = answered = lost = 0
    start = time.perf_counter()
    while sent < min(WINDOW, total):
        sock.send(wires[sent % len(wires)])
        sent += 1
    while answered + lost < total and time.perf_counter() - start < TIME_LIMIT:
        try:
            reply = sock.recv(65535)
        except TimeoutError:
            lost += sent - answered - lost  # re-fill the window after a loss
            continue
        answered += 1
        if answered % 97 == 0:  # sample rcodes without parsing every reply
            rcodes[dns.rcode.to_text(dns.message.from_wire(reply).rcode())] += 1
        if sent < total:
            sock.send(wires[sent % len(wires)])
            sent += 1
    elapsed = time.perf_counter() - start
    sock.close()
    return elapsed, rcodes, answered


def index_costs() -> tuple[float, float]:
    start = time.perf_counter()
    zone = build_zone()
    built = time.perf_counter() - start
    start = time.perf_counter()
    changes = 200
    for n in range(changes):
        zone.set_slice(endpoint_slice(f"headless-{n % HEADLESS_SERVICES}", n, 9 + n % 2))
    return built, (time.perf_counter() - start) / changes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer queries")
    args = parser.parse_args()
    total = 5_000 if args.quick else 50_000

    context = multiprocessing.get_context("spawn")
    port, ready = context.Value("i", 0), context.Event()
    server = context.Process(target=serve, args=(port, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(60):
            raise SystemExit("the DNS server did not start within 60 s")
        run_client(port.value, 500)  # warm-up
        elapsed, rcodes, answered = run_client(port.value, total)
        fresh_elapsed, _, fresh_answered = run_client(port.value, total // 5, fresh=True)
    finally:
        server.terminate()
        server.join(10)
    built, per_change = index_costs()
    services = CLUSTER_IP_SERVICES + HEADLESS_SERVICES
    print(f"cluster DNS, one server on 127.0.0.1 (UDP, {WINDOW} queries in flight)")
    print(f"  queries answered       {answered} of {total} in {elapsed:.2f} s")
    repeated = len(questions())
    print(
        f"  queries/s, repeated    {answered / elapsed:,.0f}  ({repeated} questions over and over)"
    )
    print(
        f"  queries/s, new bytes   {fresh_answered / fresh_elapsed:,.0f}  "
        f"({fresh_answered} questions, each in a letter case of its own: parsed and rendered)"
    )
    print(f"  rcodes (sampled)       {dict(sorted(rcodes.items()))}")
    print(f"  index of {services} Services built in {built * 1000:.0f} ms")
    print(f"  one EndpointSlice change applied in {per_change * 1e6:.0f} us")


if __name__ == "__main__":
    main()
