"""``navctl version``: the client's version and, when one answers, the server's."""

from __future__ import annotations

import argparse

import navarch
from navarch.cli.navctl.session import Session, add_command
from navarch.client.errors import ApiException


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(commands, "version", run, help="print the client and server versions")
    parser.add_argument(
        "--client", action="store_true", help="the client's version only (no server needed)"
    )


async def run(session: Session, args: argparse.Namespace) -> int:
    print(f"Client Version: navctl {navarch.__version__}")
    if args.client:
        return 0
    try:
        info = await session.request("GET", "/version")
    except ApiException as exc:
        print(f"Server Version: unknown ({exc.status.get('message')})")
        return 1
    print(f"Server Version: {info.get('gitVersion', '?')}")
    return 0
