"""``navctl cordon|uncordon NODE...`` and ``navctl drain NODE...``.

Cordon marks a node unschedulable (``spec.unschedulable``); the scheduler then
places nothing new there. Drain cordons, then evicts every pod on the node through
``pods/eviction`` (the polite deletion a disruption budget may refuse with 429, which
is retried every 5 s as kubectl does) and waits until each is gone. As in kubectl, a
pod no controller would recreate, one with local (emptyDir) data, or a DaemonSet's
pod stops the drain unless the matching flag says otherwise; finished pods and
mirror pods need no flag.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

import attrs

from navarch.cli.navctl.arguments import parse_duration
from navarch.cli.navctl.failures import CliError
from navarch.cli.navctl.session import Session, add_command, find_resource, resource_path
from navarch.client import ApiException

MERGE_PATCH = "application/merge-patch+json"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
EVICTION_RETRY_SECONDS = 5.0
GONE_POLL_SECONDS = 1.0


def register(commands: argparse._SubParsersAction) -> None:
    cordon = add_command(commands, "cordon", run_cordon, help="mark nodes unschedulable")
    cordon.add_argument("nodes", nargs="+", metavar="NODE")
    uncordon = add_command(commands, "uncordon", run_uncordon, help="mark nodes schedulable")
    uncordon.add_argument("nodes", nargs="+", metavar="NODE")
    drain = add_command(
        commands, "drain", run_drain, help="cordon nodes and evict their pods (for maintenance)"
    )
    drain.add_argument("nodes", nargs="+", metavar="NODE")
    drain.add_argument(
        "--force", action="store_true", help="also delete pods that no controller manages"
    )
    drain.add_argument(
        "--ignore-daemonsets", action="store_true", help="leave DaemonSet-managed pods alone"
    )
    drain.add_argument(
        "--delete-emptydir-data",
        action="store_true",
        help="also delete pods with emptyDir volumes (their data is lost)",
    )
    drain.add_argument(
        "--grace-period",
        type=int,
        default=-1,
        help="seconds each pod gets to stop (default -1: the pod's own)",
    )
    drain.add_argument(
        "--timeout", default="0", help="give up after this long (5m; default 0: for ever)"
    )


# --- cordon, uncordon ----------------------------------------------------------------------


async def set_unschedulable(session: Session, node: str, unschedulable: bool) -> None:
    """Print kubectl's line: ``node/n1 cordoned`` (or ``already cordoned``)."""
    path = resource_path(find_resource("nodes"), None, node)
    current = await session.request("GET", path)
    word = "cordoned" if unschedulable else "uncordoned"
    if bool((current.get("spec") or {}).get("unschedulable")) == unschedulable:
        print(f"node/{node} already {word}")
        return
    body = {"spec": {"unschedulable": True if unschedulable else None}}
    await session.request("PATCH", path, body=body, content_type=MERGE_PATCH)
    print(f"node/{node} {word}")


async def run_cordon(session: Session, args: argparse.Namespace) -> int:
    for node in args.nodes:
        await set_unschedulable(session, node, True)
    return 0


async def run_uncordon(session: Session, args: argparse.Namespace) -> int:
    for node in args.nodes:
        await set_unschedulable(session, node, False)
    return 0


# --- which pods a drain may remove ------------------------------------------------------------


@attrs.define
class DrainPlan:
    evict: list[dict[str, Any]] = attrs.field(factory=list)
    warnings: list[str] = attrs.field(factory=list)
    errors: list[str] = attrs.field(factory=list)


def _key(pod: dict[str, Any]) -> str:
    return f"{pod['metadata'].get('namespace', '')}/{pod['metadata']['name']}"


def _controller(pod: dict[str, Any]) -> dict[str, Any] | None:
    refs = pod["metadata"].get("ownerReferences") or []
    return next((ref for ref in refs if ref.get("controller")), None)


def plan_drain(
    pods: list[dict[str, Any]], *, force: bool, ignore_daemonsets: bool, delete_emptydir: bool
) -> DrainPlan:
    """kubectl's filters, in its order, with its words."""
    plan = DrainPlan()
    refused: dict[str, list[str]] = {}
    warned: dict[str, list[str]] = {}
    for pod in pods:
        key = _key(pod)
        if MIRROR_ANNOTATION in (pod["metadata"].get("annotations") or {}):
            continue  # the agent's copy of a static pod: deleting it does nothing
        finished = (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
        controller = _controller(pod)
        if controller is not None and controller.get("kind") == "DaemonSet":
            if ignore_daemonsets:
                warned.setdefault("ignoring DaemonSet-managed Pods", []).append(key)
            else:
                refused.setdefault(
                    "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore)", []
                ).append(key)
            continue
        if controller is None and not finished:
            if force:
                warned.setdefault("deleting Pods that declare no controller", []).append(key)
            else:
                refused.setdefault(
                    "cannot delete Pods declare no controller (use --force to override)", []
                ).append(key)
                continue
        volumes = (pod.get("spec") or {}).get("volumes") or []
        if not finished and any("emptyDir" in v for v in volumes):
            if delete_emptydir:
                warned.setdefault("deleting Pods with local storage", []).append(key)
            else:
                refused.setdefault(
                    "cannot delete Pods with local storage (use --delete-emptydir-data to "
                    "override)",
                    [],
                ).append(key)
                continue
        plan.evict.append(pod)
    plan.errors = [f"{why}: {', '.join(keys)}" for why, keys in refused.items()]
    plan.warnings = [f"{why}: {', '.join(keys)}" for why, keys in warned.items()]
    return plan


# --- drain ---------------------------------------------------------------------------------


async def run_drain(session: Session, args: argparse.Namespace) -> int:
    timeout = parse_duration(args.timeout)
    failures: list[tuple[str, str]] = []
    for node in args.nodes:
        await set_unschedulable(session, node, True)
        try:
            await drain_node(session, node, args, timeout)
        except CliError as exc:
            failures.append((node, str(exc)))
            print(
                f'error: unable to drain node "{node}" due to error: {exc}, continuing command...',
                file=sys.stderr,
            )
            continue
        print(f"node/{node} drained")
    if failures:
        pending = "\n".join(f" {node}" for node, _ in failures)
        reasons = "\n".join(reason for _, reason in failures)
        print(f"There are pending nodes to be drained:\n{pending}\n{reasons}", file=sys.stderr)
        return 1
    return 0


async def drain_node(session: Session, node: str, args: argparse.Namespace, timeout: float) -> None:
    pods_path = resource_path(find_resource("pods"), None)
    listed = await session.request(
        "GET", pods_path, params={"fieldSelector": f"spec.nodeName={node}"}
    )
    plan = plan_drain(
        listed.get("items") or [],
        force=args.force,
        ignore_daemonsets=args.ignore_daemonsets,
        delete_emptydir=args.delete_emptydir_data,
    )
    if plan.errors:
        raise CliError(", ".join(plan.errors))
    for warning in plan.warnings:
        print(f"Warning: {warning}", file=sys.stderr)
    deadline = time.monotonic() + timeout if timeout > 0 else None
    results = await asyncio.gather(
        *(
            _evict_and_wait(session, pod, args.grace_period, deadline, timeout)
            for pod in plan.evict
        ),
        return_exceptions=True,
    )
    problems = [str(r) for r in results if isinstance(r, BaseException)]
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, (CliError, ApiException)):
            raise result
    if problems:
        raise CliError(f"[{', '.join(problems)}]")


async def _evict_and_wait(
    session: Session,
    pod: dict[str, Any],
    grace_period: int,
    deadline: float | None,
    timeout: float,
) -> None:
    meta = pod["metadata"]
    namespace, name, uid = meta.get("namespace", ""), meta["name"], meta.get("uid")
    pods = find_resource("pods")
    body: dict[str, Any] = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": name, "namespace": namespace},
    }
    if grace_period >= 0:
        body["deleteOptions"] = {"gracePeriodSeconds": grace_period}
    print(f"evicting pod {namespace}/{name}", flush=True)
    while True:
        try:
            await session.request(
                "POST", resource_path(pods, namespace, name, "eviction"), body=body
            )
            break
        except ApiException as exc:
            if exc.code == 404:
                break  # already gone
            if exc.code != 429:
                raise CliError(
                    f'error when evicting pods/"{name}" -n "{namespace}": '
                    f"{exc.status.get('message') or exc.status.get('reason')}"
                ) from None
            print(
                f'error when evicting pods/"{name}" -n "{namespace}" (will retry after '
                f"{EVICTION_RETRY_SECONDS:g}s): {exc.status.get('message')}",
                file=sys.stderr,
            )
        _check_deadline(deadline, timeout, name, namespace)
        await asyncio.sleep(EVICTION_RETRY_SECONDS)
    while True:
        try:
            current = await session.request("GET", resource_path(pods, namespace, name))
        except ApiException as exc:
            if exc.code != 404:
                raise
            current = None
        if current is None or current["metadata"].get("uid") != uid:
            print(f"pod/{name} evicted", flush=True)
            return
        _check_deadline(deadline, timeout, name, namespace)
        await asyncio.sleep(GONE_POLL_SECONDS)


def _check_deadline(deadline: float | None, timeout: float, name: str, namespace: str) -> None:
    if deadline is not None and time.monotonic() >= deadline:
        raise CliError(
            f'error when waiting for pod "{name}" in namespace "{namespace}" to terminate: '
            f"global timeout reached: {timeout:g}s"
        )
