"""``navctl``: the Navarch client (kubectl's role).

Every command lives in a module of :mod:`navarch.cli.navctl.commands`, found by
name, with a ``register(commands)`` function that adds its parsers through
:func:`navarch.cli.navctl.session.add_command`. A command is a coroutine
``run(session, args) -> exit code``; errors a user can act on are raised as
:class:`~navarch.cli.navctl.failures.CliError` or come from the API server as
``ApiException`` and become one line on stderr, exit status 1 (kubectl's).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from navarch.cli.navctl import commands as commands_package
from navarch.cli.navctl.session import add_global_flags, dispatch


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="navctl",
        description="Deploy and manage workloads on a Navarch cluster (kubectl's verbs; "
        "the same kubeconfig).",
    )
    add_global_flags(parser)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in sorted(pkgutil.iter_modules(commands_package.__path__), key=lambda m: m.name):
        importlib.import_module(f"{commands_package.__name__}.{module.name}").register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    # What follows "--" is a container's command (exec, create deployment), parsed by
    # no one: argparse's own "--" handling does not reach into subcommands.
    after: list[str] = []
    if "--" in words:
        at = words.index("--")
        words, after = words[:at], words[at + 1 :]
    try:
        args = parser.parse_args(words)
        if after and not getattr(args, "takes_command", False):
            parser.error(f"unexpected arguments after --: {' '.join(after)}")
    except SystemExit as exc:  # argparse: 2 for a bad flag; kubectl says 1
        return 1 if exc.code == 2 else int(exc.code or 0)
    if after:
        args.command = [*args.command, *after]
    return dispatch(args)


if __name__ == "__main__":
    raise SystemExit(main())
