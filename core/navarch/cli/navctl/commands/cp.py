"""``navctl cp SRC DEST``: copy a file or directory into or out of a container, as
``kubectl cp`` does — through ``tar`` run in the container by ``pods/exec`` (so the
image needs ``tar``). A remote side is ``[NAMESPACE/]POD:PATH``.

Into the pod, the local file or directory is sent as a tar stream whose top entry is
named after DEST, to ``tar -xmf - -C <DEST's directory>`` with our end of stdin
closed after it (the v5 protocol's close message: tar sees end of input). Out of the
pod, ``tar cf - -C <SRC's directory> <SRC's name>`` is read and unpacked under DEST;
an entry that would land outside DEST (an absolute path, ``..``, a link out) is
refused, as kubectl refuses it.
"""

from __future__ import annotations

import argparse
import io
import posixpath
import sys
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from navarch.cli.navctl.commands.exec import CLOSE, ERROR, PROTOCOLS, STDERR, STDIN, STDOUT
from navarch.cli.navctl.failures import CliError
from navarch.cli.navctl.session import Session, add_command, find_resource, resource_path
from navarch.client.errors import ApiException

if TYPE_CHECKING:
    import aiohttp

CHUNK = 256 * 1024


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands, "cp", run, help="copy files into or out of a container ([NS/]POD:PATH)"
    )
    parser.add_argument(
        "-c", "--container", default="", help="the container (default: the only one)"
    )
    parser.add_argument("source", metavar="SRC", help="a local path or [NAMESPACE/]POD:PATH")
    parser.add_argument("dest", metavar="DEST", help="a local path or [NAMESPACE/]POD:PATH")


def remote(spec: str, default_namespace: str) -> tuple[str, str, str] | None:
    """``[NAMESPACE/]POD:PATH`` as (namespace, pod, path); None for a local path."""
    head, colon, path = spec.partition(":")
    if not colon or not head or head.count("/") > 1:  # at most NAMESPACE/POD
        return None
    if head.startswith((".", "/")):  # ./a:b is a local file with a colon in its name
        return None
    namespace, _, pod = head.rpartition("/")
    if not path:
        raise CliError(f"{spec!r}: give a path in the container after the colon")
    return namespace or default_namespace, pod, path


async def run(session: Session, args: argparse.Namespace) -> int:
    src = remote(args.source, session.namespace)
    dest = remote(args.dest, session.namespace)
    if (src is None) == (dest is None):
        raise CliError("one of SRC and DEST must be a container path ([NAMESPACE/]POD:PATH)")
    if dest is not None:
        local = Path(args.source)
        if not local.exists():
            raise CliError(f"{args.source}: no such file or directory")
        namespace, pod, path = dest
        path = path.rstrip("/") or "/"
        archive = _pack(local, posixpath.basename(path))
        command = ["tar", "-xmf", "-", "-C", posixpath.dirname(path) or "/"]
        await _exec(session, namespace, pod, args.container, command, archive)
        return 0
    assert src is not None
    namespace, pod, path = src
    path = path.rstrip("/") or "/"
    parent, name = posixpath.dirname(path) or "/", posixpath.basename(path)
    command = ["tar", "cf", "-", "-C", parent, name]
    archive = await _exec(session, namespace, pod, args.container, command, None)
    _unpack(archive, name, Path(args.dest))
    return 0


def _pack(local: Path, name: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(str(local), arcname=name)
    return buffer.getvalue()


def _unpack(archive: bytes, name: str, dest: Path) -> None:
    """Each entry under ``name`` goes to the same place under ``dest``."""
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r") as tar:
        members = tar.getmembers()
        if not members:
            raise CliError(f"{name}: the container sent nothing (no such file?)")
        for member in members:
            relative = posixpath.normpath(member.name)
            if relative != name and not relative.startswith(name + "/"):
                raise CliError(f"refusing {member.name!r}: not under {name}")
            rest = relative[len(name) :].lstrip("/")
            if rest.startswith("..") or posixpath.isabs(rest):
                raise CliError(f"refusing {member.name!r}: it leaves the destination")
            target = dest / rest if rest else dest
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                target.write_bytes(source.read())
                target.chmod(member.mode & 0o777)
            else:
                print(f"skipping {member.name}: not a regular file or directory", file=sys.stderr)


async def _exec(
    session: Session,
    namespace: str,
    pod: str,
    container: str,
    command: list[str],
    stdin: bytes | None,
) -> bytes:
    """Run ``command`` in the container with ``stdin`` (then its end); its stdout."""
    import aiohttp

    pods = find_resource("pods")
    params = [("command", word) for word in command] + [("stdout", "true"), ("stderr", "true")]
    params += [("container", container)] if container else []
    params += [("stdin", "true")] if stdin is not None else []
    try:
        ws = await session.client.session().ws_connect(
            resource_path(pods, namespace, pod, "exec"),
            params=params,
            protocols=PROTOCOLS,
            max_msg_size=0,
        )
    except aiohttp.WSServerHandshakeError as exc:
        raise CliError(
            f"the API server refused the exec: HTTP {exc.status} {exc.message}"
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
        if stdin is not None:
            if ws.protocol != "v5.channel.k8s.io":
                raise CliError("copying into a container needs the v5 exec protocol")
            for start in range(0, len(stdin), CHUNK):
                await ws.send_bytes(bytes([STDIN]) + stdin[start : start + CHUNK])
            await ws.send_bytes(bytes([CLOSE, STDIN]))
        return await _collect(ws, command)


async def _collect(ws: aiohttp.ClientWebSocketResponse, command: list[str]) -> bytes:
    import aiohttp

    out, err = bytearray(), bytearray()
    status: dict[str, object] | None = None
    async for message in ws:
        if message.type != aiohttp.WSMsgType.BINARY or not message.data:
            continue
        channel, data = message.data[0], message.data[1:]
        if channel == STDOUT:
            out += data
        elif channel == STDERR:
            err += data
        elif channel == ERROR:
            status = orjson.loads(data)
    if status is None or status.get("status") != "Success":
        detail = err.decode(errors="replace").strip() or (status or {}).get("message", "")
        raise CliError(f"{' '.join(command)} failed in the container: {detail}")
    return bytes(out)
