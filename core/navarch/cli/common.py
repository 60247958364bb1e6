"""What every Navarch command shares: global flags, configuration, logging, errors."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from loguru import logger

from navarch.assembly import UnresolvedParts
from navarch.config import Config, ConfigError, load_config, unknown_env
from navarch.logs import configure_logging
from navarch.plugins import PluginError
from navarch.registry import DuplicateName, UnknownName
from navarch.startup import StartupError

# Errors a user can act on: printed as one clear message, exit status 2, no traceback.
USER_ERRORS = (ConfigError, PluginError, UnknownName, UnresolvedParts, DuplicateName)


def add_global_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("configuration (file < environment < flags)")
    group.add_argument(
        "--config",
        metavar="FILE",
        help="YAML configuration file (default: $NAVARCH_CONFIG, then /etc/navarch/navarch.yaml)",
    )
    group.add_argument(
        "--set",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="override one setting, e.g. --set api.port=7443 (repeatable)",
    )
    group.add_argument("--data-dir", dest="data_dir", help="data directory")
    group.add_argument("--log-level", dest="log_level", help="TRACE … CRITICAL")
    group.add_argument(
        "--log-format",
        dest="log_format",
        choices=("text", "json"),
        help="text (readable) or json (one object a line)",
    )


def config_from_args(args: argparse.Namespace) -> Config:
    flags = {"data_dir": args.data_dir, "log.level": args.log_level, "log.format": args.log_format}
    config = load_config(args.config, os.environ, args.set, flags)
    configure_logging(config["log.level"], config["log.format"])
    for name in unknown_env(os.environ):
        logger.bind(variable=name).warning("ignoring unknown NAVARCH_ environment variable")
    return config


def run_daemon(main: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> int:
    """Run ``main(stop)`` on uvloop. SIGINT or SIGTERM sets ``stop``: the daemon
    finishes what it must and returns; a second signal cancels it outright."""
    import uvloop

    async def supervise() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        task = asyncio.ensure_future(main(stop))

        def on_signal() -> None:
            if stop.is_set():
                task.cancel()
            stop.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, on_signal)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    uvloop.run(supervise())
    return 0


async def until_stopped(work: Coroutine[Any, Any, None], stop: asyncio.Event) -> None:
    """Run ``work`` until it returns or ``stop`` is set (then cancel it and wait)."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((task, stopping), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, stopping):
            pending.cancel()
        await asyncio.gather(task, stopping, return_exceptions=True)
    if task.done() and not task.cancelled() and (failure := task.exception()) is not None:
        raise failure


def run(prog: str, func: Callable[[], int]) -> int:
    """Run a command; errors a user can act on become one line on stderr:
    configuration errors exit with 2, start-up failures with 1 (docs/operations.md)."""
    try:
        return func()
    except USER_ERRORS as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
