"""``navctl delete``: objects named by manifests (-f), by TYPE NAME… or TYPE/NAME…, by
label (-l) or all of a type (--all); then, as kubectl, wait until they are gone."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import TYPE_CHECKING, Any

import attrs

from navarch.cli.navctl.arguments import parse_bool, parse_duration
from navarch.cli.navctl.failures import CliError, describe_api_error
from navarch.cli.navctl.manifests import add_file_flag, read_placed
from navarch.cli.navctl.printing import qualified_kind
from navarch.cli.navctl.session import Session, add_command, resource_path
from navarch.cli.navctl.targets import list_params, parse_targets
from navarch.client import ApiException

if TYPE_CHECKING:
    from navarch.resources.spec import Resource

CASCADE = {
    "background": "Background",
    "foreground": "Foreground",
    "orphan": "Orphan",
    "true": "Background",  # kubectl's older spellings
    "false": "Orphan",
}
POLL_SECONDS = 0.25


@attrs.frozen
class Victim:
    """One object to delete, with the uid it had, so that the wait does not mistake a
    replacement of the same name (a ReplicaSet's new pod) for the old one lingering."""

    res: Resource
    namespace: str | None
    name: str
    uid: str = ""

    @property
    def path(self) -> str:
        return resource_path(self.res, self.namespace, self.name)

    @property
    def label(self) -> str:
        """kubectl's ``deployment.apps "web"``."""
        return f'{qualified_kind(self.res)} "{self.name}"'


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(commands, "delete", run, help="delete objects (and wait until gone)")
    parser.add_argument(
        "words", nargs="*", metavar="TYPE [NAME…] | TYPE/NAME…", help="what to delete"
    )
    add_file_flag(parser, required=False)
    parser.add_argument("-l", "--selector", help="delete the objects with these labels")
    parser.add_argument("--field-selector", help="delete the objects matching these fields")
    parser.add_argument(
        "--all", action="store_true", help="delete every object of the type in the namespace"
    )
    parser.add_argument(
        "-A", "--all-namespaces", action="store_true", help="with -l or --all: in every namespace"
    )
    parser.add_argument(
        "--grace-period",
        type=int,
        metavar="SECONDS",
        help="seconds a pod gets to stop (default: its own terminationGracePeriodSeconds)",
    )
    parser.add_argument(
        "--now", action="store_true", help="stop at once (same as --grace-period=1)"
    )
    parser.add_argument(
        "--cascade",
        default="background",
        choices=sorted(CASCADE),
        help="what happens to dependents: background (default), foreground, orphan",
    )
    parser.add_argument(
        "--wait",
        type=parse_bool,
        nargs="?",
        const=True,
        default=True,
        metavar="BOOL",
        help="wait until the objects are gone (default true; --wait=false returns at once)",
    )
    parser.add_argument(
        "--timeout",
        type=parse_duration,
        default=60.0,
        metavar="DURATION",
        help="how long --wait waits (30s, 5m; default 60s)",
    )


async def run(session: Session, args: argparse.Namespace) -> int:
    victims = await _victims(session, args)
    options = delete_options(args)
    failed = False
    deleted: list[Victim] = []
    for victim in victims:
        try:
            answer = await session.request("DELETE", victim.path, body=options)
        except ApiException as exc:
            print(describe_api_error(exc), file=sys.stderr)
            failed = True
            continue
        print(f"{victim.label} deleted")
        uid = victim.uid or str(((answer or {}).get("metadata") or {}).get("uid") or "")
        deleted.append(attrs.evolve(victim, uid=uid))
    if args.wait and deleted:
        sys.stdout.flush()
        if not await wait_gone(session, deleted, args.timeout):
            failed = True
    return 1 if failed else 0


def delete_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "propagationPolicy": CASCADE[args.cascade],
    }
    grace = 1 if args.now else args.grace_period
    if grace is not None:
        if grace < 0:
            raise CliError("--grace-period must be 0 or more seconds")
        options["gracePeriodSeconds"] = grace
    return options


async def _victims(session: Session, args: argparse.Namespace) -> list[Victim]:
    if args.filename:
        if args.words or args.all or args.selector:
            raise CliError("give either -f FILE or TYPE/NAME (with -l or --all), not both")
        return [
            Victim(res, ns, doc.name) for doc, res, ns, _ in read_placed(session, args.filename)
        ]
    if not args.words:
        raise CliError(
            "you must name what to delete: TYPE NAME…, TYPE/NAME…, TYPE -l SELECTOR, "
            "TYPE --all or -f FILE"
        )
    victims: list[Victim] = []
    for target in parse_targets(args.words):
        ns = None if not target.res.namespaced else session.namespace
        if target.names:
            if args.all or args.selector:
                raise CliError("names cannot be given together with -l or --all")
            victims += [Victim(target.res, ns, name) for name in target.names]
            continue
        if not (args.all or args.selector or args.field_selector):
            raise CliError(
                f"resource(s) were provided, but no name was specified: give "
                f'"{target.res.plural} NAME", -l SELECTOR or --all'
            )
        listed = await session.request(
            "GET",
            resource_path(target.res, None if args.all_namespaces else ns),
            params=list_params(args),
        )
        for item in listed.get("items") or []:
            metadata = item.get("metadata") or {}
            namespace = metadata.get("namespace") if target.res.namespaced else None
            victims.append(
                Victim(target.res, namespace, metadata.get("name", ""), metadata.get("uid", ""))
            )
    if not victims:
        print("No resources found", file=sys.stderr)
    return victims


async def wait_gone(session: Session, victims: list[Victim], timeout: float) -> bool:
    """Until every object is gone (or a new one holds its name); False, naming those
    still there, when ``timeout`` runs out."""
    deadline = time.monotonic() + timeout
    waiting = list(victims)
    while waiting:
        still = []
        for victim in waiting:
            try:
                obj = await session.request("GET", victim.path)
            except ApiException as exc:
                if exc.code == 404:
                    continue
                raise
            if not victim.uid or (obj.get("metadata") or {}).get("uid") == victim.uid:
                still.append(victim)
        waiting = still
        if not waiting:
            return True
        if time.monotonic() >= deadline:
            names = ", ".join(v.label for v in waiting)
            print(
                f"error: timed out after {timeout:g}s waiting for {names} to be deleted "
                "(it may still go: a pod waits for its grace period and its node; "
                "--timeout to wait longer, --wait=false not to wait)",
                file=sys.stderr,
            )
            return False
        await asyncio.sleep(POLL_SECONDS)
    return True
