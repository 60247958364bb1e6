"""The events Table: LAST SEEN TYPE REASON OBJECT MESSAGE, then SUBOBJECT SOURCE
FIRST SEEN COUNT NAME."""

from __future__ import annotations

import datetime as dt
from typing import Any

from navarch.printers.cells import Cells, Column, Printer, name_of, wide
from navarch.printers.durations import parse_time, since


def event_cells(event: dict[str, Any], now: dt.datetime) -> Cells:
    """LAST SEEN TYPE REASON OBJECT MESSAGE, then SUBOBJECT SOURCE FIRST SEEN COUNT NAME.

    LAST SEEN reads ``5m (x3 over 20m)`` when the event was seen more than once."""
    first = since(event.get("firstTimestamp"), now)
    if not parse_time(event.get("firstTimestamp")):
        first = since(event.get("eventTime"), now)
    last = since(event.get("lastTimestamp"), now)
    if not parse_time(event.get("lastTimestamp")):
        last = first
    count = int(event.get("count") or 0)
    series = event.get("series")
    if isinstance(series, dict):
        last = since(series.get("lastObservedTime"), now)
        count = int(series.get("count") or 0)
    elif count > 1:
        last = f"{last} (x{count} over {first})"
    involved = event.get("involvedObject") or {}
    kind = str(involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = event.get("source") or {}
    component = source.get("component") or event.get("reportingComponent") or ""
    instance = source.get("host") or event.get("reportingInstance") or ""
    return [
        last,
        event.get("type") or "",
        event.get("reason") or "",
        target,
        involved.get("fieldPath") or "",
        f"{component}, {instance}" if instance else component,
        str(event.get("message") or "").strip(),
        first,
        count,
        name_of(event),
    ]


EVENT_PRINTER = Printer(
    (
        Column("Last Seen", description="When the event was last seen."),
        Column("Type", description="Normal or Warning."),
        Column("Reason", description="Why the event happened, in one word."),
        Column("Object", description="The object the event is about."),
        wide("Subobject", "The part of the object (involvedObject.fieldPath)."),
        wide("Source", "The component that reported the event."),
        Column("Message", description="What happened, for a person."),
        wide("First Seen", "When the event was first seen."),
        wide("Count", "How many times the event was seen."),
        Column("Name", format="name", priority=1, description="The event's name."),
    ),
    event_cells,
)
