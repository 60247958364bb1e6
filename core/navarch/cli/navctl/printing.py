"""How navctl prints what it reads: kubectl's aligned tables (from the Table the API
server computes), ``-o yaml|json|name``, object names like ``deployment.apps/web``, and
ages like ``5s``, ``3m2s``, ``4h``, ``2d3h``.

The columns themselves (STATUS as kubectl computes it, READY, RESTARTS …) come from the
server's printers (:mod:`navarch.printers`, named by each kind's spec in the resource
registry), so navctl and kubectl show the same cells; this module only lays them out.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

import attrs
import yaml

from navarch.printers.durations import UNKNOWN, human_duration, parse_time

if TYPE_CHECKING:
    from navarch.resources.spec import Resource

# The server-side Table, as kubectl asks for it (v1 only: our server speaks it).
TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io"
TABLE_HEADERS = {"Accept": TABLE_ACCEPT}
COLUMN_GAP = "   "  # kubectl's tabwriter: three spaces between columns
OUTPUT_FORMATS = ("wide", "yaml", "json", "name")


def age(timestamp: Any, now: dt.datetime | None = None) -> str:
    """How long ago an RFC 3339 timestamp was, as kubectl writes it (``<unknown>`` if unset)."""
    moment = parse_time(timestamp)
    if moment is None:
        return UNKNOWN
    return human_duration(((now or dt.datetime.now(dt.UTC)) - moment).total_seconds())


def qualified_kind(res: Resource) -> str:
    """``pod``, ``deployment.apps``: the prefix of kubectl's ``-o name``."""
    return f"{res.kind.lower()}.{res.group}" if res.group else res.kind.lower()


def object_name(res: Resource, name: str) -> str:
    """``deployment.apps/web`` (kubectl's ``-o name`` and its apply/scale lines)."""
    return f"{qualified_kind(res)}/{name}"


def resource_of(obj: dict[str, Any]) -> Resource | None:
    """The resource an object (wire dict) belongs to, by its kind (navctl's registry,
    else the server's discovery); None when unserved."""
    from navarch.cli.navctl.discovery import CURRENT
    from navarch.resources.registry import registry  # the object model: not for --help

    kind, api_version = str(obj.get("kind") or ""), obj.get("apiVersion")
    res = registry().for_kind(kind, api_version)
    discovery = CURRENT.get()
    if res is None and discovery is not None and isinstance(api_version, str):
        res = discovery.for_kind(kind, api_version)
    return res


def align(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as kubectl aligns them: each column as wide as its widest cell, three
    spaces between columns, nothing after the last."""
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(len(rows[0]))]
    return [_line(row, widths) for row in rows]


def _line(row: Sequence[str], widths: Sequence[int]) -> str:
    cells = [cell.ljust(widths[i]) if i < len(widths) else cell for i, cell in enumerate(row)]
    return COLUMN_GAP.join(cells).rstrip()


def cell_text(value: Any) -> str:
    if value is None:
        return "<none>"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(cell_text(v) for v in value) or "<none>"
    return str(value)


def labels_text(labels: dict[str, Any] | None) -> str:
    """``app=web,tier=front`` (sorted), ``<none>`` without labels."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


@attrs.define
class TableView:
    """Turns the server's Tables into kubectl's text rows.

    ``wide`` shows the priority > 0 columns too; ``with_namespace`` adds NAMESPACE in
    front (``-A``); ``show_labels`` adds LABELS at the end; ``name_prefix`` writes names
    as ``pod/web`` (several resource types in one ``get``).
    """

    wide: bool = False
    with_namespace: bool = False
    show_labels: bool = False
    name_prefix: str = ""
    _columns: list[tuple[int, str]] = attrs.field(factory=list)  # (index in cells, header)
    _widths: list[int] = attrs.field(factory=list)

    def take_columns(self, table: dict[str, Any]) -> None:
        """Remember which columns to show from a Table's column definitions (a watch
        sends them only with its first event)."""
        definitions = table.get("columnDefinitions") or []
        if not definitions:
            return
        self._columns = [
            (i, str(d.get("name", "")).upper())
            for i, d in enumerate(definitions)
            if self.wide or not d.get("priority")
        ]

    def header(self) -> list[str]:
        names = [name for _, name in self._columns]
        if self.with_namespace:
            names.insert(0, "NAMESPACE")
        if self.show_labels:
            names.append("LABELS")
        return names

    def rows(self, table: dict[str, Any]) -> list[list[str]]:
        self.take_columns(table)
        out = []
        for row in table.get("rows") or []:
            cells = row.get("cells") or []
            metadata = (row.get("object") or {}).get("metadata") or {}
            texts = []
            for index, name in self._columns:
                text = cell_text(cells[index] if index < len(cells) else None)
                if name == "NAME" and self.name_prefix:
                    text = f"{self.name_prefix}/{text}"
                texts.append(text)
            if self.with_namespace:
                texts.insert(0, str(metadata.get("namespace") or ""))
            if self.show_labels:
                texts.append(labels_text(metadata.get("labels")))
            out.append(texts)
        return out

    def render(self, tables: Iterable[dict[str, Any]], *, headers: bool = True) -> list[str]:
        """Lines for the rows of ``tables`` (one resource type), aligned together."""
        body: list[list[str]] = []
        for table in tables:
            body.extend(self.rows(table))
        lines = [self.header(), *body] if headers else body
        aligned = align(lines)
        if lines:
            self._widths = [len(c) for c in lines[0]]
            for row in lines:
                self._widths = [max(w, len(c)) for w, c in zip(self._widths, row, strict=False)]
        return aligned

    def render_more(self, table: dict[str, Any]) -> list[str]:
        """Lines for rows arriving later (a watch), padded to the widths seen so far
        (kubectl's watch cannot realign what it already printed either)."""
        rows = self.rows(table)
        if not self._widths and rows:
            self._widths = [len(c) for c in self.header()]
        for row in rows:
            self._widths = [max(w, len(c)) for w, c in zip(self._widths, row, strict=False)]
        return [_line(row, self._widths) for row in rows]


def without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """kubectl hides metadata.managedFields in -o yaml|json unless asked."""
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and "managedFields" in metadata:
        obj = {**obj, "metadata": {k: v for k, v in metadata.items() if k != "managedFields"}}
    return obj


def as_list(objects: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """kubectl's ``-o yaml|json`` of several objects: one ``List``."""
    return {
        "apiVersion": "v1",
        "items": list(objects),
        "kind": "List",
        "metadata": {"resourceVersion": ""},
    }


def dump(obj: dict[str, Any], output: str) -> str:
    """One object (or List) as ``yaml`` or ``json`` text, ending in a newline."""
    if output == "json":
        return json.dumps(obj, indent=4, ensure_ascii=False) + "\n"
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False, allow_unicode=True)


def print_objects(
    objects: Sequence[dict[str, Any]], output: str, out: TextIO, *, single: bool = False
) -> None:
    """``-o yaml|json|name`` of wire objects; ``single`` (one object asked for by name)
    prints it bare rather than in a List, as kubectl does."""
    cleaned = [without_managed_fields(o) for o in objects]
    if output == "name":
        for obj in cleaned:
            res = resource_of(obj)
            name = (obj.get("metadata") or {}).get("name", "")
            out.write((object_name(res, name) if res else name) + "\n")
        return
    out.write(dump(cleaned[0] if single and len(cleaned) == 1 else as_list(cleaned), output))
