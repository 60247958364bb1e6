"""The field manager: who owns which fields of an object, kept in ``metadata.managedFields``.

Two kinds of write change ownership (Kubernetes' structured-merge-diff rules):

- An *Update* (create, update, any non-apply patch, a status write) makes its manager the
  owner of every field it added or changed, takes those fields from every other manager,
  and drops fields it removed from everyone. It never conflicts: a plain write means
  "make the object look exactly like this".
- An *Apply* states the whole intent of one manager: it owns exactly the fields its
  configuration sets. Fields it owned before and no longer sets are removed from the
  object unless another manager owns them too. Changing a field another manager owns is
  a conflict (409) unless ``force`` is set, which moves the ownership. Setting a field to
  the value it already has is no conflict: the owners then share it.

A manager is identified by name, operation and subresource, and for an Update also by
the API version it wrote with; so "kubectl" applying and "kubectl" updating are two
entries, as in Kubernetes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import attrs
from loguru import logger

from navarch.apiserver import errors
from navarch.apiserver.apply import fieldset, lastapplied
from navarch.apiserver.apply.fieldset import FieldSet, Path
from navarch.apiserver.apply.merge import merge

APPLY, UPDATE = "Apply", "Update"
MAX_MANAGER_LENGTH = 128
MAX_UPDATE_ENTRIES = 10
ANCIENT = "ancient-changes"
_FROM_NEW: Any = object()


@attrs.frozen
class Manager:
    """One writer, as named in a managedFields entry."""

    name: str
    operation: str
    api_version: str
    subresource: str = ""

    @property
    def identity(self) -> tuple[str, str, str, str]:
        # An applier keeps one entry whatever version it applies with.
        version = self.api_version if self.operation == UPDATE else ""
        return (self.name, self.operation, self.subresource, version)

    def describe(self) -> str:
        """As Kubernetes names a manager in a conflict: ``"kubectl-edit" using v1``."""
        text = json.dumps(self.name)
        if self.subresource:
            text += f" with subresource {json.dumps(self.subresource)}"
        if self.operation == UPDATE:
            text += f" using {self.api_version}"
        return text


@attrs.frozen
class Owned:
    manager: Manager
    fields: FieldSet
    time: str | None = None


Managed = dict[tuple[str, str, str, str], Owned]


# --- request options ------------------------------------------------------------------------


def manager_name(field_manager: str | None, user_agent: str | None) -> str:
    """The ``fieldManager`` parameter, else (as Kubernetes does) the User-Agent up to its
    first "/": ``kubectl/v1.32.4 (linux/amd64) ...`` is "kubectl",
    ``OpenAPI-Generator/33.1.0/python`` (the official Python client) "OpenAPI-Generator"."""
    if field_manager:
        return field_manager
    name = (user_agent or "").split("/", 1)[0][:MAX_MANAGER_LENGTH]
    return name or "unknown"


def check_options(field_manager: str | None, force: str | None, *, apply: bool) -> bool:
    """Validate ``fieldManager`` and ``force`` as Kubernetes' PatchOptions do; returns
    whether to force. 422 Invalid (kind PatchOptions) naming the field otherwise."""
    problems: list[tuple[str, str, str]] = []
    if apply and not field_manager:
        problems.append(
            ("fieldManager", "FieldValueRequired", "Required value: is required for apply patch")
        )
    if not apply and force is not None:
        problems.append(
            ("force", "FieldValueForbidden", "Forbidden: may not be specified for non-apply patch")
        )
    if field_manager and len(field_manager) > MAX_MANAGER_LENGTH:
        problems.append(
            (
                "fieldManager",
                "FieldValueTooLong",
                f"Too long: must have at most {MAX_MANAGER_LENGTH} bytes",
            )
        )
    if field_manager and not field_manager.isprintable():
        problems.append(
            (
                "fieldManager",
                "FieldValueInvalid",
                "Invalid value: must only contain printable characters",
            )
        )
    if force not in (None, "", "true", "false", "1", "0", "True", "False"):
        problems.append(
            ("force", "FieldValueInvalid", f"Invalid value: {force!r}: must be true or false")
        )
    if problems:
        text = ", ".join(f"{field}: {message}" for field, _, message in problems)
        raise errors.ApiError(
            422,
            "Invalid",
            f'PatchOptions.meta.k8s.io "" is invalid: {text}',
            details={
                "group": "meta.k8s.io",
                "kind": "PatchOptions",
                "causes": [
                    {"reason": reason, "message": message, "field": field}
                    for field, reason, message in problems
                ],
            },
        )
    return force in ("true", "1", "True")


# --- managedFields on the wire ------------------------------------------------------------


def decode(entries: Any) -> Managed:
    """Read ``metadata.managedFields``; entries that are not well-formed are dropped (a
    client that mangles them loses the history, never the write)."""
    managed: Managed = {}
    if not isinstance(entries, list):
        return managed
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("operation") not in (APPLY, UPDATE):
            continue
        manager = Manager(
            name=str(entry.get("manager") or ""),
            operation=entry["operation"],
            api_version=str(entry.get("apiVersion") or ""),
            subresource=str(entry.get("subresource") or ""),
        )
        fields = fieldset.from_fields_v1(entry.get("fieldsV1") or {})
        managed[manager.identity] = Owned(manager, fields, entry.get("time"))
    return managed


def encode(managed: Managed) -> list[dict[str, Any]]:
    """Entries in Kubernetes' order: Apply before Update, then oldest first, then by name."""
    ordered = sorted(
        (o for o in managed.values() if o.fields),
        key=lambda o: (
            o.manager.operation,
            o.time or "",
            o.manager.name,
            o.manager.api_version,
            o.manager.subresource,
        ),
    )
    out = []
    for owned in ordered:
        entry: dict[str, Any] = {
            "manager": owned.manager.name,
            "operation": owned.manager.operation,
            "apiVersion": owned.manager.api_version,
        }
        if owned.time:
            entry["time"] = owned.time
        entry["fieldsType"] = "FieldsV1"
        entry["fieldsV1"] = fieldset.to_fields_v1(owned.fields)
        if owned.manager.subresource:
            entry["subresource"] = owned.manager.subresource
        out.append(entry)
    return out


def _cap_updates(managed: Managed) -> None:
    """At most ``MAX_UPDATE_ENTRIES`` Update entries (Kubernetes' cap): the oldest fold
    into one "ancient-changes" entry per API version, so an object written by many
    clients, each its own manager, does not grow without bound."""
    updates = sorted(
        (o for o in managed.values() if o.manager.operation == UPDATE and o.fields),
        key=lambda o: o.time or "",
        reverse=True,
    )
    if len(updates) <= MAX_UPDATE_ENTRIES:
        return
    keep = [o for o in updates if o.manager.name != ANCIENT][: MAX_UPDATE_ENTRIES - 1]
    for owned in updates:
        if owned in keep:
            continue
        del managed[owned.manager.identity]
        bucket = Manager(ANCIENT, UPDATE, owned.manager.api_version)
        previous = managed.get(bucket.identity)
        fields = owned.fields | (previous.fields if previous else frozenset())
        times = [t for t in (owned.time, previous.time if previous else None) if t]
        managed[bucket.identity] = Owned(bucket, fields, max(times, default=None))


def _store(obj: dict[str, Any], managed: Managed) -> None:
    _cap_updates(managed)
    metadata = obj.setdefault("metadata", {})
    entries = encode(managed)
    if entries:
        metadata["managedFields"] = entries
    else:
        metadata.pop("managedFields", None)


def _is_reset(entries: Any) -> bool:
    """An empty list, or one entry with no fields, asks to clear managedFields."""
    if entries == []:
        return True
    return (
        isinstance(entries, list)
        and len(entries) == 1
        and isinstance(entries[0], dict)
        and not entries[0].get("fieldsV1")
    )


# --- Update --------------------------------------------------------------------------------


def record_update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    manager: Manager,
    now: str,
    *,
    untracked: Iterable[str] = (),
    sent: Any = _FROM_NEW,
) -> None:
    """Set ``new``'s managedFields after a non-apply write by ``manager`` (in place).

    ``old`` is None for a create. ``untracked`` names top-level fields this write cannot
    change (``status`` through the main resource), which nobody gains by it. The managed
    fields start from ``new``'s own when the client sent some (kubectl edit sends them
    back; an empty list clears them), and from ``old``'s otherwise, so a client that
    knows nothing of managedFields never erases them. A subresource write always starts
    from ``old``'s. ``sent`` gives the client's managedFields when the caller took them
    off ``new`` (so that admission does not see them).
    """
    if sent is _FROM_NEW:
        sent = (new.get("metadata") or {}).get("managedFields")
    old_entries = ((old or {}).get("metadata") or {}).get("managedFields")
    if manager.subresource or sent is None:
        managed = decode(old_entries)
    elif _is_reset(sent):
        managed = {}
    else:
        managed = decode(sent) or decode(old_entries)
    changes = fieldset.compare(
        fieldset.tracked(old or {}, exclude=untracked), fieldset.tracked(new, exclude=untracked)
    )
    touched = changes.changed | changes.removed
    for identity, owned in list(managed.items()):
        if identity != manager.identity and not owned.fields.isdisjoint(touched):
            managed[identity] = attrs.evolve(owned, fields=owned.fields - touched)
    previous = managed.get(manager.identity)
    before = previous.fields if previous else frozenset()
    mine = (before - changes.removed) | changes.changed
    time = previous.time if previous and mine == before else now
    managed[manager.identity] = Owned(manager, frozenset(mine), time)
    _store(new, managed)


# --- Apply ---------------------------------------------------------------------------------


def apply(
    live: dict[str, Any] | None,
    config: dict[str, Any],
    manager: Manager,
    now: str,
    *,
    force: bool,
    untracked: Iterable[str] = (),
) -> dict[str, Any]:
    """The object after ``manager`` applies ``config`` to ``live`` (None: it does not exist
    yet), with its managedFields. Raises 409 Conflict naming every field another manager
    owns and this apply would change, unless ``force``. Neither input is changed."""
    if (config.get("metadata") or {}).get("managedFields") is not None:
        raise errors.bad_request("metadata.managedFields must be nil in an apply configuration")
    untracked = tuple(untracked)
    live = live or {}
    managed = decode((live.get("metadata") or {}).get("managedFields"))
    others = {i: o for i, o in managed.items() if i != manager.identity}
    applied = fieldset.fields_of(fieldset.tracked(config, exclude=untracked))
    merged = merge(live, config)

    previous = managed.get(manager.identity)
    if previous is not None:
        kept = applied.union(*(o.fields for o in others.values()))
        fieldset.remove(merged, _released(previous.fields - kept, kept))

    changes = fieldset.compare(
        fieldset.tracked(live, exclude=untracked), fieldset.tracked(merged, exclude=untracked)
    )
    conflicts = [
        (owned.manager, path)
        for owned in others.values()
        for path in sorted(owned.fields & changes.changed)
    ]
    if conflicts and not force and manager.name == lastapplied.KUBECTL:
        allowed = lastapplied.allowed_conflicts(live, untracked)
        if all(path in allowed for _, path in conflicts):
            force = True  # kubectl moving from client-side apply: the same intent
    if conflicts and not force:
        raise conflict_error(conflicts)
    if conflicts:
        logger.bind(manager=manager.name, fields=len(conflicts)).info(
            "apply forced: ownership moved"
        )
    for identity, owned in others.items():
        managed[identity] = attrs.evolve(
            owned, fields=owned.fields - changes.changed - changes.removed
        )
    unchanged = (
        previous is not None
        and previous.fields == applied
        and not (changes.changed or changes.removed)
    )
    time = previous.time if unchanged and previous else now
    managed[manager.identity] = Owned(manager, applied, time)
    _store(merged, managed)
    if manager.name == lastapplied.KUBECTL:
        lastapplied.follow(merged, config)
    return merged


def _released(candidates: FieldSet, kept: FieldSet) -> list[Path]:
    """Of the fields a manager stopped applying and nobody else owns, those that can go:
    not a list item that still holds a field someone owns."""
    return [
        path
        for path in candidates
        if not any(len(other) > len(path) and other[: len(path)] == path for other in kept)
    ]


def conflict_error(conflicts: list[tuple[Manager, Path]]) -> errors.ApiError:
    """409 Conflict in Kubernetes' words, one cause per field."""
    conflicts = sorted(conflicts, key=lambda c: (c[0].describe(), c[1]))
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {manager.describe()}",
            "field": fieldset.path_text(path),
        }
        for manager, path in conflicts
    ]
    if len(conflicts) == 1:
        manager, path = conflicts[0]
        message = (
            f"Apply failed with 1 conflict: conflict with {manager.describe()}: "
            f"{fieldset.path_text(path)}"
        )
    else:
        lines: list[str] = []
        by_manager: dict[str, list[str]] = {}
        for manager, path in conflicts:
            by_manager.setdefault(manager.describe(), []).append(fieldset.path_text(path))
        for described in sorted(by_manager):
            lines.append(f"conflicts with {described}:")
            lines.extend(f"- {text}" for text in by_manager[described])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return errors.ApiError(409, "Conflict", message, details={"causes": causes})
