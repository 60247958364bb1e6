"""``navctl top nodes`` and ``navctl top pods``: CPU and memory **requested** by pods,
against each node's allocatable. Navarch has no metrics server, so these are the
reservations the scheduler fits pods against (summed by the scheduler's own rule:
a container's limits count when it requests nothing), not measured usage.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from navarch.cli.navctl.session import Session, add_command, add_subcommand_group

if TYPE_CHECKING:
    from navarch.api.core_v1 import Pod

# The scheduler's NodeInfo (and the object model with it) is imported by the verbs
# that add requests up: `navctl --help` imports this module.

MIB = 1024 * 1024
NOTE = "requests, not usage: Navarch has no metrics server"


def register(commands: argparse._SubParsersAction) -> None:
    kinds = add_subcommand_group(
        commands, "top", help=f"CPU and memory requested per node or pod ({NOTE})"
    )
    nodes = add_command(
        kinds,
        "nodes",
        run_nodes,
        help=f"per node: CPU and memory requested by its pods vs allocatable ({NOTE})",
        description=f"Per node: CPU and memory requested by its pods against its allocatable "
        f"({NOTE}).",
        aliases=("node", "no"),
    )
    nodes.add_argument("names", nargs="*", metavar="NODE", help="only these nodes")
    pods = add_command(
        kinds,
        "pods",
        run_pods,
        help=f"per pod: CPU and memory requested ({NOTE})",
        description=f"Per pod: CPU and memory requested ({NOTE}).",
        aliases=("pod", "po"),
    )
    pods.add_argument("names", nargs="*", metavar="POD", help="only these pods")
    pods.add_argument("-A", "--all-namespaces", action="store_true", help="pods of every namespace")


def table(rows: Sequence[Sequence[str]], padding: int = 3) -> str:
    """Columns as kubectl aligns them (left, ``padding`` spaces between)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        (" " * padding)
        .join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        .rstrip()
        for row in rows
    ]
    return "\n".join(lines)


def cpu_text(millicores: int) -> str:
    return f"{millicores}m"


def memory_text(size: int) -> str:
    return f"{(size + MIB - 1) // MIB}Mi"


def percent(part: int, whole: int) -> str:
    return f"{part * 100 // whole}%" if whole else "<unknown>"


async def _running_pods(session: Session, namespace: str | None) -> list[Pod]:
    """Pods holding their requests: bound and not finished."""
    fields = "status.phase!=Succeeded,status.phase!=Failed"
    listed = await session.client.pods.list(namespace or "", field_selector=fields)
    return [pod for pod in listed.items if pod.spec is not None and pod.spec.node_name]


async def run_nodes(session: Session, args: argparse.Namespace) -> int:
    from navarch.scheduler.nodeinfo import NodeInfo, PodRequest

    nodes = list((await session.client.nodes.list()).items)
    if args.names:
        nodes = [n for n in nodes if n.name in args.names]
    infos = {n.name: NodeInfo.of(n) for n in nodes}
    for pod in await _running_pods(session, None):
        info = infos.get(pod.spec.node_name if pod.spec is not None else "")
        if info is not None:
            info.add(PodRequest.of(pod))
    rows = [["NAME", "CPU(requests)", "CPU%", "MEMORY(requests)", "MEMORY%"]]
    for name in sorted(infos):
        info = infos[name]
        rows.append(
            [
                name,
                cpu_text(info.requested_cpu),
                percent(info.requested_cpu, info.allocatable_cpu),
                memory_text(info.requested_memory),
                percent(info.requested_memory, info.allocatable_memory),
            ]
        )
    if len(rows) == 1:
        print("No resources found")
        return 0
    print(table(rows))
    return 0


async def run_pods(session: Session, args: argparse.Namespace) -> int:
    from navarch.scheduler.nodeinfo import PodRequest

    namespace = None if args.all_namespaces else session.namespace
    pods = await _running_pods(session, namespace)
    if args.names:
        pods = [p for p in pods if p.name in args.names]
    header = ["NAME", "CPU(requests)", "MEMORY(requests)"]
    if args.all_namespaces:
        header.insert(0, "NAMESPACE")
    rows = [header]
    for pod in sorted(pods, key=lambda p: (p.namespace or "", p.name)):
        request = PodRequest.of(pod)
        row = [pod.name, cpu_text(request.cpu), memory_text(request.memory)]
        if args.all_namespaces:
            row.insert(0, pod.namespace or "")
        rows.append(row)
    if len(rows) == 1:
        where = "" if args.all_namespaces else f" in {session.namespace} namespace"
        print(f"No resources found{where}.")
        return 0
    print(table(rows))
    return 0
