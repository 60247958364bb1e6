"""Every write's way through the object model and admission: defaults, strict decoding
(as the request's ``fieldValidation`` asks), the ``navarch_admission_*`` hooks, and the
warnings a client is shown.

Warnings follow Kubernetes: they name what *this request* brought — an unknown field
dropped under ``fieldValidation=Warn``, or a Kubernetes field Navarch keeps but does
not act on that the request set (a field already stored draws no warning again, so
``kubectl label`` of a pod with probes stays quiet).
"""

from __future__ import annotations

from typing import Any

import pluggy

from navarch import api
from navarch.admission import DELETE, AdmissionRequest, admit
from navarch.api.errors import UNKNOWN, InvalidObject
from navarch.apiserver import errors
from navarch.apiserver.objects import Obj, WriteContext
from navarch.resources.spec import Resource, Unstructured

STRICT, WARN, IGNORE = "Strict", "Warn", "Ignore"
FIELD_VALIDATION = (STRICT, WARN, IGNORE)
# Kubernetes leaves empty maps and lists out of metadata (omitempty): so does the store,
# or `kubectl diff` would show `annotations: {}` against a manifest without it.
_OMIT_WHEN_EMPTY = ("labels", "annotations", "finalizers", "ownerReferences")


def admit_write(
    pm: pluggy.PluginManager,
    res: Resource,
    obj: Obj,
    operation: str,
    old: Any,
    ctx: WriteContext,
    *,
    ignored_before: frozenset[str] = frozenset(),
) -> tuple[Any, Obj, tuple[str, ...]]:
    """The typed object, its wire dict, and the warnings for the client.
    ``ignored_before``: paths of kept-but-ignored fields the stored object had."""
    if res.unstructured:
        return _admit_unstructured(pm, res, obj, operation, old, ctx)
    try:
        decoding = api.decode(obj)
    except api.UnknownKind as exc:
        raise errors.bad_request(str(exc)) from None
    decode_errors, unknown = list(decoding.errors), []
    if ctx.field_validation != STRICT:  # unknown fields are dropped (decoding left them out)
        unknown = [e for e in decode_errors if e.reason == UNKNOWN]
        decode_errors = [e for e in decode_errors if e.reason != UNKNOWN]
    request = AdmissionRequest(
        operation,
        res.kind,
        decoding.obj,
        old,
        user=ctx.user,
        namespace=obj["metadata"].get("namespace", ""),
        name=obj["metadata"].get("name", ""),
        subresource=ctx.subresource or None,
        dry_run=ctx.dry_run,
    )
    try:
        typed = admit(pm, request)
        problems: list[Any] = []
    except InvalidObject as exc:
        typed, problems = decoding.obj, list(exc.errors)
    if decode_errors or problems:
        merged = api.merge_errors(tuple(decode_errors), problems)
        raise errors.from_invalid_object(
            InvalidObject(res.kind, decoding.name, merged), res.group
        ) from None
    warnings = [
        f"ignored field {path}: Navarch keeps it but does not act on it"
        for path in decoding.ignored
        if path not in ignored_before
    ]
    if ctx.field_validation == WARN:
        warnings += [f'unknown field "{e.path}"' for e in unknown]
    dumped = api.dump(typed)
    meta = dumped["metadata"]
    for key in _OMIT_WHEN_EMPTY:
        if key in meta and not meta[key]:
            del meta[key]
    return typed, dumped, tuple(warnings)


def _admit_unstructured(
    pm: pluggy.PluginManager, res: Resource, obj: Obj, operation: str, old: Any, ctx: WriteContext
) -> tuple[Any, Obj, tuple[str, ...]]:
    """A custom object: the strategy admits the dict (defaults, pruning, its schema),
    then the admission hooks see it as the dict it is."""
    strategy = res.strategy
    assert isinstance(strategy, Unstructured)  # the registry checks
    try:
        admitted, warnings = strategy.admit_unstructured(obj, ctx.field_validation)
    except InvalidObject as exc:
        raise errors.from_invalid_object(exc, res.group) from None
    request = AdmissionRequest(
        operation,
        res.kind,
        admitted,
        old,
        user=ctx.user,
        namespace=admitted["metadata"].get("namespace", ""),
        name=admitted["metadata"].get("name", ""),
        subresource=ctx.subresource or None,
        dry_run=ctx.dry_run,
    )
    try:
        result = admit(pm, request)
    except InvalidObject as exc:
        raise errors.from_invalid_object(
            InvalidObject(exc.kind or res.kind, admitted["metadata"].get("name"), exc.errors),
            res.group,
        ) from None
    dumped = result if isinstance(result, dict) else admitted
    meta = dumped["metadata"]
    for key in _OMIT_WHEN_EMPTY:
        if key in meta and not meta[key]:
            del meta[key]
    return dumped, dumped, tuple(warnings)


def decoded(res: Resource, obj: Obj) -> Any:
    """What admission and the strategy see of a stored object: the model's instance,
    or the dict itself for an unstructured resource."""
    return obj if res.unstructured else api.decode(obj).obj


def admit_delete(pm: pluggy.PluginManager, res: Resource, current: Obj, ctx: WriteContext) -> None:
    """DELETE admission: validating plugins see the stored object being deleted."""
    meta = current["metadata"]
    request = AdmissionRequest(
        DELETE,
        res.kind,
        decoded(res, current),
        None,
        user=ctx.user,
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        subresource=ctx.subresource or None,
        dry_run=ctx.dry_run,
    )
    try:
        admit(pm, request)
    except InvalidObject as exc:
        raise errors.from_invalid_object(exc, res.group) from None
