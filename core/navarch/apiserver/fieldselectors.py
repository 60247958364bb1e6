"""Field selectors (``?fieldSelector=spec.nodeName=n1,status.phase!=Failed``) on the
fields Kubernetes supports for each resource."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from navarch.api import selectors
from navarch.apiserver.errors import bad_request

_COMMON: dict[str, Callable[[dict[str, Any]], str]] = {
    "metadata.name": lambda o: o.get("metadata", {}).get("name", ""),
    "metadata.namespace": lambda o: o.get("metadata", {}).get("namespace", ""),
}
_EXTRA: dict[str, dict[str, Callable[[dict[str, Any]], str]]] = {
    "pods": {
        "spec.nodeName": lambda o: (o.get("spec") or {}).get("nodeName", "") or "",
        "status.phase": lambda o: (o.get("status") or {}).get("phase", "") or "",
    },
    "nodes": {
        "spec.unschedulable": lambda o: str(
            bool((o.get("spec") or {}).get("unschedulable"))
        ).lower()
    },
}


@attrs.frozen
class FieldRequirement:
    field: str
    equal: bool
    value: str
    getter: Callable[[dict[str, Any]], str] = attrs.field(eq=False, repr=False)

    def matches(self, obj: dict[str, Any]) -> bool:
        return (self.getter(obj) == self.value) == self.equal


@attrs.frozen
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: dict[str, Any]) -> bool:
        return all(r.matches(obj) for r in self.requirements)

    def value_of(self, field: str) -> str | None:
        """The value required by an ``=`` term on ``field`` (None if there is none)."""
        for r in self.requirements:
            if r.field == field and r.equal:
                return r.value
        return None


def parse(text: str | None, resource: str) -> FieldSelector:
    if not text:
        return FieldSelector()
    getters = {**_COMMON, **_EXTRA.get(resource, {})}
    requirements = []
    for term in text.split(","):
        term = term.strip()
        if not term:
            continue
        for op in ("!=", "==", "="):
            if op in term:
                field, value = (part.strip() for part in term.split(op, 1))
                break
        else:
            raise bad_request(f"invalid field selector {text!r}: {term!r} has no '=', '==' or '!='")
        if field not in getters:
            raise bad_request(
                f'field label not supported: "{field}" for {resource}; '
                f"supported: {', '.join(getters)}"
            )
        requirements.append(FieldRequirement(field, op != "!=", value, getters[field]))
    return FieldSelector(tuple(requirements))


def parse_label_selector(text: str | None) -> selectors.Selector | None:
    """``?labelSelector=`` parsed; a bad one is a 400 naming what is wrong."""
    if not text:
        return None
    try:
        return selectors.parse(text)
    except selectors.SelectorError as exc:
        raise bad_request(f"unable to parse requirement: {exc}") from None


def selected(
    obj: dict[str, Any] | None,
    label_selector: selectors.Selector | None,
    field_selector: FieldSelector | None,
) -> bool:
    """Whether an object (a wire dict) is in the selection; None never is."""
    if obj is None:
        return False
    if label_selector is not None and not label_selector.matches(
        obj.get("metadata", {}).get("labels")
    ):
        return False
    return field_selector is None or field_selector.matches(obj)


def watch_event_type(
    deleted: bool,
    obj: dict[str, Any] | None,
    previous: dict[str, Any] | None,
    label_selector: selectors.Selector | None,
    field_selector: FieldSelector | None,
) -> str | None:
    """The watch event a change is for a selecting watcher (Kubernetes' rule): entering
    the selection is ADDED, staying MODIFIED, leaving or deletion DELETED; None when
    the watcher does not see the object before or after."""
    was_in = selected(previous, label_selector, field_selector)
    if deleted:
        return "DELETED" if was_in else None
    if selected(obj, label_selector, field_selector):
        return "MODIFIED" if was_in else "ADDED"
    return "DELETED" if was_in else None
