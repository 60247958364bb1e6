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

from navarch.cli.navctl.commands.exec import stream_to_pod
from navarch.cli.navctl.session import Session, add_command


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
    return await stream_to_pod(session, args, "attach", [])
