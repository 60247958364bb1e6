"""The scheduler against a real API server on LMDB, with Node objects of different sizes."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from navarch.api.quantity import Quantity
from navarch.testing.waiting import eventually


def node(
    name: str, cpu: str = "4", memory: str = "8Gi", pods: str = "110", labels=None, taints=None
) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"taints": taints or []},
        "status": {
            "allocatable": {"cpu": cpu, "memory": memory, "pods": pods},
            "capacity": {"cpu": cpu, "memory": memory, "pods": pods},
        },
    }


def pod(name: str, cpu: str = "100m", memory: str = "64Mi", owner: str = "", **spec) -> dict:
    meta: dict = {"name": name, "labels": {"app": "sched"}}
    if owner:
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": owner,
                "uid": owner,
                "controller": True,
            }
        ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "127.0.0.1:5000/app:1",
                    "resources": {"requests": {"cpu": cpu, "memory": memory}},
                }
            ],
            **spec,
        },
    }


async def placements(client, expected: int, timeout: float = 30) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        pods = (await client.pods.list("default")).items
        bound = {p.name: p.spec.node_name for p in pods if p.spec.node_name}
        if len(bound) >= expected or time.monotonic() > deadline:
            return bound
        await asyncio.sleep(0.1)


async def test_spread_places_six_replicas_evenly_on_three_nodes(client, start_scheduler):
    for name in ("n1", "n2", "n3"):
        await client.nodes.create(node(name))
    await start_scheduler("spread")
    for i in range(6):
        await client.pods.create(pod(f"web-{i}", owner="rs-web"), namespace="default")
    bound = await placements(client, 6)
    assert Counter(bound.values()) == {"n1": 2, "n2": 2, "n3": 2}


async def test_binpack_fills_one_node_before_the_next(client, start_scheduler):
    for name in ("b1", "b2", "b3"):
        await client.nodes.create(node(name, cpu="4", memory="8Gi"))
    await start_scheduler("binpack")
    for i in range(4):
        await client.pods.create(pod(f"pack-{i}", cpu="1", memory="1Gi"), namespace="default")
        await placements(client, i + 1)  # one at a time: each sees the previous placements
    bound = await placements(client, 4)
    assert len(set(bound.values())) == 1  # four 1-CPU pods fill one 4-CPU node
    await client.pods.create(pod("pack-4", cpu="1", memory="1Gi"), namespace="default")
    bound = await placements(client, 5)
    assert Counter(bound.values()).most_common()[0][1] == 4 and len(set(bound.values())) == 2


async def test_taints_selectors_and_affinity_are_honoured(client, start_scheduler):
    await client.nodes.create(node("plain", labels={"zone": "a"}))
    await client.nodes.create(
        node(
            "gpu",
            labels={"zone": "b", "gpu": "yes"},
            taints=[{"key": "gpu", "value": "true", "effect": "NoSchedule"}],
        )
    )
    await client.nodes.create(node("ssd", labels={"zone": "b", "disk": "ssd"}))
    await start_scheduler()
    await client.pods.create(pod("any"), namespace="default")
    await client.pods.create(
        pod(
            "tolerant",
            nodeSelector={"gpu": "yes"},
            tolerations=[{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
        ),
        namespace="default",
    )
    term = {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}
    await client.pods.create(
        pod(
            "affine",
            affinity={
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}
                }
            },
        ),
        namespace="default",
    )
    bound = await placements(client, 3)
    assert bound["tolerant"] == "gpu"
    assert bound["affine"] == "ssd"
    assert bound["any"] in ("plain", "ssd")  # never the tainted node


async def test_impossible_pod_reports_the_exact_reasons(client, start_scheduler):
    await client.nodes.create(node("s1", cpu="1"))
    await client.nodes.create(node("s2", cpu="1"))
    await client.nodes.create(
        node("t1", cpu="64", taints=[{"key": "gpu", "value": "true", "effect": "NoSchedule"}])
    )
    await start_scheduler()
    await client.pods.create(pod("huge", cpu="8"), namespace="default")
    expected = (
        "0/3 nodes are available: 2 Insufficient cpu, 1 node(s) had untolerated taint {gpu: true}."
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status = (await client.pods.get("huge", "default")).status
        conditions = {c.type: c for c in status.conditions or ()}
        if "PodScheduled" in conditions:
            break
        await asyncio.sleep(0.1)
    condition = conditions["PodScheduled"]
    assert (condition.status, condition.reason, condition.message) == (
        "False",
        "Unschedulable",
        expected,
    )
    events = (await client.events.list("default")).items
    assert any(
        e.reason == "FailedScheduling"
        and e.message == expected
        and e.involved_object.name == "huge"
        for e in events
    )
    # A bigger node arrives: the parked pod is tried again and fits.
    await client.nodes.create(node("big", cpu="16"))
    bound = await placements(client, 1)
    assert bound == {"huge": "big"}


async def test_bound_pods_carry_the_decision_in_plain_words(client, start_scheduler):
    for name in ("e1", "e2"):
        await client.nodes.create(node(name))
    await client.nodes.create(
        node("e3", taints=[{"key": "gpu", "value": "true", "effect": "NoSchedule"}])
    )
    await start_scheduler()
    await client.pods.create(pod("explained"), namespace="default")
    bound = await placements(client, 1)
    chosen = bound["explained"]
    other = "e2" if chosen == "e1" else "e1"
    decision = (await client.pods.get("explained", "default")).metadata.annotations[
        "scheduler.navarch.io/decision"
    ]
    lines = decision.splitlines()
    assert lines[0].startswith(f"{chosen} chosen from 2 feasible nodes: score ")
    assert "least-allocated" in lines[0] and "owner-spread" not in lines[0]  # no owner
    assert "taint-toleration 100" in lines[0]
    assert lines[1].startswith(f"runner-up {other}: score ")
    assert lines[2] == "1 of 3 nodes filtered out: 1 node(s) had untolerated taint {gpu: true}"


async def test_a_burst_of_200_pods_never_overbooks_a_node(client, start_scheduler):
    for name in ("t1", "t2", "t3"):
        await client.nodes.create(node(name, cpu="5", memory="64Gi"))  # 50 pods of 100m each
    await start_scheduler()
    await asyncio.gather(
        *(client.pods.create(pod(f"burst-{i}"), namespace="default") for i in range(200))
    )
    await placements(client, 150, timeout=60)

    async def all_decided() -> bool:
        # every pod bound or found unschedulable: the scheduler has looked at all 200,
        # so a node overbooked late would show now
        pods = (await client.pods.list("default")).items
        return len(pods) == 200 and all(
            p.spec.node_name
            or any(
                c.type == "PodScheduled" and c.status == "False" for c in p.status.conditions or ()
            )
            for p in pods
        )

    await eventually(all_decided, "all 200 pods bound or unschedulable")
    bound = await placements(client, 150)
    per_node = Counter(bound.values())
    assert len(bound) == 150 and per_node == {"t1": 50, "t2": 50, "t3": 50}
    requested = Counter()
    for p in (await client.pods.list("default")).items:
        if p.spec.node_name:
            requested[p.spec.node_name] += Quantity.parse("100m").milli()
    assert all(milli <= 5000 for milli in requested.values())
