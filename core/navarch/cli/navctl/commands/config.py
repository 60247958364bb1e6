"""``navctl config view|use-context|current-context|get-contexts``: the kubeconfig file
kubectl uses (--kubeconfig, else the first file of $KUBECONFIG, else ~/.kube/config),
read and changed without talking to any server."""

from __future__ import annotations

import argparse
import copy
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from navarch.cli.navctl.failures import CliError
from navarch.cli.navctl.printing import align
from navarch.cli.navctl.session import Session, add_command, add_subcommand_group

# What kubectl prints instead of secrets unless --raw.
DATA_OMITTED = "DATA+OMITTED"
REDACTED = "REDACTED"
_DATA_KEYS = ("certificate-authority-data", "client-certificate-data", "client-key-data")
_SECRET_KEYS = ("token", "password")


def register(commands: argparse._SubParsersAction) -> None:
    actions = add_subcommand_group(commands, "config", help="show or change the kubeconfig")
    view = add_command(actions, "view", run_view, help="print the kubeconfig (secrets hidden)")
    view.add_argument(
        "--minify", action="store_true", help="only the current context, its cluster and user"
    )
    view.add_argument("--raw", action="store_true", help="show tokens and certificate data")
    use = add_command(actions, "use-context", run_use_context, help="set the current context")
    use.add_argument("name", metavar="CONTEXT")
    add_command(actions, "current-context", run_current_context, help="print the current context")
    get = add_command(actions, "get-contexts", run_get_contexts, help="list the contexts")
    get.add_argument("names", nargs="*", metavar="CONTEXT", help="only these")


def kubeconfig_path(session: Session) -> Path:
    """The file kubectl would read (and write)."""
    if session.kubeconfig_path:
        return Path(session.kubeconfig_path)
    env = os.environ.get("KUBECONFIG", "")
    if env:
        return Path(env.split(os.pathsep)[0])
    return Path.home() / ".kube" / "config"


def read_kubeconfig(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise CliError(
            f"cannot read kubeconfig {path}: {exc.strerror} (`navarch up` writes one and "
            "prints its path; pass --kubeconfig FILE or set KUBECONFIG)"
        ) from None
    except yaml.YAMLError as exc:
        raise CliError(f"kubeconfig {path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CliError(f"kubeconfig {path} is not a mapping")
    return data


def _entries(data: dict[str, Any], section: str) -> list[dict[str, Any]]:
    return [e for e in data.get(section) or [] if isinstance(e, dict)]


def _named(data: dict[str, Any], section: str, name: Any) -> dict[str, Any] | None:
    return next((e for e in _entries(data, section) if e.get("name") == name), None)


def redacted(data: dict[str, Any]) -> dict[str, Any]:
    """A copy with certificate data as DATA+OMITTED and tokens as REDACTED."""
    out = copy.deepcopy(data)
    for section, field in (("clusters", "cluster"), ("users", "user")):
        for entry in _entries(out, section):
            body = entry.get(field)
            if not isinstance(body, dict):
                continue
            for key in _DATA_KEYS:
                if body.get(key):
                    body[key] = DATA_OMITTED
            for key in _SECRET_KEYS:
                if body.get(key):
                    body[key] = REDACTED
    return out


def minified(data: dict[str, Any], context: str | None) -> dict[str, Any]:
    """Only ``context`` (default: the current one), its cluster and its user."""
    name = context or data.get("current-context")
    ctx = _named(data, "contexts", name)
    if ctx is None:
        raise CliError(
            f"cannot minify: no context named {name!r} (known: {_known(data, 'contexts')})"
            if name
            else "current-context must exist in order to minify"
        )
    body = ctx.get("context") or {}
    cluster = _named(data, "clusters", body.get("cluster"))
    user = _named(data, "users", body.get("user"))
    return {
        **{k: v for k, v in data.items() if k not in ("clusters", "contexts", "users")},
        "clusters": [cluster] if cluster else [],
        "contexts": [ctx],
        "current-context": name,
        "users": [user] if user else [],
    }


def _known(data: dict[str, Any], section: str) -> str:
    return ", ".join(str(e.get("name")) for e in _entries(data, section)) or "none"


async def run_view(session: Session, args: argparse.Namespace) -> int:
    data = read_kubeconfig(kubeconfig_path(session))
    if args.minify:
        data = minified(data, session.context)
    if not args.raw:
        data = redacted(data)
    sys.stdout.write(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))
    return 0


async def run_use_context(session: Session, args: argparse.Namespace) -> int:
    path = kubeconfig_path(session)
    data = read_kubeconfig(path)
    if _named(data, "contexts", args.name) is None:
        raise CliError(
            f'no context exists with the name: "{args.name}" (known: {_known(data, "contexts")})'
        )
    data["current-context"] = args.name
    # Write next to the file, then rename: a crash never leaves half a kubeconfig.
    temporary = path.with_name(f".{path.name}.navctl-tmp")
    temporary.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))
    os.chmod(temporary, path.stat().st_mode & 0o777)
    temporary.replace(path)
    print(f'Switched to context "{args.name}".')
    return 0


async def run_current_context(session: Session, args: argparse.Namespace) -> int:
    current = read_kubeconfig(kubeconfig_path(session)).get("current-context")
    if not current:
        raise CliError("current-context is not set")
    print(current)
    return 0


async def run_get_contexts(session: Session, args: argparse.Namespace) -> int:
    data = read_kubeconfig(kubeconfig_path(session))
    current = data.get("current-context")
    rows = [["CURRENT", "NAME", "CLUSTER", "AUTHINFO", "NAMESPACE"]]
    missing = [n for n in args.names if _named(data, "contexts", n) is None]
    if missing:
        raise CliError(f"context {missing[0]} not found (known: {_known(data, 'contexts')})")
    for entry in _entries(data, "contexts"):
        name = entry.get("name")
        if args.names and name not in args.names:
            continue
        body = entry.get("context") or {}
        rows.append(
            [
                "*" if name == current else "",
                str(name),
                str(body.get("cluster") or ""),
                str(body.get("user") or ""),
                str(body.get("namespace") or ""),
            ]
        )
    for line in align(rows):
        print(line)
    return 0
