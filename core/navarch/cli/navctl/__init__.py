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
import sys
from typing import NoReturn

from navarch.cli.navctl import commands as commands_package
from navarch.cli.navctl.session import add_global_flags, dispatch


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """navctl's parser: with ``verb``, only that verb's module is imported and
    registered (a run needs no other); without, every verb (help, completion)."""
    parser = argparse.ArgumentParser(
        prog="navctl",
        description="Deploy and manage workloads on a Navarch cluster (kubectl's verbs; "
        "the same kubeconfig).",
    )
    add_global_flags(parser)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    module = commands_package.module_of(verb) if verb else None
    if module is not None:
        importlib.import_module(module).register(commands)
        return parser
    import pkgutil  # here: a run with a verb does not list the modules

    for found in sorted(pkgutil.iter_modules(commands_package.__path__), key=lambda m: m.name):
        importlib.import_module(f"{commands_package.__name__}.{found.name}").register(commands)
    return parser


class _NotUnderstood(Exception):
    pass


class _VerbFinder(argparse.ArgumentParser):
    """Reads the global flags exactly as the real parser does, to find the verb."""

    def error(self, message: str) -> NoReturn:
        raise _NotUnderstood(message)


def verb_of(words: list[str]) -> str | None:
    """The verb in ``words`` (``navctl -n prod get pods`` -> ``get``); None when there is
    none or the global flags are wrong (the whole parser then says what is wrong)."""
    finder = _VerbFinder(add_help=False)
    add_global_flags(finder)
    finder.add_argument("-h", "--help", action="store_true")
    finder.add_argument("verb", nargs="?")
    finder.add_argument("rest", nargs=argparse.REMAINDER)
    try:
        found, _ = finder.parse_known_args(words)
    except _NotUnderstood:
        return None
    return None if found.help else found.verb  # navctl -h get: the help of every verb


def main(argv: list[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    # What follows "--" is a container's command (exec, create deployment), parsed by
    # no one: argparse's own "--" handling does not reach into subcommands.
    after: list[str] = []
    if "--" in words:
        at = words.index("--")
        words, after = words[:at], words[at + 1 :]
    parser = build_parser(verb_of(words))
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
