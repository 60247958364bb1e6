"""End-to-end benchmark: Navarch against Docker Swarm on one private dockerd, then
Navarch on containerd, then a node failure.

    uv run python bench/e2e.py [--quick] [--skip-swarm]    (as root: private daemons)

1. One private dockerd (in a network namespace of its own: bench/e2e_swarm.py says
   why), the busybox image loaded into it from a local archive (never pulled). On it,
   round after round (who goes first alternates; each waits until the other's
   containers are gone): Navarch (API server, scheduler, controller manager and one
   agent process on its docker runtime) creates a Deployment of N hostNetwork
   replicas, timed from the create call until the pod watch sees all N Running; then
   Docker Swarm (a one-node swarm on the same daemon) creates a service of N
   replicas on the host network, timed from the create call until N tasks run
   (polled). The median over the rounds is compared: Swarm's seconds / Navarch's.
2. The same Deployment by Navarch with its containerd runtime on a private
   containerd (image imported through the plugin).
3. Failures. Navarch, 3 nodes (3 agent processes on the same dockerd): one agent
   SIGKILLed, timed until all N replicas run again on the other two (node lifecycle:
   grace, then NoExecute eviction after tolerationSeconds, then the ReplicaSet's
   replacements). A one-machine Swarm has no node to lose, so what both are measured
   on instead is K of the N containers killed with ``docker kill``: timed until N
   run again in containers other than the killed ones (Swarm starts new tasks after
   its restart delay, 5 s by default; Navarch's agent restarts the pods' containers
   in place, restartPolicy Always).

Every pod or task runs ``sh -c "trap 'exit 0' TERM; sleep 3600 & wait"`` (sleep 3600
that stops at once on SIGTERM). Each Navarch cluster first runs one untimed warm-up
pod per node (the docker runtime's pause image is loaded on first use). Everything
runs on 127.0.0.1 or unix sockets; every wait is bounded; every process started here
is stopped by pid, also on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controllers import node_lifecycle_settings
from e2e_navarch import (
    DEPLOYMENTS,
    Cluster,
    delete_deployment,
    deployment,
    navarch_cluster,
    warm_up,
)
from e2e_swarm import Engine, IsolatedDockerd, Swarm, running_containers, service_spec
from runtime import build_runtime, clear_node, dockerd_directory, remove_cgroups
from runtime_floors import Cli, docker_cli
from targets import Target, format_ratio, ratio, report

from navarch.runtime import labels
from navarch.testing.containerd import ContainerdProcess
from navarch.testing.daemon import unmount_under
from navarch.testing.images import BUSYBOX_IMAGE, busybox_archive

COMMAND = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
LIMIT = 180.0  # any one wait: all Running, all gone
SPEEDUP = 3.0  # the target: Swarm's seconds / Navarch's, to N Running
NAVARCH_LABEL = f"{labels.MANAGED}=true"  # on every sandbox and container an agent made
FAILOVER_LIMIT = 30.0  # seconds, as bench/controllers.py: 15 s grace + 10 s toleration + slack


@dataclass(frozen=True)
class Counts:
    replicas: int
    rounds: int  # startups measured per system (the median is compared)
    killed: int  # containers killed with docker kill
    nodes: int  # agent processes in the node-failure cluster


FULL = Counts(replicas=20, rounds=3, killed=7, nodes=3)
QUICK = Counts(replicas=10, rounds=1, killed=3, nodes=3)


def median(values: list[float | None]) -> float | None:
    """The median of the rounds, None when any round never got there."""
    if not values or any(v is None for v in values):
        return None
    return statistics.median(v for v in values if v is not None)


# --- Navarch ------------------------------------------------------------------------------


async def navarch_startup(
    cluster: Cluster, replicas: int, stages: list[tuple[float, float, float]] | None = None
) -> float | None:
    """Create the Deployment: seconds from the call until ``replicas`` pods Running.
    ``stages`` gets when the last pod was created, bound and Running."""
    api = cluster.api
    began = time.perf_counter()
    await api.call("POST", DEPLOYMENTS, deployment(BUSYBOX_IMAGE, COMMAND, replicas))
    done = await api.until(lambda: len(api.view.running()) >= replicas, LIMIT)
    if stages is not None:
        stages.append(api.view.stages(began))
    return None if done is None else time.perf_counter() - began


async def navarch_kill(cluster: Cluster, docker: Cli, counts: Counts) -> float | None:
    """``docker kill`` K of the replicas' containers: seconds until every pod runs again,
    the killed ones in a new container."""
    api = cluster.api
    victims = {
        name: api.view.pods[name].container_id
        for name in sorted(api.view.running())[: counts.killed]
    }
    ids = [container_id.removeprefix("docker://") for container_id in victims.values()]

    def recovered() -> bool:
        return len(api.view.running()) >= counts.replicas and all(
            name in api.view.pods and api.view.pods[name].container_id not in ("", old)
            for name, old in victims.items()
        )

    began = time.perf_counter()
    await docker.run("kill", *ids)
    done = await api.until(recovered, LIMIT)
    return None if done is None else time.perf_counter() - began


async def node_failure(cluster: Cluster, counts: Counts) -> dict[str, Any]:
    """The Deployment over the nodes, then the first node's agent SIGKILLed: seconds
    until ``replicas`` pods Running on the others."""
    api = cluster.api
    figures: dict[str, Any] = {"startup": await navarch_startup(cluster, counts.replicas)}
    placement = Counter(api.view.pods[name].node for name in api.view.running())
    figures["placement"] = dict(sorted(placement.items()))
    victim = next(iter(cluster.agents))
    figures["lost pods"] = placement.get(victim, 0)
    dead = frozenset({victim})
    print(f"  SIGKILL agent {victim} ({figures['lost pods']} pods)…", file=sys.stderr)
    began = time.perf_counter()
    cluster.agents[victim].kill()
    done = await api.until(lambda: len(api.view.running(dead)) >= counts.replicas, LIMIT)
    figures["failover"] = None if done is None else time.perf_counter() - began
    return figures


# --- Swarm --------------------------------------------------------------------------------


async def swarm_startup(swarm: Swarm, spec: dict[str, Any], replicas: int) -> float | None:
    began = time.perf_counter()
    await swarm.create(spec)
    done = await swarm.until_running(replicas, LIMIT, set())
    return None if done is None else time.perf_counter() - began


async def swarm_kill(swarm: Swarm, docker: Cli, counts: Counts) -> float | None:
    """``docker kill`` K of the tasks' containers: seconds until N tasks run in other
    containers."""
    victims = sorted(running_containers(await swarm.tasks()))[: counts.killed]
    began = time.perf_counter()
    await docker.run("kill", *victims)
    done = await swarm.until_running(counts.replicas, LIMIT, set(victims))
    return None if done is None else time.perf_counter() - began


async def navarch_round(
    cluster: Cluster,
    docker: Cli,
    engine: Engine,
    counts: Counts,
    figures: dict[str, Any],
    last: bool,
) -> None:
    """One startup of the Deployment (the last round: then K containers killed), and
    its removal, until the dockerd holds none of its containers."""
    startup = await navarch_startup(cluster, counts.replicas, figures["navarch stages"])
    figures["navarch"].append(startup)
    if last:
        running = await engine.containers(NAVARCH_LABEL)
        figures["navarch containers"] = len(running)
        print(f"  Navarch: {counts.killed} containers killed…", file=sys.stderr)
        figures["navarch kill"] = await navarch_kill(cluster, docker, counts)
    await delete_deployment(cluster, LIMIT)
    await engine.until_no_containers(NAVARCH_LABEL, LIMIT)


async def swarm_round(
    swarm: Swarm,
    spec: dict[str, Any],
    docker: Cli,
    counts: Counts,
    figures: dict[str, Any],
    last: bool,
) -> None:
    """One startup of the service (the last round: then K containers killed), and its
    removal, until the dockerd holds none of its containers."""
    figures["swarm"].append(await swarm_startup(swarm, spec, counts.replicas))
    if last:
        figures["swarm containers"] = len(await swarm.containers())
        print(f"  Swarm: {counts.killed} containers killed…", file=sys.stderr)
        figures["swarm kill"] = await swarm_kill(swarm, docker, counts)
    await swarm.remove_service(LIMIT)


# --- the phases ---------------------------------------------------------------------------


async def docker_phase(
    root: Path, archive: Path, counts: Counts, skip_swarm: bool
) -> dict[str, Any]:
    """Navarch's docker runtime and Swarm side by side on one dockerd, round after
    round; the container kills; then the node failure on 3 agents."""
    figures: dict[str, Any] = {"navarch": [], "navarch stages": [], "swarm": []}
    dockerd = IsolatedDockerd(dockerd_directory())
    engine: Engine | None = None
    try:
        dockerd.start()
        docker = docker_cli(dockerd.socket_url, root / "docker-cli")
        await docker.run("load", "-q", "-i", str(archive))
        options = {"socket": dockerd.socket_url}
        engine = Engine(dockerd.socket_path)
        swarm = Swarm(engine)
        spec: dict[str, Any] = {}
        if not skip_swarm:
            await swarm.init()
            spec = service_spec(BUSYBOX_IMAGE, COMMAND, counts.replicas, await swarm.host_network())
        async with navarch_cluster(root / "navarch-docker", "docker", options, ["e2e-docker"]) as (
            cluster
        ):
            await warm_up(cluster, BUSYBOX_IMAGE, COMMAND)
            await engine.until_no_containers(NAVARCH_LABEL, LIMIT)
            for index in range(counts.rounds):
                last = index == counts.rounds - 1
                # Swarm first every other round: neither always follows the other's
                # teardown, nor meets the machine's load at the same point.
                turns = ["navarch"] if skip_swarm else ["navarch", "swarm"]
                for turn in turns if index % 2 == 0 else reversed(turns):
                    print(f"  round {index + 1}: {turn}…", file=sys.stderr)
                    if turn == "navarch":
                        await navarch_round(cluster, docker, engine, counts, figures, last)
                    else:
                        await swarm_round(swarm, spec, docker, counts, figures, last)
        if not skip_swarm:
            await swarm.leave()
        nodes = [f"e2e-node-{index}" for index in range(counts.nodes)]
        print(f"  Navarch on {counts.nodes} nodes: node failure…", file=sys.stderr)
        async with navarch_cluster(root / "navarch-failover", "docker", options, nodes) as (
            cluster
        ):
            await warm_up(cluster, BUSYBOX_IMAGE, COMMAND)
            figures["node failure"] = await node_failure(cluster, counts)
    finally:
        if engine is not None:
            await engine.close()
        dockerd.remove()  # stops its containers (the swarm's too) and unmounts
    return figures


async def containerd_phase(root: Path, archive: Path, counts: Counts) -> dict[str, Any]:
    """The same Deployment, rounds after rounds, by Navarch on a private containerd."""
    containerd = ContainerdProcess(root / "containerd")
    namespace = f"nave2e{secrets.token_hex(4)}"
    options = {"socket": str(containerd.socket_path), "namespace": namespace}
    node = "e2e-containerd"
    cluster_root = root / "navarch-containerd"
    startups: list[float | None] = []
    stages: list[tuple[float, float, float]] = []
    try:
        containerd.start()
        runtime = await build_runtime("containerd", options, root / "image-import")
        try:
            await runtime.load_image(archive)
        finally:
            await runtime.close()
        async with navarch_cluster(cluster_root, "containerd", options, [node]) as cluster:
            await warm_up(cluster, BUSYBOX_IMAGE, COMMAND)
            for index in range(counts.rounds):
                print(f"  round {index + 1}: Navarch (containerd)…", file=sys.stderr)
                startups.append(await navarch_startup(cluster, counts.replicas, stages))
                await delete_deployment(cluster, LIMIT)
    finally:
        if containerd.process is not None and containerd.process.poll() is None:
            await clear_node("containerd", options, cluster_root / node / "data" / "runtime" / node)
        containerd.remove()  # ends the shims left serving it, by pid
        unmount_under((root,))
        await remove_cgroups([namespace])
    return {"navarch": startups, "navarch stages": stages}


# --- the report ---------------------------------------------------------------------------


def seconds(value: float | None) -> str:
    return "not reached" if value is None else f"{value:.2f}"


def rounds(values: list[float | None]) -> str:
    return ", ".join(seconds(v) for v in values) if values else "-"


def print_table(docker: dict[str, Any], containerd: dict[str, Any], counts: Counts) -> None:
    n, k = counts.replicas, counts.killed
    nav_docker, swarm = median(docker["navarch"]), median(docker["swarm"])
    nav_containerd = median(containerd["navarch"])
    failure = docker.get("node failure") or {}
    columns = [
        "seconds",
        "Navarch docker",
        "Docker Swarm",
        "Navarch containerd",
        "Swarm/Nav docker",
        "Swarm/Nav containerd",
    ]
    rows = [
        columns,
        [
            f"{n} replicas: create -> all Running (median of {counts.rounds})",
            seconds(nav_docker),
            seconds(swarm) if docker["swarm"] else "skipped",
            seconds(nav_containerd),
            format_ratio(ratio(swarm, nav_docker)) if swarm and nav_docker else "n/a",
            format_ratio(ratio(swarm, nav_containerd)) if swarm and nav_containerd else "n/a",
        ],
        [
            "  each round",
            rounds(docker["navarch"]),
            rounds(docker["swarm"]),
            rounds(containerd["navarch"]),
            "",
            "",
        ],
        [
            f"{k} of {n} containers killed (docker kill) -> {n} running again",
            seconds(docker.get("navarch kill")),
            seconds(docker.get("swarm kill")) if "swarm kill" in docker else "skipped",
            "-",
            format_ratio(ratio(docker["swarm kill"], docker["navarch kill"]))
            if docker.get("swarm kill") and docker.get("navarch kill")
            else "n/a",
            "",
        ],
        [
            f"{counts.nodes} nodes, one agent SIGKILLed ({failure.get('lost pods', '?')} pods)"
            f" -> {n} Running again",
            seconds(failure.get("failover")),
            "no node to lose",
            "-",
            "n/a",
            "",
        ],
        [
            f"  {n} replicas on {counts.nodes} nodes: create -> all Running",
            seconds(failure.get("startup")),
            "-",
            "-",
            "",
            "",
        ],
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    for index, cells in enumerate(rows):
        print(
            f"{cells[0]:<{widths[0]}}  "
            + "  ".join(f"{c:>{w}}" for c, w in zip(cells[1:], widths[1:], strict=True))
        )
        if index == 0:
            print("-" * (sum(widths) + 2 * len(widths)))
    print()
    for name, figures in (("docker", docker), ("containerd", containerd)):
        print(
            f"  Navarch ({name}), each round: the last pod created / bound / Running at "
            + ", ".join(" / ".join(f"{s:.2f}" for s in st) for st in figures["navarch stages"])
            + " s after the create call"
        )
    if "navarch containers" in docker:
        print(
            f"  containers running on the dockerd with {n} replicas up: Navarch "
            f"{docker['navarch containers']} (the app; a hostNetwork pod's sandbox "
            "is a container created but never started), "
            f"Swarm {docker.get('swarm containers', 'n/a')}"
        )
    print(f"  placement before the failure: {failure.get('placement', {})}")
    print(f"  Navarch's failover is decided by: {node_lifecycle_settings()}")
    print(
        "  Swarm on one machine has no node to lose: what it was measured on instead is "
        f"{k} task containers killed with docker kill, replaced by new tasks after its "
        "restart delay (5 s by default); Navarch restarts the killed pods' containers "
        "in place (restartPolicy Always, the agent's back-off)."
    )
    print(
        "  Swarm: one-node swarm (--advertise-addr/--listen-addr 127.0.0.1:PORT) on the same "
        "dockerd, in its own network namespace; service created through the Engine API "
        "(what `docker service create --detach --network host --no-resolve-image` sends), "
        "tasks polled every 50 ms; Navarch: Deployment created through its API, pods seen "
        "Running on a watch."
    )


def targets(docker: dict[str, Any], containerd: dict[str, Any], counts: Counts) -> list[Target]:
    swarm = median(docker["swarm"])
    nav_docker, nav_containerd = median(docker["navarch"]), median(containerd["navarch"])
    failure = (docker.get("node failure") or {}).get("failover")

    def speedup(navarch: float | None) -> float | None:
        return ratio(swarm, navarch) if swarm is not None and navarch is not None else None

    n = counts.replicas
    return [
        Target(
            f"{n} Running, Swarm s / Navarch s, docker runtime (same dockerd)",
            speedup(nav_docker),
            ">=",
            SPEEDUP,
            "x",
        ),
        Target(
            f"{n} Running, Swarm s / Navarch s, containerd runtime",
            speedup(nav_containerd),
            ">=",
            SPEEDUP,
            "x",
        ),
        Target(
            f"node failure ({counts.nodes} nodes, one agent killed): {n} Running again",
            failure,
            "<=",
            FAILOVER_LIMIT,
            " s",
        ),
    ]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts (a smoke run)")
    parser.add_argument("--skip-swarm", action="store_true", help="Navarch only, no Swarm")
    parser.add_argument("--keep", action="store_true", help="keep every log (prints where)")
    args = parser.parse_args()
    counts = QUICK if args.quick else FULL
    root = Path(tempfile.mkdtemp(prefix="navarch-bench-e2e-"))
    try:
        archive = busybox_archive(root)
        print("  one private dockerd: Navarch (docker) and Docker Swarm…", file=sys.stderr)
        docker = await docker_phase(root, archive, counts, args.skip_swarm)
        print("  a private containerd: Navarch (containerd)…", file=sys.stderr)
        containerd = await containerd_phase(root, archive, counts)
    finally:
        if args.keep:
            print(f"  logs kept under {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    print()
    print(
        f"End-to-end benchmark ({'quick' if args.quick else 'full'}): {counts.replicas} "
        f"replicas of busybox (loaded locally), host network, {os.cpu_count()} cores shared "
        f"by every process; load average {os.getloadavg()[0]:.2f} at the end"
    )
    print()
    print_table(docker, containerd, counts)
    report(targets(docker, containerd, counts), quick=args.quick)


if __name__ == "__main__":
    asyncio.run(main())
