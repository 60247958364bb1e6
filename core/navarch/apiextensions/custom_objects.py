"""What a custom object goes through, in Kubernetes' order: defaults applied, unknown
fields pruned, then validated — its apiVersion and kind, its metadata (as every
object's), and the rest against the CRD version's structural schema.

``prepare`` is the read path and the first half of the write path (Kubernetes defaults
and prunes objects read from storage too); ``admit`` is the write path::

    >>> from navarch.apiextensions.structural import structural
    >>> schema = structural({"type": "object", "properties": {"spec": {"type": "object",
    ...     "properties": {"replicas": {"type": "integer", "default": 1}}}}})
    >>> kind = CustomKind("stable.example.com/v1", "CronTab", namespaced=True)
    >>> admitted = admit({"apiVersion": "stable.example.com/v1", "kind": "CronTab",
    ...     "metadata": {"name": "c", "namespace": "default"},
    ...     "spec": {"extra": True}}, schema, kind)
    >>> admitted.obj["spec"], admitted.warnings
    ({'replicas': 1}, ('unknown field "spec.extra"',))
    >>> bad = {"apiVersion": "stable.example.com/v1", "kind": "CronTab",
    ...        "metadata": {"name": "c", "namespace": "default"}, "spec": {"replicas": "3"}}
    >>> admit(bad, schema, kind)  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    navarch.api.errors.InvalidObject: CronTab.stable.example.com "c" is invalid: [spec.replicas:
    Invalid value: "string": spec.replicas in body must be of type integer: "string"]

Both return new dicts; the caller's object is left as it was.
"""

from __future__ import annotations

from typing import Any

import attrs

from navarch.api import errors, names
from navarch.api.errors import InvalidObject
from navarch.api.field_checks import Errors
from navarch.api.meta import ObjectMeta
from navarch.api.schema import Decoded
from navarch.api.validation.object_meta import validate_object_meta
from navarch.apiextensions.defaulting import default
from navarch.apiextensions.pruning import prune
from navarch.apiextensions.structural import Structural
from navarch.apiextensions.validation import validate


@attrs.frozen
class CustomKind:
    """The served identity of a custom resource (from its CRD)."""

    api_version: str  # group/version
    kind: str
    namespaced: bool

    @property
    def qualified_kind(self) -> str:
        """``CronTab.stable.example.com``: how Kubernetes names the kind in messages."""
        group = self.api_version.rpartition("/")[0]
        return f"{self.kind}.{group}" if group else self.kind


@attrs.frozen
class Admitted:
    obj: dict[str, Any]
    # Kubernetes' warnings for pruned fields: 'unknown field "spec.foo"'
    warnings: tuple[str, ...] = ()


def prepare(obj: dict[str, Any], schema: Structural) -> Admitted:
    """``obj`` defaulted then pruned (a new dict), with a warning per pruned field."""
    removed: list[str] = []
    pruned = prune(default(obj, schema), schema, removed=removed)
    return Admitted(pruned, tuple(f'unknown field "{path}"' for path in removed))


def admit(obj: dict[str, Any], schema: Structural, kind: CustomKind) -> Admitted:
    """``prepare`` then validate; raises :class:`InvalidObject` with every error."""
    prepared = prepare(obj, schema)
    errs = object_errors(prepared.obj, schema, kind)
    if errs:
        name = (prepared.obj.get("metadata") or {}).get("name")
        raise InvalidObject(kind.qualified_kind, name if isinstance(name, str) else None, errs)
    return prepared


def object_errors(obj: dict[str, Any], schema: Structural, kind: CustomKind) -> Errors:
    """Every error of a prepared custom object (empty when valid)."""
    errs: Errors = []
    if obj.get("apiVersion") != kind.api_version:
        errs.append(errors.not_supported("apiVersion", obj.get("apiVersion"), [kind.api_version]))
    if obj.get("kind") != kind.kind:
        errs.append(errors.not_supported("kind", obj.get("kind"), [kind.kind]))
    decoded = Decoded()
    meta = decoded.structure(ObjectMeta, obj.get("metadata"), "metadata")
    errs += decoded.errors
    errs += validate_object_meta(meta, "metadata", kind.namespaced, names.dns1123_subdomain)
    body = {k: v for k, v in obj.items() if k != "metadata"}
    # metadata's own rules are ObjectMeta's (above); the schema may narrow only the name
    metadata_schema = schema.properties.get("metadata")
    if metadata_schema is not None and isinstance(obj.get("metadata"), dict):
        narrowed = {k: v for k, v in obj["metadata"].items() if k in ("name", "generateName")}
        errs += validate(narrowed, metadata_schema, "metadata")
    errs += validate(body, attrs.evolve(schema, required=_without(schema.required, "metadata")))
    return errs


def _without(names_: tuple[str, ...], name: str) -> tuple[str, ...]:
    return tuple(n for n in names_ if n != name)
