"""Events (``/api/v1/events``). ``kubectl describe`` lists an object's events with the
``involvedObject.*`` field selectors."""

from __future__ import annotations

from typing import Any

from navarch.api.core_v1 import Event
from navarch.api.errors import FieldError
from navarch.api.validation.events import validate_event
from navarch.printers.events import EVENT_PRINTER
from navarch.resources.fields import dotted, path
from navarch.resources.spec import Resource
from navarch.resources.strategy import Strategy


class EventStrategy(Strategy):
    def validate(self, obj: Any) -> list[FieldError]:
        return validate_event(obj)


EVENTS = Resource.for_model(
    Event,
    short_names=("ev",),
    field_selectors={
        **{
            f"involvedObject.{field}": path("involvedObject", field)
            for field in (
                "kind",
                "namespace",
                "name",
                "uid",
                "apiVersion",
                "resourceVersion",
                "fieldPath",
            )
        },
        **dotted("reason", "reportingComponent"),
        "source": path("source", "component"),
        **dotted("type"),
    },
    strategy=EventStrategy(),
    printer=EVENT_PRINTER,
    description="Event is a report of an event somewhere in the cluster.",
)
