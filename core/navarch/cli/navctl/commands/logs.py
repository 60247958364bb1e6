"""``navctl logs POD|TYPE/NAME [-c CONTAINER] [-f] [--tail N] [--previous] [--since 5m]
[--timestamps]``: a container's output through the API server's ``pods/log``, which
proxies to the agent of the pod's node (:mod:`navarch.apiserver.podproxy`).

For a Deployment or a ReplicaSet the logs are those of one of its pods (kubectl's
choice: a running, ready one first, then the oldest). A pod with several containers
needs ``-c``: the server's answer lists them.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from navarch.cli.navctl.arguments import parse_duration, split_target
from navarch.cli.navctl.failures import CliError
from navarch.cli.navctl.session import Session, add_command, find_resource, resource_path
from navarch.client.errors import ApiException, from_status


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(commands, "logs", run, help="print a container's logs (-f follows them)")
    parser.add_argument(
        "target", nargs="+", metavar="POD", help="POD, pod/NAME, deploy/NAME or rs/NAME"
    )
    parser.add_argument("-c", "--container", default="", help="the container (needed when several)")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    parser.add_argument(
        "--tail", type=int, default=-1, help="only the last N lines (default -1: all)"
    )
    parser.add_argument(
        "-p", "--previous", action="store_true", help="the previous (restarted) instance's logs"
    )
    parser.add_argument("--since", default="", help="only newer than this (5s, 2m, 3h)")
    parser.add_argument(
        "--timestamps", action="store_true", help="start each line with its RFC 3339 time"
    )


def log_params(args: argparse.Namespace) -> dict[str, str]:
    params: dict[str, str] = {}
    if args.container:
        params["container"] = args.container
    for flag in ("follow", "previous", "timestamps"):
        if getattr(args, flag):
            params[flag] = "true"
    if args.tail >= 0:
        params["tailLines"] = str(args.tail)
    if args.since:
        seconds = parse_duration(args.since)
        params["sinceSeconds"] = str(max(1, int(seconds + 0.999)))
    return params


async def run(session: Session, args: argparse.Namespace) -> int:
    res, name = split_target(args.target, default="pods")
    if res.kind != "Pod":
        name = await pod_of(session, res.kind, name)
    path = resource_path(find_resource("pods"), session.namespace, name, "log")
    await stream_to(session, path, log_params(args), sys.stdout.buffer)
    return 0


async def stream_to(session: Session, path: str, params: dict[str, str], out: Any) -> None:
    """Copy a text stream from the server as it comes (no read timeout: ``-f`` waits)."""
    import aiohttp  # here, not above: `navctl --help` imports this module

    timeout = aiohttp.ClientTimeout(total=None, sock_connect=session.timeout, sock_read=None)
    try:
        async with session.client.session().get(path, params=params, timeout=timeout) as response:
            if response.status >= 400:
                raise from_status(response.status, _status(response.status, await response.read()))
            async for chunk in response.content.iter_any():
                out.write(chunk)
                out.flush()
    except (aiohttp.ClientConnectionError, TimeoutError) as exc:
        raise ApiException(
            503,
            {
                "reason": "ServiceUnavailable",
                "message": f"cannot reach {session.config.server}: {exc!r}",
            },
        ) from exc


def _status(code: int, payload: bytes) -> dict[str, Any]:
    try:
        status = orjson.loads(payload)
        if isinstance(status, dict):
            return status
    except orjson.JSONDecodeError:
        pass
    return {"code": code, "message": payload.decode(errors="replace")[:500]}


async def pod_of(session: Session, kind: str, name: str) -> str:
    """One pod of a Deployment or ReplicaSet, as kubectl picks it; the choice is said on
    stderr when there were several."""
    if kind not in ("Deployment", "ReplicaSet"):
        raise CliError(f"cannot get logs of a {kind}: name a pod, deploy/NAME or rs/NAME")
    res = find_resource(kind)
    owner = await session.request("GET", resource_path(res, session.namespace, name))
    selector = label_selector((owner.get("spec") or {}).get("selector") or {})
    listed = await session.request(
        "GET",
        resource_path(find_resource("pods"), session.namespace),
        params={"labelSelector": selector} if selector else None,
    )
    pods = [p for p in listed.get("items") or [] if not p["metadata"].get("deletionTimestamp")]
    if not pods:
        raise CliError(f'{res.plural}.{res.group} "{name}" has no pods yet')
    pods.sort(key=_preference)
    chosen = pods[0]["metadata"]["name"]
    if len(pods) > 1:
        print(f"Found {len(pods)} pods, using pod/{chosen}", file=sys.stderr)
    return chosen


def _preference(pod: dict[str, Any]) -> tuple[int, int, str]:
    """Running and Ready first (kubectl's ActivePods order, roughly), then the oldest."""
    status = pod.get("status") or {}
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    running = status.get("phase") == "Running"
    return (0 if ready else 1, 0 if running else 1, pod["metadata"].get("creationTimestamp", ""))


def label_selector(selector: dict[str, Any]) -> str:
    """A LabelSelector as the ``labelSelector`` query text."""
    parts = [f"{key}={value}" for key, value in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = ",".join(expression.get("values") or [])
        if operator == "In":
            parts.append(f"{key} in ({values})")
        elif operator == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif operator == "Exists":
            parts.append(str(key))
        elif operator == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)
