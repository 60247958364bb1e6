"""Field selectors (``?fieldSelector=spec.nodeName=n1,status.phase!=Failed``) on the
fields each resource supports.

Kubernetes lets each resource name the fields a selector may use (its strategy's
``GetAttrs``/``ToSelectableFields``); every other field is refused with 400 "field label
not supported". Here each resource spec lists them (``Resource.field_selectors``,
:mod:`navarch.resources.fields`), each read from the wire dict as Kubernetes renders it
(a missing field is ``""``, booleans are ``"true"``/``"false"``). ``kubectl describe``
relies on the event fields: it lists a pod's events with ``involvedObject.name=…,
involvedObject.namespace=…,involvedObject.kind=…,involvedObject.uid=…``.

Syntax as in ``k8s.io/apimachinery/pkg/fields``: terms separated by ``,``, each
``field=value``, ``field==value`` or ``field!=value``; a backslash escapes ``\\``, ``,``
and ``=`` inside a value.
"""

from __future__ import annotations

from typing import Any

import attrs

from navarch.api import selectors
from navarch.apiserver.errors import bad_request
from navarch.resources.fields import COMMON, Getter
from navarch.resources.spec import Resource


def supported_fields(res: Resource) -> tuple[str, ...]:
    """The field labels a selector on ``res`` may name."""
    return (*COMMON, *res.field_selectors)


@attrs.frozen
class FieldRequirement:
    field: str
    equal: bool
    value: str
    getter: Getter = attrs.field(eq=False, repr=False)

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


def parse(text: str | None, res: Resource) -> FieldSelector:
    """Parse a ``fieldSelector`` for ``res``; a term naming a field the resource does not
    support (:attr:`Resource.field_selectors`), or with no operator, is a 400 saying which."""
    if not text:
        return FieldSelector()
    getters = {**COMMON, **res.field_selectors}
    requirements = []
    for term in _split_terms(text):
        if not term.strip():
            continue
        parsed = _split_term(term)
        if parsed is None:
            raise bad_request(f"invalid field selector {text!r}: {term!r} has no '=', '==' or '!='")
        field, op, value = parsed
        if field not in getters:
            raise bad_request(
                f'field label not supported: "{field}" for {res.plural}; '
                f"supported: {', '.join(getters)}"
            )
        requirements.append(FieldRequirement(field, op != "!=", value, getters[field]))
    return FieldSelector(tuple(requirements))


def _split_terms(text: str) -> list[str]:
    """Split on commas not escaped by a backslash (escapes stay for the term parser)."""
    terms, current, escaped = [], [], False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            current.append(ch)
            escaped = True
        elif ch == ",":
            terms.append("".join(current))
            current = []
        else:
            current.append(ch)
    terms.append("".join(current))
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    """``field``, operator and unescaped value of one term; None without an operator.
    The operator is the first unescaped ``!=``, ``==`` or ``=``."""
    i = 0
    while i < len(term):
        ch = term[i]
        if ch == "\\":
            i += 2
            continue
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                field = term[:i].strip()
                return field, op, _unescape(term[i + len(op) :].strip())
        i += 1
    return None


def _unescape(value: str) -> str:
    out, escaped = [], False
    for ch in value:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        else:
            out.append(ch)
    return "".join(out)


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
