"""``navctl apply -f`` and ``navctl create``: write manifests to the cluster.

apply uses server-side apply (PATCH ``application/apply-patch+yaml`` as field manager
``navctl``, forced: the manifest is the truth, as a user running apply means it), so
the server merges and tracks ownership; whether an object was ``created``,
``configured`` or ``unchanged`` is read off its resourceVersion before and after.
create POSTs and refuses an object that exists (kubectl's AlreadyExists).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from navarch.cli.navctl.failures import CliError, describe_api_error
from navarch.cli.navctl.manifests import add_file_flag, read_placed, with_namespace
from navarch.cli.navctl.printing import object_name
from navarch.cli.navctl.progress import wait_ready
from navarch.cli.navctl.session import (
    Session,
    add_command,
    find_resource,
    resource_path,
)
from navarch.client import ApiException

if TYPE_CHECKING:
    from navarch.resources.spec import Resource

APPLY_PATCH = "application/apply-patch+yaml"
FIELD_MANAGER = "navctl"
DEFAULT_WAIT_TIMEOUT = 300.0


def register(commands: argparse._SubParsersAction) -> None:
    apply = add_command(
        commands, "apply", run_apply, help="create or update objects from manifests (-f)"
    )
    add_file_flag(apply, required=True)
    apply.add_argument(
        "--wait",
        action="store_true",
        help="then wait until the applied Deployments, ReplicaSets and Pods are ready",
    )
    apply.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_WAIT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long --wait waits (default {DEFAULT_WAIT_TIMEOUT:.0f})",
    )

    create = add_command(
        commands, "create", run_create, help="create objects from manifests, or a named one"
    )
    add_file_flag(create, required=False)
    kinds = create.add_subparsers(dest="create_kind", metavar="KIND")
    # Through add_command, so the global flags are taken after the kind too.
    deployment = add_command(
        kinds, "deployment", run_create, help="a Deployment", aliases=("deploy",)
    )
    deployment.add_argument("name", metavar="NAME")
    deployment.add_argument("--image", required=True, help="the container image")
    deployment.add_argument("--replicas", type=int, default=1, help="how many pods (default 1)")
    deployment.add_argument("--port", type=int, help="the container port to declare")
    deployment.add_argument(
        "command",
        nargs="*",
        metavar="-- COMMAND [ARG…]",
        help="the container's command, after -- (as kubectl create deployment)",
    )
    deployment.set_defaults(takes_command=True)
    namespace = add_command(kinds, "namespace", run_create, help="a Namespace", aliases=("ns",))
    namespace.add_argument("name", metavar="NAME")


# --- apply -------------------------------------------------------------------------------------


async def run_apply(session: Session, args: argparse.Namespace) -> int:
    failed = False
    applied: list[dict[str, Any]] = []
    for doc, res, ns, obj in read_placed(session, args.filename):
        try:
            outcome, written = await apply_one(session, res, ns, obj)
        except ApiException as exc:
            print(f"{describe_api_error(exc)} (from {doc.where})", file=sys.stderr)
            failed = True
            continue
        print(f"{object_name(res, doc.name)} {outcome}")
        applied.append(written)
    if args.wait and applied:
        sys.stdout.flush()
        if not await wait_ready(session, applied, args.timeout):
            failed = True
    return 1 if failed else 0


async def apply_one(
    session: Session, res: Resource, ns: str | None, obj: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Server-side apply of one object: ``created``, ``configured`` or ``unchanged``,
    and the object as written."""
    name = obj["metadata"]["name"]
    path = resource_path(res, ns, name)
    before = None
    try:
        current = await session.request("GET", path)
        before = (current.get("metadata") or {}).get("resourceVersion")
    except ApiException as exc:
        if exc.code != 404:
            raise
    written = await session.request(
        "PATCH",
        path,
        body=obj,
        params={"fieldManager": FIELD_MANAGER, "force": "true"},
        content_type=APPLY_PATCH,
    )
    after = (written.get("metadata") or {}).get("resourceVersion")
    if before is None:
        return "created", written
    return ("unchanged" if after == before else "configured"), written


# --- create ------------------------------------------------------------------------------------


async def run_create(session: Session, args: argparse.Namespace) -> int:
    if args.create_kind and args.filename:
        raise CliError("give either -f FILE or a kind to create (deployment, namespace), not both")
    if args.create_kind in ("deployment", "deploy"):
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        obj = deployment_manifest(args.name, args.image, args.replicas, args.port, command)
        return await _create_objects(session, [(find_resource("deployments"), obj, "")])
    if args.create_kind in ("namespace", "ns"):
        obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": args.name}}
        return await _create_objects(session, [(find_resource("namespaces"), obj, "")])
    if not args.filename:
        raise CliError(
            "create needs -f FILE (a manifest) or a kind: `navctl create deployment NAME "
            "--image=IMAGE` or `navctl create namespace NAME`"
        )
    placed_docs = read_placed(session, args.filename)
    return await _create_objects(
        session, [(res, obj, doc.where) for doc, res, _, obj in placed_docs]
    )


async def _create_objects(
    session: Session, objects: list[tuple[Resource, dict[str, Any], str]]
) -> int:
    failed = False
    for res, obj, where in objects:
        if res.namespaced:
            obj = with_namespace(obj, obj["metadata"].get("namespace") or session.namespace)
        ns = obj["metadata"].get("namespace") if res.namespaced else None
        try:
            await session.request("POST", resource_path(res, ns), body=obj)
        except ApiException as exc:
            suffix = f" (from {where})" if where else ""
            print(f"{describe_api_error(exc)}{suffix}", file=sys.stderr)
            failed = True
            continue
        print(f"{object_name(res, obj['metadata']['name'])} created")
    return 1 if failed else 0


def deployment_manifest(
    name: str, image: str, replicas: int, port: int | None, command: list[str] | None = None
) -> dict[str, Any]:
    """What ``kubectl create deployment`` builds: label ``app=NAME`` on the pods and as
    the selector, one container named after the image (with ``command`` when given)."""
    container: dict[str, Any] = {"name": container_name(image), "image": image}
    if command:
        container["command"] = list(command)
    if port is not None:
        container["ports"] = [{"containerPort": port}]
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def container_name(image: str) -> str:
    """``registry:5000/team/web:1.2`` → ``web`` (kubectl's rule: the image's last path
    part without tag or digest, made a DNS label)."""
    last = image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
    cleaned = "".join(c if c.isalnum() or c == "-" else "-" for c in last.lower()).strip("-")
    return cleaned[:63] or "app"
