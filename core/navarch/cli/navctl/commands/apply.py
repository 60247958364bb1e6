"""``navctl apply -f``: write manifests to the cluster (``navctl create`` is
:mod:`navarch.cli.navctl.commands.create`).

apply uses server-side apply (PATCH ``application/apply-patch+yaml`` as field manager
``navctl``, forced: the manifest is the truth, as a user running apply means it), so
the server merges and tracks ownership; whether an object was ``created``,
``configured`` or ``unchanged`` is read off its resourceVersion before and after.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from navarch.cli.navctl.failures import describe_api_error
from navarch.cli.navctl.manifests import add_file_flag, read_placed
from navarch.cli.navctl.printing import object_name
from navarch.cli.navctl.progress import wait_ready
from navarch.cli.navctl.session import Session, add_command, resource_path
from navarch.client import ApiException

if TYPE_CHECKING:
    from navarch.resources.spec import Resource

APPLY_PATCH = "application/apply-patch+yaml"
FIELD_MANAGER = "navctl"
DEFAULT_WAIT_TIMEOUT = 300.0


def register(commands: argparse._SubParsersAction) -> None:
    apply = add_command(
        commands, "apply", run_apply, help="create or update objects from manifests (-f)"
    )
    add_file_flag(apply, required=True)
    apply.add_argument(
        "--wait",
        action="store_true",
        help="then wait until the applied Deployments, DaemonSets, StatefulSets, ReplicaSets "
        "and Pods are ready",
    )
    apply.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_WAIT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long --wait waits (default {DEFAULT_WAIT_TIMEOUT:.0f})",
    )


# --- apply -------------------------------------------------------------------------------------


async def run_apply(session: Session, args: argparse.Namespace) -> int:
    failed = False
    applied: list[dict[str, Any]] = []
    for doc, res, ns, obj in read_placed(session, args.filename):
        try:
            outcome, written = await apply_one(session, res, ns, obj)
        except ApiException as exc:
            print(f"{describe_api_error(exc)} (from {doc.where})", file=sys.stderr)
            failed = True
            continue
        print(f"{object_name(res, doc.name)} {outcome}")
        applied.append(written)
    if args.wait and applied:
        sys.stdout.flush()
        if not await wait_ready(session, applied, args.timeout):
            failed = True
    return 1 if failed else 0


async def apply_one(
    session: Session, res: Resource, ns: str | None, obj: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Server-side apply of one object: ``created``, ``configured`` or ``unchanged``,
    and the object as written."""
    name = obj["metadata"]["name"]
    path = resource_path(res, ns, name)
    before = None
    try:
        current = await session.request("GET", path)
        before = (current.get("metadata") or {}).get("resourceVersion")
    except ApiException as exc:
        if exc.code != 404:
            raise
    written = await session.request(
        "PATCH",
        path,
        body=obj,
        params={"fieldManager": FIELD_MANAGER, "force": "true"},
        content_type=APPLY_PATCH,
    )
    after = (written.get("metadata") or {}).get("resourceVersion")
    if before is None:
        return "created", written
    return ("unchanged" if after == before else "configured"), written
