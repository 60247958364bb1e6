"""``navctl rollout status|history|undo|restart TYPE/NAME`` of Deployments, DaemonSets
and StatefulSets; ``pause|resume`` of Deployments (kubectl pauses nothing else).

status follows the kind's rule in :mod:`navarch.cli.navctl.progress` (kubectl's status
viewers). history and undo read the revisions :mod:`navarch.cli.navctl.revisions`
finds: a Deployment's ReplicaSets, a DaemonSet's or StatefulSet's ControllerRevisions.
``undo`` works as kubectl's client-side rollback: the chosen revision's pod template
goes back into the object (a Deployment also takes the ReplicaSet's annotations); the
controller then makes that revision the newest again. ``restart`` sets kubectl's
``restartedAt`` annotation on the pod template, which every one of these controllers
rolls out as a new template.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from navarch.cli.navctl.arguments import parse_bool, parse_duration, split_target
from navarch.cli.navctl.failures import CliError
from navarch.cli.navctl.printing import object_name
from navarch.cli.navctl.session import (
    Session,
    add_command,
    add_subcommand_group,
    resource_path,
)

if TYPE_CHECKING:
    from navarch.resources.spec import Resource

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"

# What rollout works on, by API group and kind (as kubectl's status viewers and
# rollbackers: a plugin's kind of the same name in another group is not one of them).
ROLLOUT_KINDS = {("apps", "Deployment"), ("apps", "DaemonSet"), ("apps", "StatefulSet")}
PAUSABLE_KINDS = {("apps", "Deployment")}


def register(commands: argparse._SubParsersAction) -> None:
    actions = add_subcommand_group(
        commands,
        "rollout",
        help="manage the rollouts of deployments, daemonsets and statefulsets (status, …)",
    )

    def action(
        name: str, run: Any, help: str, kinds: str = "deployment|daemonset|statefulset"
    ) -> argparse.ArgumentParser:
        parser = add_command(actions, name, run, help=help)
        parser.add_argument(
            "target", nargs="+", metavar="TYPE/NAME", help=f"({kinds})/NAME or TYPE NAME"
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
    action("pause", run_pause, "stop rolling out template changes", "deployment")
    action("resume", run_resume, "roll out again after a pause", "deployment")


# --- the object --------------------------------------------------------------------------


def _target(
    args: argparse.Namespace, kinds: set[tuple[str, str]] = ROLLOUT_KINDS
) -> tuple[Resource, str]:
    res, name = split_target(args.target)
    if (res.group, res.kind) not in kinds:
        if kinds == ROLLOUT_KINDS:
            what = "rollout works on deployments, daemonsets and statefulsets (TYPE/NAME)"
        else:
            what = f"rollout {args.rollout_action} works on deployments only"
        raise CliError(f'{what}, not on "{res.plural}"')
    return res, name


async def _get(session: Session, res: Resource, name: str) -> dict[str, Any]:
    obj = await session.request("GET", resource_path(res, session.namespace, name))
    return {"apiVersion": res.group_version, "kind": res.kind, **obj}


async def _patch(
    session: Session, res: Resource, name: str, body: Any, content_type: str
) -> dict[str, Any]:
    path = resource_path(res, session.namespace, name)
    return await session.request("PATCH", path, body=body, content_type=content_type)


def _paused(obj: dict[str, Any]) -> bool:
    return bool((obj.get("spec") or {}).get("paused"))


# --- the actions -------------------------------------------------------------------------


async def run_status(session: Session, args: argparse.Namespace) -> int:
    from navarch.cli.navctl.progress import RULES, rollout_status

    res, name = _target(args)
    obj = await _get(session, res, name)  # NotFound: kubectl's message, at once
    if not args.watch:
        state = RULES[(res.group, res.kind)](obj)
        if state.failed:
            raise CliError(state.message)
        print(state.message)
        return 0
    timeout = parse_duration(args.timeout)
    if await rollout_status(session, res, session.namespace, name, timeout, sys.stdout):
        return 0
    message = "timed out waiting for the condition"
    if _paused(await _get(session, res, name)):
        message += (
            f' (deployment "{name}" is paused: `navctl rollout resume deployment/{name}` '
            "rolls it out)"
        )
    raise CliError(message)


async def run_history(session: Session, args: argparse.Namespace) -> int:
    from navarch.cli.navctl.pod_template_text import describe_template
    from navarch.cli.navctl.revisions import history

    res, name = _target(args)
    revisions = await history(session, await _get(session, res, name))
    if args.revision:
        revision = revisions.get(args.revision)
        if revision is None:
            raise CliError(f"unable to find the specified revision {args.revision}")
        print(f"{object_name(res, name)} with revision #{args.revision}")
        print(describe_template(revision.template), end="")
        return 0
    if not revisions:
        print(f'No rollout history found in {res.kind.lower()} "{name}"')
        return 0
    print(f"{object_name(res, name)} ")
    print(f"{'REVISION':<10}CHANGE-CAUSE")
    for number in sorted(revisions):
        print(f"{number:<10}{revisions[number].change_cause}")
    print()
    return 0


async def run_undo(session: Session, args: argparse.Namespace) -> int:
    from navarch.cli.navctl.revisions import history, previous

    res, name = _target(args)
    obj = await _get(session, res, name)
    if _paused(obj):
        raise CliError(
            "you cannot rollback a paused deployment; resume it first with "
            f"`navctl rollout resume deployment/{name}` and try again"
        )
    revisions = await history(session, obj)
    wanted = args.to_revision
    if wanted == 0:
        found = previous(revisions)
        if found is None:
            raise CliError(f'no rollout history found for {res.kind.lower()} "{name}"')
        wanted = found.number
    revision = revisions.get(wanted)
    if revision is None:
        raise CliError(f"unable to find specified revision {wanted} in history")
    if revision.template == (obj.get("spec") or {}).get("template"):
        matches = f"current template already matches revision {wanted}"
        print(f"{object_name(res, name)} skipped rollback ({matches})")
        return 0
    patch: list[dict[str, Any]] = [
        {
            "op": "test",
            "path": "/metadata/resourceVersion",
            "value": obj["metadata"]["resourceVersion"],
        },
        {"op": "replace", "path": "/spec/template", "value": revision.template},
    ]
    if res.kind == "Deployment":  # the ReplicaSet's annotations come back with it
        patch.append(_deployment_annotations(obj, revision.annotations))
    await _patch(session, res, name, patch, JSON_PATCH)
    print(f"{object_name(res, name)} rolled back")
    return 0


def _deployment_annotations(deployment: dict[str, Any], copied: dict[str, str]) -> dict[str, Any]:
    from navarch.controllers.deployment_history import NOT_COPIED

    annotations = dict(deployment["metadata"].get("annotations") or {})
    annotations.update({k: v for k, v in copied.items() if k not in NOT_COPIED})
    return {
        "op": "replace" if "annotations" in deployment["metadata"] else "add",
        "path": "/metadata/annotations",
        "value": annotations,
    }


async def run_restart(session: Session, args: argparse.Namespace) -> int:
    res, name = _target(args)
    obj = await _get(session, res, name)
    if _paused(obj):
        raise CliError(
            f"can't restart paused deployment (run `navctl rollout resume deployment/{name}` first)"
        )
    strategy = ((obj.get("spec") or {}).get("updateStrategy") or {}).get("type")
    if strategy == "OnDelete":  # nothing would replace the pods: kubectl refuses too
        raise CliError(f"can't restart {res.kind.lower()} {name} with OnDelete update strategy")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}
    await _patch(session, res, name, body, STRATEGIC_PATCH)
    print(f"{object_name(res, name)} restarted")
    return 0


async def _set_paused(session: Session, args: argparse.Namespace, paused: bool) -> int:
    res, name = _target(args, PAUSABLE_KINDS)
    deployment = await _get(session, res, name)
    if _paused(deployment) == paused:
        state = "already paused" if paused else "not paused"
        raise CliError(f'deployments.apps "{name}" is {state}')
    await _patch(session, res, name, {"spec": {"paused": paused or None}}, MERGE_PATCH)
    print(f"{object_name(res, name)} {'paused' if paused else 'resumed'}")
    return 0


async def run_pause(session: Session, args: argparse.Namespace) -> int:
    return await _set_paused(session, args, True)


async def run_resume(session: Session, args: argparse.Namespace) -> int:
    return await _set_paused(session, args, False)
