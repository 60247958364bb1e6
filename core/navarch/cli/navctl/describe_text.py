"""The text layout of ``navctl describe``: ``Label:  value`` lines aligned per block
(kubectl's tabwriter), nested blocks indented by two, small tables, and the Events
table every description ends with."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import attrs

from navarch.cli.navctl.printing import age, align
from navarch.printers.durations import parse_time

NONE = "<none>"
INDENT = "  "


@attrs.define
class Text:
    """Lines of a description. ``field`` lines of one indent that follow each other are
    aligned together; ``line`` and ``table`` lines are written as they are."""

    _items: list[tuple[int, str | None, str]] = attrs.field(factory=list)

    def field(self, label: str, value: Any = "", indent: int = 0) -> None:
        """``Label:  value``; a multi-line value continues under the value column."""
        lines = str(value if value not in (None, "") else "").split("\n") or [""]
        self._items.append((indent, label, lines[0]))
        for more in lines[1:]:
            self._items.append((indent, "", more))

    def values(self, label: str, values: Sequence[str], indent: int = 0) -> None:
        """One value per line (labels, annotations, tolerations); ``<none>`` if empty."""
        self.field(label, "\n".join(values) if values else NONE, indent)

    def line(self, text: str, indent: int = 0) -> None:
        self._items.append((indent, None, text))

    def table(self, rows: Sequence[Sequence[str]], indent: int = 1) -> None:
        for text in align(rows):
            self.line(text, indent)

    def render(self) -> str:
        out: list[str] = []
        i = 0
        while i < len(self._items):
            indent, label, text = self._items[i]
            if label is None:
                out.append(INDENT * indent + text)
                i += 1
                continue
            j = i
            while (
                j < len(self._items)
                and self._items[j][0] == indent
                and self._items[j][1] is not None
            ):
                j += 1
            block = self._items[i:j]
            width = max(len(lbl) + 1 for _, lbl, _ in block if lbl) + 2
            for _, lbl, value in block:
                head = f"{lbl}:" if lbl else ""
                out.append((INDENT * indent + head.ljust(width) + value).rstrip())
            i = j
        return "\n".join(out) + "\n"


def mapping_lines(values: dict[str, Any] | None) -> list[str]:
    """``key=value`` per line, sorted (Labels, Annotations, Node-Selectors)."""
    return [f"{k}={str(v).strip()}" for k, v in sorted((values or {}).items())]


def event_rows(events: list[dict[str, Any]], now: dt.datetime | None = None) -> list[list[str]]:
    """kubectl's describe Events table, oldest first: Type Reason Age From Message, with
    ``Age`` as ``3m (x5 over 10m)`` for an event seen several times."""

    def last_seen(event: dict[str, Any]) -> str:
        return str(
            event.get("lastTimestamp")
            or event.get("eventTime")
            or (event.get("metadata") or {}).get("creationTimestamp")
            or ""
        )

    ordered = sorted(
        events, key=lambda e: parse_time(last_seen(e)) or dt.datetime.min.replace(tzinfo=dt.UTC)
    )
    rows = [
        ["Type", "Reason", "Age", "From", "Message"],
        ["----", "------", "----", "----", "-------"],
    ]
    for event in ordered:
        count = int(event.get("count") or 1)
        when = age(last_seen(event), now)
        first = event.get("firstTimestamp") or event.get("eventTime")
        if count > 1 and first:
            when = f"{when} (x{count} over {age(first, now)})"
        source = event.get("source") or {}
        origin = source.get("component") or event.get("reportingComponent") or ""
        rows.append(
            [
                str(event.get("type") or ""),
                str(event.get("reason") or ""),
                when,
                str(origin),
                str(event.get("message") or "").strip(),
            ]
        )
    return rows


def add_events(text: Text, events: list[dict[str, Any]]) -> None:
    if not events:
        text.field("Events", NONE)
        return
    text.line("Events:")
    text.table(event_rows(events))
