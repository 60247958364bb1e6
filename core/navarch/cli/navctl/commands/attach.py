"""``navctl attach [-i] [-t] POD [-c CONTAINER]``: the container's own process — its
output from now on and, with ``-i``, our stdin as its input — through the API
server's ``pods/attach`` WebSocket: the remote-command protocol and session of
``navctl exec`` (its ``stream_session``), pointed at another subresource.

The session ends when the container exits (navctl then exits 0, as kubectl does
whatever the container's code); our stdin ending closes the container's input only
when it was created with ``stdinOnce``. The container must have been created with
``stdin: true`` for ``-i`` and ``tty: true`` for ``-t``.
"""

from __future__ import annotations

import argparse
import sys

from navarch.cli.navctl.arguments import split_target
from navarch.cli.navctl.commands.exec import (
    PROTOCOLS,
    only_container,
    raw_terminal,
    stream_session,
)
from navarch.cli.navctl.commands.logs import pod_of
from navarch.cli.navctl.failures import CliError
from navarch.cli.navctl.session import Session, add_command, find_resource, resource_path
from navarch.client.errors import ApiException


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands, "attach", run, help="attach to a running container's own process"
    )
    parser.add_argument("-i", "--stdin", action="store_true", help="send our stdin to it")
    parser.add_argument("-t", "--tty", action="store_true", help="its terminal (tty: true)")
    parser.add_argument(
        "-c", "--container", default="", help="the container (default: the only one)"
    )
    parser.add_argument("target", metavar="POD", help="POD, pod/NAME or deploy/NAME")


async def run(session: Session, args: argparse.Namespace) -> int:
    import aiohttp

    res, name = split_target([args.target], default="pods")
    if res.kind != "Pod":
        name = await pod_of(session, res.kind, name)
    pods = find_resource("pods")
    pod = await session.request("GET", resource_path(pods, session.namespace, name))
    container = args.container or only_container(pod)
    tty_wanted = args.tty and sys.stdin.isatty()
    if args.tty and not tty_wanted:
        print(
            "Unable to use a TTY - input is not a terminal or the right kind of file",
            file=sys.stderr,
        )
    params = [("container", container), ("stdout", "true")]
    params += [("stdin", "true")] if args.stdin else []
    params += [("tty", "true")] if tty_wanted else [("stderr", "true")]
    path = resource_path(pods, session.namespace, name, "attach")
    try:
        ws = await session.client.session().ws_connect(
            path,
            params=params,
            protocols=PROTOCOLS,
            max_msg_size=0,
            timeout=aiohttp.ClientWSTimeout(ws_close=10.0),
        )
    except aiohttp.WSServerHandshakeError as exc:
        raise CliError(
            f"the API server refused the attach: HTTP {exc.status} {exc.message}"
        ) from None
    except (aiohttp.ClientConnectionError, OSError, TimeoutError) as exc:
        raise ApiException(
            503,
            {
                "reason": "ServiceUnavailable",
                "message": f"cannot reach {session.config.server}: {exc!r}",
            },
        ) from exc
    async with ws:
        with raw_terminal(tty_wanted):
            return await stream_session(ws, stdin=args.stdin, tty=tty_wanted)
