"""``navctl``: the Navarch client (kubectl's role).

Workload commands (get, apply, delete, scale, logs …) arrive with the API server;
this entry point is already installed so scripts can rely on its name.
"""

from __future__ import annotations

import argparse

from navarch import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="navctl", description="Manage workloads on Navarch.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("version", help="print the client version")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "version":
        print(f"navctl {__version__}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
