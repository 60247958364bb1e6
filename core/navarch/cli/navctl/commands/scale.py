"""``navctl scale``: set the replicas of Deployments, ReplicaSets or StatefulSets (any
kind with a ``scale`` subresource) through that subresource (what kubectl and
autoscalers use: it touches nothing else)."""

from __future__ import annotations

import argparse
import sys

from navarch.cli.navctl.failures import CliError, describe_api_error
from navarch.cli.navctl.printing import object_name
from navarch.cli.navctl.session import Session, add_command, resource_path
from navarch.cli.navctl.targets import single_target
from navarch.client import ApiException

MERGE_PATCH = "application/merge-patch+json"


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        "scale",
        run,
        help="set the number of replicas of deployments, replicasets or statefulsets",
    )
    parser.add_argument("words", nargs="+", metavar="TYPE NAME… | TYPE/NAME…")
    parser.add_argument("--replicas", type=int, required=True, help="the new number of replicas")
    parser.add_argument(
        "--current-replicas",
        type=int,
        help="only if the current number of replicas is this (a precondition)",
    )


async def run(session: Session, args: argparse.Namespace) -> int:
    res, names = single_target(args.words, "scale")
    if "scale" not in res.subresources:
        from navarch.resources.registry import registry

        scalable = ", ".join(r.plural for r in registry() if "scale" in r.subresources)
        raise CliError(f"{res.plural} cannot be scaled (only {scalable} have replicas)")
    if not names:
        raise CliError(f"give the {res.plural} to scale: NAME… or TYPE/NAME…")
    if args.replicas < 0:
        raise CliError("--replicas must be 0 or more")
    failed = False
    for name in names:
        path = resource_path(res, session.namespace, name, "scale")
        try:
            if args.current_replicas is not None:
                scale = await session.request("GET", path)
                current = (scale.get("spec") or {}).get("replicas", 0)
                if current != args.current_replicas:
                    print(
                        f"error: expected replicas to be {args.current_replicas}, "
                        f"was {current} ({object_name(res, name)})",
                        file=sys.stderr,
                    )
                    failed = True
                    continue
            await session.request(
                "PATCH", path, body={"spec": {"replicas": args.replicas}}, content_type=MERGE_PATCH
            )
        except ApiException as exc:
            print(describe_api_error(exc), file=sys.stderr)
            failed = True
            continue
        print(f"{object_name(res, name)} scaled")
    return 1 if failed else 0
