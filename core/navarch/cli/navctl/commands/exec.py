"""``navctl exec [-i] [-t] POD [-c CONTAINER] -- COMMAND [ARG...]``: run a command in a
running container, through the API server's ``pods/exec`` WebSocket (which it relays
to the agent of the pod's node; :mod:`navarch.apiserver.podproxy`).

The remote-command protocol (``v5.channel.k8s.io``, else ``v4``): each binary message
starts with its channel — 0 stdin, 1 stdout, 2 stderr, 3 error (a Status when the
command ends: ``Success``, or ``NonZeroExitCode`` with the code in
``details.causes``), 4 resize (``{"Width": w, "Height": h}``) and, in v5 only, 255
close (``[255, 0]``: our stdin ended). navctl exits with the remote command's code.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import stat
import sys
import termios
import tty
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson

from navarch.cli.navctl.arguments import split_target
from navarch.cli.navctl.commands.logs import pod_of
from navarch.cli.navctl.failures import CliError, describe_api_error
from navarch.cli.navctl.session import Session, add_command, find_resource, resource_path
from navarch.client.errors import ApiException

if TYPE_CHECKING:
    import aiohttp

# aiohttp is imported by the functions that use it: `navctl --help` imports this module.

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
READ_SIZE = 64 * 1024


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands, "exec", run, help="run a command in a container (-it: an interactive shell)"
    )
    parser.add_argument("-i", "--stdin", action="store_true", help="send our stdin to the command")
    parser.add_argument("-t", "--tty", action="store_true", help="give the command a terminal")
    parser.add_argument(
        "-c", "--container", default="", help="the container (default: the only one)"
    )
    parser.add_argument("target", metavar="POD", help="POD, pod/NAME or deploy/NAME")
    parser.add_argument(
        "command", nargs="*", metavar="-- COMMAND", help="the command and arguments"
    )
    parser.set_defaults(takes_command=True)


async def run(session: Session, args: argparse.Namespace) -> int:
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise CliError("you must specify at least one command for the container (after --)")
    return await stream_to_pod(session, args, "exec", command)


async def stream_to_pod(
    session: Session, args: argparse.Namespace, subresource: str, command: list[str]
) -> int:
    """``exec`` (``command``) or ``attach`` (none) on ``args.target``'s container: the
    pod resolved from a workload, the terminal asked for, the WebSocket streams copied
    both ways until the remote side ends; the remote exit code."""
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
    params: list[tuple[str, str]] = [("command", word) for word in command]
    params += [("container", container), ("stdout", "true")]
    params += [("stdin", "true")] if args.stdin else []
    params += [("tty", "true")] if tty_wanted else [("stderr", "true")]
    path = resource_path(pods, session.namespace, name, subresource)
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
            f"the API server refused the {subresource}: HTTP {exc.status} {exc.message}"
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


def only_container(pod: dict[str, Any]) -> str:
    names = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
    if len(names) == 1:
        return names[0]
    raise CliError(
        f"a container name must be specified for pod {pod['metadata']['name']}, "
        f"choose one of: [{' '.join(names)}] (use -c CONTAINER)"
    )


@contextlib.contextmanager
def raw_terminal(enabled: bool) -> Iterator[None]:
    """Our terminal in raw mode while the remote one is in charge (keys go through as
    typed, Ctrl-C included); restored however the session ends."""
    if not enabled:
        yield
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd, termios.TCSANOW)  # not TCSAFLUSH: keep what was typed ahead
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


async def stream_session(ws: aiohttp.ClientWebSocketResponse, *, stdin: bool, tty: bool) -> int:
    v5 = ws.protocol == "v5.channel.k8s.io"
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Future[Any]] = []
    if tty:
        # The size first: the agent applies messages in order, so what we type next
        # already meets a terminal of our size.
        await _send_size(ws)
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(
                signal.SIGWINCH, lambda: tasks.append(asyncio.ensure_future(_send_size(ws)))
            )
    if stdin:
        tasks.append(asyncio.ensure_future(_send_stdin(ws, v5)))
    try:
        return await _receive(ws)
    finally:
        if tty:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGWINCH)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def _receive(ws: aiohttp.ClientWebSocketResponse) -> int:
    """Write stdout and stderr as they come; the exit code from the error channel."""
    import aiohttp

    code: int | None = None
    async for message in ws:
        if message.type != aiohttp.WSMsgType.BINARY or not message.data:
            continue
        channel, data = message.data[0], message.data[1:]
        if channel == STDOUT:
            _write(sys.stdout, data)
        elif channel == STDERR:
            _write(sys.stderr, data)
        elif channel == ERROR:
            code = _exit_code(data)
    if code is None:
        raise CliError("the exec stream ended without the command's exit status")
    return code


def _write(stream: Any, data: bytes) -> None:
    stream.buffer.write(data)
    stream.buffer.flush()


def _exit_code(data: bytes) -> int:
    """The remote command's exit code from its Status; other failures are printed."""
    try:
        status = orjson.loads(data)
    except orjson.JSONDecodeError:
        print(f"error: {data.decode(errors='replace')}", file=sys.stderr)
        return 1
    if status.get("status") == "Success":
        return 0
    if status.get("reason") == "NonZeroExitCode":
        for cause in (status.get("details") or {}).get("causes") or []:
            if cause.get("reason") == "ExitCode":
                code = int(cause.get("message") or 1)
                print(f"command terminated with exit code {code}", file=sys.stderr)
                return code
    print(describe_api_error(ApiException(int(status.get("code") or 500), status)), file=sys.stderr)
    return 1


async def _send_stdin(ws: aiohttp.ClientWebSocketResponse, v5: bool) -> None:
    """Our stdin to channel 0 until it ends; then, in v5, say so (close channel 0)."""
    fd = sys.stdin.fileno()
    async for chunk in _read_chunks(fd):
        await ws.send_bytes(bytes([STDIN]) + chunk)
    if v5:
        await ws.send_bytes(bytes([CLOSE, STDIN]))


async def _read_chunks(fd: int) -> Any:
    """Chunks of a file descriptor as they arrive. A regular file cannot be waited on
    (epoll refuses it) and never blocks, so it is read straight through."""
    if stat.S_ISREG(os.fstat(fd).st_mode):
        while chunk := os.read(fd, READ_SIZE):
            yield chunk
        return
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes] = asyncio.Queue()

    def readable() -> None:
        try:
            chunk = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            loop.remove_reader(fd)
        queue.put_nowait(chunk)

    try:
        loop.add_reader(fd, readable)
    except PermissionError:  # /dev/null and the like: epoll refuses them, reads never block
        while chunk := os.read(fd, READ_SIZE):
            yield chunk
        return
    try:
        while chunk := await queue.get():
            yield chunk
    finally:
        loop.remove_reader(fd)


async def _send_size(ws: aiohttp.ClientWebSocketResponse) -> None:
    size = shutil.get_terminal_size()
    payload = orjson.dumps({"Width": size.columns, "Height": size.lines})
    await ws.send_bytes(bytes([RESIZE]) + payload)
