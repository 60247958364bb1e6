"""``navctl rollout status|history|undo|restart|pause|resume deployment/NAME``.

A Deployment's history is its ReplicaSets: each carries the revision number the
Deployment controller gave it (``deployment.kubernetes.io/revision``) and the
Deployment's change-cause at the time (see
:mod:`navarch.controllers.deployment_history`). ``undo`` works as kubectl's
client-side rollback: copy the chosen ReplicaSet's pod template (without its
``pod-template-hash`` label) and annotations back into the Deployment; the
controller then adopts that ReplicaSet again as the new one and gives it the next
revision.
"""

from __future__ import annotations

import argparse
import copy
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from navarch.cli.navctl.arguments import parse_bool, parse_duration, split_target
from navarch.cli.navctl.failures import CliError
from navarch.cli.navctl.progress import deployment_readiness, rollout_status
from navarch.cli.navctl.session import (
    Session,
    add_command,
    add_subcommand_group,
    find_resource,
    resource_path,
)
from navarch.controllers.deployment_history import CHANGE_CAUSE, HASH_LABEL, NOT_COPIED, REVISION

if TYPE_CHECKING:
    from navarch.resources.spec import Resource

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def register(commands: argparse._SubParsersAction) -> None:
    actions = add_subcommand_group(
        commands, "rollout", help="manage a Deployment's rollouts (status, history, undo, …)"
    )

    def action(name: str, run: Any, help: str) -> argparse.ArgumentParser:
        parser = add_command(actions, name, run, help=help)
        parser.add_argument(
            "target", nargs="+", metavar="deployment/NAME", help="deployment/NAME or deploy NAME"
        )
        return parser

    status = action("status", run_status, "wait until the rollout finishes, showing progress")
    status.add_argument(
        "--timeout",
        default="0",
        help="give up after this long (30s, 5m; default 0: wait for ever)",
    )
    status.add_argument(
        "-w",
        "--watch",
        type=parse_bool,
        nargs="?",
        const=True,
        default=True,
        help="watch until done (--watch=false: print the status once)",
    )
    history = action("history", run_history, "list the revisions (REVISION, CHANGE-CAUSE)")
    history.add_argument("--revision", type=int, default=0, help="show this revision's template")
    undo = action("undo", run_undo, "roll back to the previous (or a given) revision")
    undo.add_argument(
        "--to-revision", type=int, default=0, help="the revision to go back to (default: previous)"
    )
    action("restart", run_restart, "replace every pod (a new template annotation)")
    action("pause", run_pause, "stop rolling out template changes")
    action("resume", run_resume, "roll out again after a pause")


# --- the Deployment and its ReplicaSets ----------------------------------------------------


def _deployment_name(args: argparse.Namespace) -> str:
    res, name = split_target(args.target)
    if res.kind != "Deployment":
        raise CliError(f'rollout works on deployments (deployment/NAME), not on "{res.plural}"')
    return name


def _display(name: str) -> str:
    return f"deployment.apps/{name}"


async def _get(session: Session, name: str) -> dict[str, Any]:
    return await session.request("GET", resource_path(_deployments(), session.namespace, name))


def _deployments() -> Resource:
    return find_resource("deployments")


async def _patch(session: Session, name: str, body: Any, content_type: str) -> dict[str, Any]:
    path = resource_path(_deployments(), session.namespace, name)
    return await session.request("PATCH", path, body=body, content_type=content_type)


async def _history(session: Session, deployment: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """The Deployment's ReplicaSets by revision."""
    uid = deployment["metadata"].get("uid")
    listed = await session.request(
        "GET", resource_path(find_resource("replicasets"), session.namespace)
    )
    revisions: dict[int, dict[str, Any]] = {}
    for rs in listed.get("items") or []:
        meta = rs.get("metadata") or {}
        owned = any(
            ref.get("controller") and ref.get("uid") == uid
            for ref in meta.get("ownerReferences") or []
        )
        revision = (meta.get("annotations") or {}).get(REVISION)
        if owned and revision and revision.isdigit():
            revisions[int(revision)] = rs
    return revisions


def _template_without_hash(rs: dict[str, Any]) -> dict[str, Any]:
    template = copy.deepcopy((rs.get("spec") or {}).get("template") or {})
    labels = (template.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(HASH_LABEL, None)
    return template


# --- the actions -------------------------------------------------------------------------


async def run_status(session: Session, args: argparse.Namespace) -> int:
    name = _deployment_name(args)
    deployment = await _get(session, name)  # NotFound: kubectl's message, at once
    if not args.watch:
        print(deployment_readiness(deployment).message)
        return 0
    timeout = parse_duration(args.timeout)
    if await rollout_status(session, session.namespace, name, timeout, sys.stdout):
        return 0
    message = "timed out waiting for the condition"
    if ((await _get(session, name)).get("spec") or {}).get("paused"):
        message += (
            f' (deployment "{name}" is paused: `navctl rollout resume deployment/{name}` '
            "rolls it out)"
        )
    raise CliError(message)


async def run_history(session: Session, args: argparse.Namespace) -> int:
    name = _deployment_name(args)
    deployment = await _get(session, name)
    history = await _history(session, deployment)
    if args.revision:
        rs = history.get(args.revision)
        if rs is None:
            raise CliError(f"unable to find the specified revision {args.revision}")
        print(f"{_display(name)} with revision #{args.revision}")
        print(describe_template(_template_without_hash(rs)), end="")
        return 0
    if not history:
        print(f'No rollout history found in deployment "{name}"')
        return 0
    print(f"{_display(name)} ")
    print(f"{'REVISION':<10}CHANGE-CAUSE")
    for revision in sorted(history):
        cause = ((history[revision]["metadata"].get("annotations") or {}).get(CHANGE_CAUSE)) or (
            "<none>"
        )
        print(f"{revision:<10}{cause}")
    print()
    return 0


async def run_undo(session: Session, args: argparse.Namespace) -> int:
    name = _deployment_name(args)
    deployment = await _get(session, name)
    if (deployment.get("spec") or {}).get("paused"):
        raise CliError(
            "you cannot rollback a paused deployment; resume it first with "
            f"`navctl rollout resume deployment/{name}` and try again"
        )
    history = await _history(session, deployment)
    wanted = args.to_revision
    if wanted == 0:
        if len(history) < 2:
            raise CliError(f'no rollout history found for deployment "{name}"')
        wanted = sorted(history)[-2]
    rs = history.get(wanted)
    if rs is None:
        raise CliError(f"unable to find specified revision {wanted} in history")
    template = _template_without_hash(rs)
    if template == (deployment.get("spec") or {}).get("template"):
        matches = f"current template already matches revision {wanted}"
        print(f"{_display(name)} skipped rollback ({matches})")
        return 0
    annotations = dict(deployment["metadata"].get("annotations") or {})
    for key, value in (rs["metadata"].get("annotations") or {}).items():
        if key not in NOT_COPIED:
            annotations[key] = value
    patch = [
        {
            "op": "test",
            "path": "/metadata/resourceVersion",
            "value": deployment["metadata"]["resourceVersion"],
        },
        {"op": "replace", "path": "/spec/template", "value": template},
        {
            "op": "replace" if "annotations" in deployment["metadata"] else "add",
            "path": "/metadata/annotations",
            "value": annotations,
        },
    ]
    await _patch(session, name, patch, JSON_PATCH)
    print(f"{_display(name)} rolled back")
    return 0


async def run_restart(session: Session, args: argparse.Namespace) -> int:
    name = _deployment_name(args)
    deployment = await _get(session, name)
    if (deployment.get("spec") or {}).get("paused"):
        raise CliError(
            f"can't restart paused deployment (run `navctl rollout resume deployment/{name}` first)"
        )
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}
    await _patch(session, name, body, STRATEGIC_PATCH)
    print(f"{_display(name)} restarted")
    return 0


async def _set_paused(session: Session, args: argparse.Namespace, paused: bool) -> int:
    name = _deployment_name(args)
    deployment = await _get(session, name)
    if bool((deployment.get("spec") or {}).get("paused")) == paused:
        state = "already paused" if paused else "not paused"
        raise CliError(f'deployments.apps "{name}" is {state}')
    await _patch(session, name, {"spec": {"paused": paused or None}}, MERGE_PATCH)
    print(f"{_display(name)} {'paused' if paused else 'resumed'}")
    return 0


async def run_pause(session: Session, args: argparse.Namespace) -> int:
    return await _set_paused(session, args, True)


async def run_resume(session: Session, args: argparse.Namespace) -> int:
    return await _set_paused(session, args, False)


# --- a pod template, as kubectl describe shows one -----------------------------------------


def describe_template(template: dict[str, Any]) -> str:
    """The parts of a pod template a person compares between revisions."""
    meta, spec = template.get("metadata") or {}, template.get("spec") or {}
    lines = ["Pod Template:"]
    lines += _pairs("  Labels:", meta.get("labels"))
    lines += _pairs("  Annotations:", meta.get("annotations"))
    lines.append("  Containers:")
    for container in spec.get("containers") or []:
        lines.append(f"   {container.get('name')}:")
        lines.append(f"    Image:\t{container.get('image', '<none>')}")
        ports = [
            f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}"
            for p in container.get("ports") or []
        ]
        lines.append(f"    Port:\t{', '.join(ports) or '<none>'}")
        if container.get("command"):
            lines.append("    Command:")
            lines += [f"      {word}" for word in container["command"]]
        if container.get("args"):
            lines.append("    Args:")
            lines += [f"      {word}" for word in container["args"]]
        env = container.get("env") or []
        if env:
            lines.append("    Environment:")
            lines += [f"      {e.get('name')}:\t{e.get('value', '')}" for e in env]
        else:
            lines.append("    Environment:\t<none>")
    volumes = [v.get("name") for v in spec.get("volumes") or []]
    lines.append(f"  Volumes:\t{', '.join(volumes) or '<none>'}")
    return "\n".join(lines) + "\n\n"


def _pairs(title: str, values: dict[str, str] | None) -> list[str]:
    if not values:
        return [f"{title}\t<none>"]
    items = [f"{key}={value}" for key, value in sorted(values.items())]
    return [f"{title}\t{items[0]}", *(f"\t{item}" for item in items[1:])]
