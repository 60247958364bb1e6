"""What differs per resource on the generic write path (Kubernetes' RESTCreateStrategy /
RESTUpdateStrategy): the generic storage asks the strategy, it never tests a kind.

A strategy answers:

* ``default(obj)``: Kubernetes' defaults of the kind, set on the wire dict before it is
  decoded (``navarch.api.decode``; what every object gets, its namespace, is set there).
* ``validate(obj)``: the kind's own rules on the decoded, defaulted object (what every
  object has, apiVersion, kind and metadata, is checked by ``navarch.api.validation``),
  with ``validate_name(name)`` the rule its names follow.
* ``prepare_for_create(obj)``: reset what a client may not set on create (status).
* ``prepare_for_update(new, old)``: keep what the main resource may not change (status,
  when status is a subresource).
* ``prepare_for_subresource_update(sub, new, old)``: keep everything but what the
  subresource owns (status; a namespace's finalizers).
* ``validate_create(new)``: rules of a create only (a pod's ephemeral containers).
* ``validate_update(new, old)``: rules that compare the two decoded, defaulted objects
  (the pod update rule).
* ``validate_subresource_update(sub, new, old)``: the same for a write through a
  subresource (a pod's ephemeral containers may be added, never changed or removed).
* ``tracks_generation``: whether ``metadata.generation`` counts spec changes.
* ``grace_period(obj, requested)``: how long a delete waits for someone to confirm it
  (pods on a node: their agent); None removes at once.
* ``removes_without_finalizers``: an object marked for deletion goes once its last
  finalizer is gone (pods wait for their agent instead).
* ``garbage_collection``: what a delete without a propagation policy does to the
  object's dependents (:mod:`navarch.apiserver.propagation`); ``Unsupported`` for kinds
  the garbage collector does not watch.

A kind's strategy is part of its resource spec (:class:`navarch.resources.Resource`)
and lives beside the kind (the core's in :mod:`navarch.resources.core`). This module
imports nothing of the API server, so a client or a plugin can import a spec; a
strategy that must refuse a request raises :class:`navarch.api.errors.InvalidObject`
or one of :mod:`navarch.apiserver.errors`' exceptions imported where it is raised.
"""

from __future__ import annotations

import copy
from typing import Any

from navarch.api import names
from navarch.api.errors import FieldError

Obj = dict[str, Any]
# Subresources that write one part of the object (the rest is kept from the old one).
PARTIAL_SUBRESOURCES = frozenset({"status", "finalize", "ephemeralcontainers"})
# What a delete without a propagation policy does to the object's dependents
# (Kubernetes' rest.GarbageCollectionPolicy; :mod:`navarch.apiserver.propagation`).
DELETE_DEPENDENTS = "DeleteDependents"
ORPHAN_DEPENDENTS = "OrphanDependents"
UNSUPPORTED = "Unsupported"


class Strategy:
    """The default: no status subresource, no generation, deleted at once."""

    has_status = False
    tracks_generation = False
    removes_without_finalizers = True
    garbage_collection = UNSUPPORTED
    initial_status: Obj | None = None

    def default(self, obj: Obj) -> None:
        """Set the kind's defaults in ``obj`` (a wire dict the caller owns, not yet
        decoded: a value of the wrong type is left for decoding to report)."""

    def validate(self, obj: Any) -> list[FieldError]:
        """The kind's own field errors on the decoded object (empty when valid)."""
        return []

    def validate_name(self, name: str) -> list[str]:
        """What is wrong with ``name`` as a name of this kind (Kubernetes' default: a DNS
        subdomain)."""
        return names.dns1123_subdomain(name)

    def prepare_for_create(self, obj: Obj) -> None:
        if self.has_status:
            obj["status"] = copy.deepcopy(self.initial_status or {})
        if self.tracks_generation:
            obj["metadata"]["generation"] = 1

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        if self.has_status:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)

    def prepare_for_subresource_update(self, subresource: str, new: Obj, old: Obj) -> Obj:
        """The object a write to ``subresource`` makes: the old one with only the part the
        subresource owns taken from ``new`` (status; a namespace's spec.finalizers)."""
        merged = copy.deepcopy(old)
        if subresource == "status":
            merged["status"] = new.get("status")
        elif subresource == "finalize":
            spec = {**(old.get("spec") or {})}
            spec["finalizers"] = list((new.get("spec") or {}).get("finalizers") or [])
            merged["spec"] = spec
        elif subresource == "ephemeralcontainers":
            spec = {**(old.get("spec") or {})}
            wanted = (new.get("spec") or {}).get("ephemeralContainers")
            if wanted:
                spec["ephemeralContainers"] = wanted
            else:
                spec.pop("ephemeralContainers", None)
            merged["spec"] = spec
        return merged

    def validate_create(self, new: Any) -> list[FieldError]:
        return []

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return []

    def validate_subresource_update(self, subresource: str, new: Any, old: Any) -> list[FieldError]:
        return []

    def spec_changed(self, new: Any, old: Any) -> bool:
        """Compared on the decoded, defaulted objects, so ``cpu: "0.5"`` and ``"500m"``,
        or a manifest without the stored defaults, are no change (Kubernetes compares
        semantically too)."""
        return getattr(new, "spec", None) != getattr(old, "spec", None)

    def grace_period(self, obj: Obj, requested: Any) -> int | None:
        return None

    def finalizers(self, obj: Obj) -> list[str]:
        """What must be done before a deleted object may go."""
        return list(obj["metadata"].get("finalizers") or [])

    def mark_terminating(self, obj: Obj) -> None:
        """Changes besides deletionTimestamp when a delete has to wait."""


DEFAULT = Strategy()
