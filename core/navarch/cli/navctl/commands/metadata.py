"""``navctl label`` and ``navctl annotate``: set (``k=v``) or remove (``k-``) labels or
annotations with a merge patch. As kubectl, changing an existing value needs
``--overwrite``; the check is made against the object read just before, and the patch
carries that resourceVersion so a concurrent change is a conflict, not a silent win."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import attrs

from navarch.cli.navctl.failures import CliError, describe_api_error
from navarch.cli.navctl.printing import object_name
from navarch.cli.navctl.session import Session, add_command, resource_path
from navarch.cli.navctl.targets import list_params, single_target
from navarch.client import ApiException

MERGE_PATCH = "application/merge-patch+json"


@attrs.frozen
class Field:
    """``labels`` or ``annotations``, and kubectl's words for changing them."""

    key: str
    done: str  # "labeled"
    not_done: str  # "not labeled"


LABELS = Field("labels", "labeled", "not labeled")
ANNOTATIONS = Field("annotations", "annotated", "not annotated")


def register(commands: argparse._SubParsersAction) -> None:
    for verb, field in (("label", LABELS), ("annotate", ANNOTATIONS)):

        async def run(session: Session, args: argparse.Namespace, field: Field = field) -> int:
            return await change(session, args, field)

        parser = add_command(
            commands, verb, run, help=f"set (KEY=VALUE) or remove (KEY-) {field.key}"
        )
        parser.add_argument(
            "words",
            nargs="+",
            metavar="TYPE NAME… | TYPE/NAME… KEY=VALUE… KEY-…",
            help=f"the objects, then the {field.key} to set or remove",
        )
        parser.add_argument(
            "--overwrite", action="store_true", help="allow replacing an existing value"
        )
        parser.add_argument("-l", "--selector", help="every object with these labels")
        parser.add_argument("--all", action="store_true", help="every object of the type")


def parse_changes(words: list[str]) -> tuple[list[str], dict[str, str | None]]:
    """Split ``pods web app=v2 tier-`` into the object words and the changes
    (a value to set, None to remove)."""
    objects: list[str] = []
    changes: dict[str, str | None] = {}
    for word in words:
        if "=" in word:
            key, _, value = word.partition("=")
            if not key:
                raise CliError(f'invalid change "{word}": use KEY=VALUE or KEY-')
            changes[key] = value
        elif word.endswith("-") and objects:
            changes[word[:-1]] = None
        elif changes:
            raise CliError(f'"{word}" after the changes: give objects first, then KEY=VALUE/KEY-')
        else:
            objects.append(word)
    if not changes:
        raise CliError("give at least one change: KEY=VALUE to set, KEY- to remove")
    return objects, changes


def conflicts(current: dict[str, Any], changes: dict[str, str | None]) -> list[str]:
    """kubectl's refusals without --overwrite: a key that has another value already."""
    return [
        f"'{key}' already has a value ({current[key]}), and --overwrite is false"
        for key, value in changes.items()
        if value is not None and key in current and current[key] != value
    ]


async def change(session: Session, args: argparse.Namespace, field: Field) -> int:
    words, changes = parse_changes(args.words)
    res, names = single_target(words, "label" if field is LABELS else "annotate")
    ns = session.namespace if res.namespaced else None
    if not names:
        if not (args.all or args.selector):
            raise CliError(f"give the {res.plural} to change: NAME…, -l SELECTOR or --all")
        listed = await session.request("GET", resource_path(res, ns), params=list_params(args))
        names = [(i.get("metadata") or {}).get("name", "") for i in listed.get("items") or []]
    failed = False
    for name in names:
        path = resource_path(res, ns, name)
        try:
            obj = await session.request("GET", path)
            metadata = obj.get("metadata") or {}
            current = metadata.get(field.key) or {}
            refused = [] if args.overwrite else conflicts(current, changes)
            if refused:
                print("error: " + "; ".join(refused), file=sys.stderr)
                failed = True
                continue
            wanted = {k: v for k, v in changes.items() if current.get(k) != v}
            wanted = {k: v for k, v in wanted.items() if v is not None or k in current}
            if not wanted:
                print(f"{object_name(res, name)} {field.not_done}")
                continue
            patch = {
                "metadata": {field.key: wanted, "resourceVersion": metadata.get("resourceVersion")}
            }
            await session.request("PATCH", path, body=patch, content_type=MERGE_PATCH)
        except ApiException as exc:
            print(describe_api_error(exc), file=sys.stderr)
            failed = True
            continue
        print(f"{object_name(res, name)} {field.done}")
    return 1 if failed else 0
