"""Reading manifests as kubectl's ``-f`` does: files, directories (their .yaml, .yml and
.json files, sorted), ``-`` for stdin; multi-document YAML; ``kind: List`` unpacked.

Every object remembers where it came from, so an error names the file and the
document (``web.yaml (document 2): …``) rather than leaving the user to count.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import attrs
import yaml

from navarch.cli.navctl.failures import CliError
from navarch.cli.navctl.session import Session

if TYPE_CHECKING:
    from navarch.resources.spec import Resource

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"


@attrs.frozen
class Document:
    """One object of a manifest: its wire dict and where it was read."""

    obj: dict[str, Any]
    source: str  # the file's path, or "STDIN"
    index: int  # 1-based document number within the source

    @property
    def where(self) -> str:
        return f"{self.source} (document {self.index})"

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name") or "")


def manifest_files(path: str) -> list[Path]:
    """A file as given, or a directory's manifest files (sorted, not recursive, as kubectl
    without -R)."""
    target = Path(path)
    if target.is_dir():
        files = sorted(p for p in target.iterdir() if p.suffix in MANIFEST_SUFFIXES)
        if not files:
            raise CliError(f"no manifest files (*.yaml, *.yml, *.json) in directory {path}")
        return files
    if not target.exists():
        raise CliError(f'the path "{path}" does not exist')
    return [target]


def read_documents(paths: Iterable[str], stdin: TextIO | None = None) -> list[Document]:
    """Every object in ``paths`` (``-`` reads ``stdin``), in order; empty documents are
    skipped; a malformed one is a CliError naming its file and document."""
    documents: list[Document] = []
    for path in paths:
        if path == STDIN:
            documents += parse_documents((stdin or sys.stdin).read(), "STDIN")
            continue
        for file in manifest_files(path):
            try:
                text = file.read_text()
            except OSError as exc:
                raise CliError(f"cannot read {file}: {exc.strerror}") from None
            documents += parse_documents(text, str(file))
    return documents


def parse_documents(text: str, source: str) -> list[Document]:
    """The objects of one multi-document YAML (or JSON) text."""
    documents: list[Document] = []
    index = 0
    try:
        for index, data in enumerate(yaml.safe_load_all(text), start=1):
            if data is None:
                continue
            documents += _objects(data, source, index)
    except yaml.YAMLError as exc:
        where = f"{source} (document {index + 1})"
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise CliError(f"{where}: invalid YAML{at}: {problem}") from None
    return documents


def _objects(data: Any, source: str, index: int) -> list[Document]:
    where = f"{source} (document {index})"
    if not isinstance(data, dict):
        raise CliError(f"{where}: expected an object (a mapping), got {type(data).__name__}")
    kind = data.get("kind")
    if not kind or not data.get("apiVersion"):
        missing = "kind" if not kind else "apiVersion"
        raise CliError(f"{where}: the object has no {missing}")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(data.get("items"), list):
        out = []
        for item in data["items"]:
            out += _objects(item, source, index)
        return out
    metadata = data.get("metadata")
    if not isinstance(metadata, dict) or not metadata.get("name"):
        raise CliError(f"{where}: {kind} has no metadata.name")
    return [Document(data, source, index)]


def resource_for(doc: Document) -> Resource:
    """The served resource of a document's apiVersion and kind (navctl's registry, else
    the server's discovery), or kubectl's "no matches for kind" naming the file and
    document."""
    from navarch.cli.navctl.discovery import CURRENT
    from navarch.resources.registry import registry  # the object model: not for --help

    api_version = str(doc.obj.get("apiVersion"))
    kind = doc.obj.get("kind")
    res = registry().for_kind(str(kind), api_version)
    if res is not None:
        return res
    discovery = CURRENT.get()
    res = discovery.for_kind(str(kind), api_version) if discovery is not None else None
    if res is not None:
        return res
    served = ", ".join(f"{r.kind} ({r.group_version})" for r in registry())
    raise CliError(
        f'{doc.where}: resource mapping not found for name: "{doc.name}": no matches for '
        f'kind "{kind}" in version "{api_version}"; this server serves {served}'
    )


def namespace_for(doc: Document, res: Resource, default: str, flag: str | None) -> str | None:
    """The namespace to write a document's object in: its own, else the -n/context one;
    None for a cluster-scoped kind. An object in another namespace than an explicit -n
    is kubectl's error."""
    if not res.namespaced:
        return None
    own = (doc.obj.get("metadata") or {}).get("namespace")
    if own and flag and own != flag:
        raise CliError(
            f'{doc.where}: the namespace from the provided object "{own}" does not match '
            f"the namespace \"{flag}\". You must pass '--namespace={own}' to perform this "
            "operation."
        )
    return str(own or default)


def with_namespace(obj: dict[str, Any], namespace: str | None) -> dict[str, Any]:
    """A copy of ``obj`` whose metadata carries ``namespace`` (when namespaced)."""
    if namespace is None:
        return obj
    return {**obj, "metadata": {**(obj.get("metadata") or {}), "namespace": namespace}}


def add_file_flag(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "-f",
        "--filename",
        action="append",
        required=required,
        metavar="FILE",
        help="a manifest file, a directory of them, or - for stdin (repeatable)",
    )


def placed(session: Session, doc: Document) -> tuple[Resource, str | None, dict[str, Any]]:
    """A document's resource, namespace and object with that namespace filled in."""
    res = resource_for(doc)
    ns = namespace_for(doc, res, session.namespace, session.namespace_flag)
    return res, ns, with_namespace(doc.obj, ns)


def read_placed(
    session: Session, paths: list[str]
) -> list[tuple[Document, Resource, str | None, dict[str, Any]]]:
    """Every document, checked before anything is written (a typo in the third document
    should not leave the first two applied and the user guessing)."""
    return [(doc, *placed(session, doc)) for doc in read_documents(paths)]
