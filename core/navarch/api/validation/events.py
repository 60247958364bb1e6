"""Validation of an Event: the object it is about, its type, its count."""

from __future__ import annotations

from navarch.api import errors
from navarch.api.core_v1 import Event
from navarch.api.field_checks import Errors, enum, non_negative


def validate_event(event: Event) -> Errors:
    errs: Errors = []
    ref = event.involved_object
    if ref is None:
        errs.append(errors.required("involvedObject"))
    elif not ref.kind:
        errs.append(errors.required("involvedObject.kind"))
    errs += enum(event.type, "type", ("Normal", "Warning"))
    errs += non_negative(event.count, "count")
    return errs
