"""``navctl get``: list or show objects as kubectl does: the server's Table laid out in
aligned columns, or ``-o yaml|json|name``; ``-w`` keeps printing rows as they change."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from navarch.cli.navctl.failures import CliError, describe_api_error
from navarch.cli.navctl.printing import (
    OUTPUT_FORMATS,
    TABLE_HEADERS,
    TableView,
    dump,
    print_objects,
    qualified_kind,
    without_managed_fields,
)
from navarch.cli.navctl.session import Session, add_command, resource_path
from navarch.cli.navctl.targets import Target, list_params, parse_targets
from navarch.client import ApiException

if TYPE_CHECKING:
    from navarch.resources.spec import Resource

# How long one watch request may last (timeoutSeconds); None leaves it to the server's
# limit. navctl carries on with a new request from the last revision either way.
WATCH_SECONDS: int | None = None
# Lists are read in pages of this many objects, as kubectl's --chunk-size: a large list
# never has to be built, sent and held whole (the server's list budget, issue 29).
CHUNK_SIZE = 500


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands,
        "get",
        run,
        help="list objects (pods, deployments, statefulsets, daemonsets, jobs, cronjobs, "
        "configmaps, secrets, pvc, pv, sc, nodes, events, …, all)",
    )
    parser.add_argument(
        "words",
        nargs="+",
        metavar="TYPE[,TYPE…] [NAME…] | TYPE/NAME…",
        help="what to show: a type (po, deploy, sts, ds, job, cj, cm, secret, pvc, pv, sc, "
        "no, ev, ns, all …) and names",
    )
    add_output_flag(parser)
    add_selector_flags(parser)
    parser.add_argument(
        "-A", "--all-namespaces", action="store_true", help="list across all namespaces"
    )
    parser.add_argument(
        "-w", "--watch", action="store_true", help="after listing, print changes until Ctrl-C"
    )
    parser.add_argument(
        "--show-labels", action="store_true", help="add a LABELS column (the object's labels)"
    )


def add_output_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o", "--output", choices=OUTPUT_FORMATS, help="wide (more columns), yaml, json or name"
    )


def add_selector_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-l", "--selector", help="label selector (app=web, tier in (a,b), !canary …)"
    )
    parser.add_argument(
        "--field-selector", help="field selector (status.phase=Running, spec.nodeName=n1 …)"
    )


def namespace_of(session: Session, res: Resource, all_namespaces: bool) -> str | None:
    """The namespace a read addresses: None for cluster-scoped kinds and with -A."""
    if not res.namespaced or all_namespaces:
        return None
    return session.namespace


async def run(session: Session, args: argparse.Namespace) -> int:
    targets = parse_targets(args.words)
    if args.watch:
        return await _watch(session, args, targets)
    if args.output in ("yaml", "json", "name"):
        return await _print_objects(session, args, targets)
    return await _print_tables(session, args, targets)


# --- plain objects (-o yaml|json|name) -------------------------------------------------------


async def _print_objects(session: Session, args: argparse.Namespace, targets: list[Target]) -> int:
    objects: list[dict[str, Any]] = []
    failed = False
    asked_by_name = any(t.names for t in targets)
    for target in targets:
        ns = namespace_of(session, target.res, args.all_namespaces)
        if target.names:
            for name in target.names:
                try:
                    obj = await session.request("GET", resource_path(target.res, ns, name))
                except ApiException as exc:
                    print(describe_api_error(exc), file=sys.stderr)
                    failed = True
                    continue
                objects.append(_typed(obj, target.res))
        else:
            listed = await list_in_chunks(session, resource_path(target.res, ns), list_params(args))
            objects += [_typed(item, target.res) for item in listed.get("items") or []]
    if not objects and not asked_by_name and args.output == "name":
        print(no_resources_message(session, targets, args.all_namespaces), file=sys.stderr)
    elif objects or not asked_by_name:  # -o json|yaml of nothing: an empty List, as kubectl
        single = asked_by_name and len(targets) == 1 and len(targets[0].names) == 1
        print_objects(objects, args.output, sys.stdout, single=single)
    return 1 if failed else 0


async def list_in_chunks(
    session: Session,
    path: str,
    params: dict[str, str],
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The whole list (or Table) at one revision, asked for CHUNK_SIZE objects at a time
    and following ``continue`` as kubectl does; one answer, its items or rows joined."""
    listed = await session.request(
        "GET", path, params={**params, "limit": str(CHUNK_SIZE)}, headers=headers
    )
    field = "rows" if "rows" in listed else "items"
    collected = list(listed.get(field) or [])
    while token := (listed.get("metadata") or {}).get("continue"):
        listed = await session.request(
            "GET",
            path,
            params={**params, "limit": str(CHUNK_SIZE), "continue": token},
            headers=headers,
        )
        collected += listed.get(field) or []
    return {**listed, field: collected, "metadata": {**(listed.get("metadata") or {})}}


def _typed(obj: dict[str, Any], res: Resource) -> dict[str, Any]:
    """List items may come without kind and apiVersion; kubectl's output has them."""
    return {"apiVersion": res.group_version, "kind": res.kind, **obj}


# --- tables ------------------------------------------------------------------------------------


def _view(args: argparse.Namespace, res: Resource, several_types: bool) -> TableView:
    return TableView(
        wide=args.output == "wide",
        with_namespace=bool(args.all_namespaces and res.namespaced),
        show_labels=args.show_labels,
        name_prefix=qualified_kind(res) if several_types else "",
    )


async def _print_tables(session: Session, args: argparse.Namespace, targets: list[Target]) -> int:
    several = len(targets) > 1
    printed_any = failed = False
    for target in targets:
        ns = namespace_of(session, target.res, args.all_namespaces)
        tables = []
        if target.names:
            for name in target.names:
                try:
                    tables.append(
                        await session.request(
                            "GET", resource_path(target.res, ns, name), headers=TABLE_HEADERS
                        )
                    )
                except ApiException as exc:
                    print(describe_api_error(exc), file=sys.stderr)
                    failed = True
        else:
            tables.append(
                await list_in_chunks(
                    session, resource_path(target.res, ns), list_params(args), TABLE_HEADERS
                )
            )
        if not any(t.get("rows") for t in tables):
            continue
        if printed_any:
            print()
        for line in _view(args, target.res, several).render(tables):
            print(line)
        printed_any = True
    if not printed_any and not failed:
        print(no_resources_message(session, targets, args.all_namespaces), file=sys.stderr)
    return 1 if failed else 0


def no_resources_message(session: Session, targets: list[Target], all_namespaces: bool) -> str:
    """kubectl's: "No resources found in default namespace." (or without a namespace
    for -A and cluster-scoped kinds)."""
    if all_namespaces or not any(t.res.namespaced for t in targets):
        return "No resources found"
    return f"No resources found in {session.namespace} namespace."


# --- watch -------------------------------------------------------------------------------------


async def _watch(session: Session, args: argparse.Namespace, targets: list[Target]) -> int:
    """List, then print each change from the list's revision on, until Ctrl-C (or the
    server ends the stream)."""
    if len(targets) != 1 or len(targets[0].names) > 1:
        raise CliError("watch is only supported on one resource type and at most one name")
    res, names = targets[0].res, targets[0].names
    ns = namespace_of(session, res, args.all_namespaces)
    params = list_params(args)
    if names:  # a list of one, so that the watch starts from the list's revision
        by_name = f"metadata.name={names[0]}"
        params["fieldSelector"] = ",".join(filter(None, (params.get("fieldSelector"), by_name)))
    tables = args.output not in ("yaml", "json", "name")
    headers = TABLE_HEADERS if tables else None
    path = resource_path(res, ns)
    listed = await list_in_chunks(session, path, params, headers)
    view = _view(args, res, several_types=False)
    header_pending = True
    if tables:
        if listed.get("rows"):
            print(*view.render([listed]), sep="\n", flush=True)
            header_pending = False
        else:
            view.take_columns(listed)
    else:
        for item in listed.get("items") or []:
            _print_watched_object(_typed(item, res), args.output)
    revision = str((listed.get("metadata") or {}).get("resourceVersion") or "")
    # The server ends a watch after its longest allowed time; carry on from the last
    # revision seen, as a user watching expects (Ctrl-C is the only way out).
    while True:
        params.update(watch="1", resourceVersion=revision, allowWatchBookmarks="true")
        if WATCH_SECONDS:
            params["timeoutSeconds"] = str(WATCH_SECONDS)
        async for event in session.client.stream(path, params, headers=headers):
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                raise CliError(
                    f"the watch ended: {obj.get('message') or obj} (run the command again)"
                )
            revision = str((obj.get("metadata") or {}).get("resourceVersion") or revision)
            if kind == "BOOKMARK":
                continue
            if not tables:
                _print_watched_object(_typed(obj, res), args.output)
                continue
            view.take_columns(obj)
            lines = view.render([obj]) if header_pending else view.render_more(obj)
            header_pending = False
            for line in lines:
                print(line, flush=True)


def _print_watched_object(obj: dict[str, Any], output: str) -> None:
    if output == "name":
        print_objects([obj], "name", sys.stdout)
        sys.stdout.flush()
    elif output == "json":
        print(dump(without_managed_fields(obj), "json"), end="", flush=True)
    else:
        print("---\n" + dump(without_managed_fields(obj), "yaml"), end="", flush=True)
