"""Which garbage-collection finalizers a delete puts on the object, from
``DeleteOptions.propagationPolicy`` (or the legacy ``orphanDependents``), as Kubernetes'
generic registry decides it:

* ``Orphan`` (or ``orphanDependents: true``): the ``orphan`` finalizer — the garbage
  collector strips the object's dependents of their references to it, then lets it go.
* ``Foreground``: the ``foregroundDeletion`` finalizer — the collector deletes the
  dependents first and lets the object go once no dependent that blocks it is left.
* ``Background``: neither — the object goes at once, the collector removes the
  dependents afterwards.

Without a policy, a finalizer the object already carries decides, else the kind's
default (:attr:`Strategy.garbage_collection`: Background for pods, ReplicaSets and
Deployments as in Kubernetes' apps/v1). Kinds the collector does not watch are
``Unsupported``: a policy is ignored for them, as a finalizer nobody removes would
hold them forever.
"""

from __future__ import annotations

from typing import Any

from navarch.apiserver import errors

# A kind's default (Kubernetes' rest.GarbageCollectionPolicy), declared by its strategy.
from navarch.resources.strategy import ORPHAN_DEPENDENTS, UNSUPPORTED

ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"
GC_FINALIZERS = (ORPHAN_FINALIZER, FOREGROUND_FINALIZER)


Obj = dict[str, Any]


def check_options(options: Obj) -> None:
    """``orphanDependents`` must be a boolean, and not sent with ``propagationPolicy``
    (Kubernetes refuses the pair as invalid)."""
    orphan = options.get("orphanDependents")
    if orphan is not None and not isinstance(orphan, bool):
        raise errors.bad_request(
            f"DeleteOptions.orphanDependents must be a boolean, got {orphan!r}"
        )
    if orphan is not None and options.get("propagationPolicy") is not None:
        raise errors.invalid(
            "DeleteOptions",
            "",
            "",
            [
                {
                    "reason": "FieldValueInvalid",
                    "field": "propagationPolicy",
                    "message": "orphanDependents and propagationPolicy cannot be both set; "
                    "send propagationPolicy only",
                }
            ],
        )


def finalizers_after_delete(default_policy: str, meta: Obj, options: Obj) -> list[str]:
    """The object's ``metadata.finalizers`` as this delete leaves them: the other
    finalizers in their order, then ``orphan`` or ``foregroundDeletion`` as the policy
    asks. The list read is returned unchanged when the set is the same."""
    current = list(meta.get("finalizers") or [])
    if default_policy == UNSUPPORTED:
        return current
    wanted = [f for f in current if f not in GC_FINALIZERS]
    if _orphans(default_policy, current, options):
        wanted.append(ORPHAN_FINALIZER)
    elif _deletes_in_foreground(current, options):
        wanted.append(FOREGROUND_FINALIZER)
    return current if set(wanted) == set(current) else wanted


def _orphans(default_policy: str, current: list[str], options: Obj) -> bool:
    if options.get("orphanDependents") is not None:
        return bool(options["orphanDependents"])
    policy = options.get("propagationPolicy")
    if policy is not None:
        return policy == "Orphan"
    if ORPHAN_FINALIZER in current:
        return True
    if FOREGROUND_FINALIZER in current:
        return False
    return default_policy == ORPHAN_DEPENDENTS


def _deletes_in_foreground(current: list[str], options: Obj) -> bool:
    if options.get("orphanDependents") is not None:
        return False
    policy = options.get("propagationPolicy")
    if policy is not None:
        return policy == "Foreground"
    return FOREGROUND_FINALIZER in current
