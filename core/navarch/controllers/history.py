"""ControllerRevisions as a DaemonSet's or StatefulSet's history (Kubernetes'
pkg/controller/history): the snapshot of the pod template each revision holds, the
hash that names it, which revisions an owner has, which one is current, creating one
when a name collides, and letting the oldest go past ``revisionHistoryLimit``.

A controller's sync uses it in this order::

    from navarch.controllers import history

    data = history.template_patch(api.dump(owner)["spec"]["template"])
    revisions = await history.claim(client, owner, selector, cached_revisions)
    current, old = history.split(revisions, data)
    number = history.next_number(old)
    if current is None:
        current, collisions = await history.create(
            client, owner, data, number, collision_count, template_labels=labels)
        # collisions != collision_count: write it to the owner's status.collisionCount
    elif (current.revision or 0) < number:
        current = await history.renumber(client, current, number)   # after an undo
    ...
    await history.truncate(client, old, limit, live_hashes)

What a revision looks like (``kubectl get controllerrevisions``)::

    metadata.name    <owner>-<hash>          e.g. fluentd-5f9d8c7b4
    metadata.labels  the template's labels + controller-revision-hash: <hash>
    ownerReferences  the owner, controller: true
    data             {"spec": {"template": {..., "$patch": "replace"}}}
    revision         1, 2, 3 …  (``kubectl rollout history``'s REVISION column)

``data`` is the strategic-merge patch ``kubectl rollout undo`` sends back to the owner
(the ``$patch: replace`` directive makes the template replace the owner's, not merge
into it), and what ``kubectl rollout history --revision=N`` shows.

The hash: Kubernetes feeds FNV-32a a Go pretty-print of the template and renders the
sum's decimal digits in ``rand.SafeEncodeString``'s alphabet (no vowels, nothing easily
confused); Navarch feeds it the data's JSON with sorted keys, so names look the same
and are stable here, but not equal to those a Kubernetes cluster would give the same
template. A collision (the name taken by a revision with other data) is resolved as
Kubernetes does: the owner's ``status.collisionCount`` goes into the hash, one higher.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from navarch.api.apps_v1 import ControllerRevision
from navarch.api.meta import TopLevel
from navarch.api.selectors import Selector
from navarch.client.client import Client
from navarch.client.errors import AlreadyExists, ApiException, Conflict, NotFound
from navarch.controllers import claiming
from navarch.controllers.owners import controller_of, owner_reference

# The label on a revision (and on the pods made from it) naming the revision's hash:
# apps.ControllerRevisionHashLabelKey. A DaemonSet's pods carry the hash, a
# StatefulSet's the revision's whole name (Kubernetes does the same).
HASH_LABEL = "controller-revision-hash"

# Kubernetes keeps a name's prefix to 223 characters so that "-<hash>" still fits a
# 253-character object name (history.ControllerRevisionName).
_MAX_PREFIX = 223

# rand.SafeEncodeString's alphabet.
_SAFE = "bcdfghjklmnpqrstvwxz2456789"
_FNV32_OFFSET = 0x811C9DC5
_FNV32_PRIME = 0x01000193


def fnv32a(data: bytes) -> int:
    value = _FNV32_OFFSET
    for byte in data:
        value = ((value ^ byte) * _FNV32_PRIME) & 0xFFFFFFFF
    return value


def safe_encode(text: str) -> str:
    return "".join(_SAFE[ord(char) % len(_SAFE)] for char in text)


def canonical(data: Any) -> bytes:
    """The bytes two equal snapshots share: JSON with sorted keys, no spaces."""
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def revision_hash(data: Any, collision_count: int | None = None) -> str:
    """The hash naming a revision holding ``data``: FNV-32a over its canonical JSON,
    then (given a collision count) the count as 8 little-endian bytes, as Kubernetes'
    ``controller.ComputeHash`` adds it; the sum's decimal, safe-encoded."""
    raw = canonical(data)
    if collision_count is not None:
        raw += (collision_count & 0xFFFFFFFF).to_bytes(4, "little") + bytes(4)
    return safe_encode(str(fnv32a(raw)))


def revision_name(owner_name: str, hash_: str) -> str:
    return f"{owner_name[:_MAX_PREFIX]}-{hash_}"


def template_patch(template: Mapping[str, Any] | None) -> dict[str, Any]:
    """The data a revision stores for a pod template (wire form): the patch that puts
    the template back on its owner, replacing whatever template it has then."""
    body = copy.deepcopy(dict(template or {}))
    body["$patch"] = "replace"
    return {"spec": {"template": body}}


def template_of(revision: ControllerRevision) -> dict[str, Any]:
    """The pod template a revision holds (wire form, without the patch directive)."""
    data = revision.data if isinstance(revision.data, dict) else {}
    template = dict((data.get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return template


def same_data(revision: ControllerRevision, data: Any) -> bool:
    """Whether ``revision`` holds ``data`` (compared as JSON, key order aside)."""
    return canonical(revision.data) == canonical(data)


def number(revision: ControllerRevision) -> int:
    return revision.revision or 0


def by_number(revisions: Iterable[ControllerRevision]) -> list[ControllerRevision]:
    """Oldest first: by revision number, then creation time, then name."""

    def order(r: ControllerRevision) -> tuple[int, str, str]:
        meta = r.metadata
        return (number(r), (meta.creation_timestamp if meta else None) or "", r.name or "")

    return sorted(revisions, key=order)


def next_number(revisions: Iterable[ControllerRevision]) -> int:
    """The number the next revision gets: one above the highest."""
    return max((number(r) for r in revisions), default=0) + 1


def hash_of(revision: ControllerRevision) -> str:
    """The revision's hash label (its name when an old revision lacks the label, as
    Kubernetes' DaemonSet controller then writes)."""
    labels = (revision.metadata.labels if revision.metadata else None) or {}
    return labels.get(HASH_LABEL) or revision.name or ""


def split(
    revisions: Iterable[ControllerRevision], data: Any
) -> tuple[ControllerRevision | None, list[ControllerRevision]]:
    """The revision holding ``data`` (the owner's current template: the newest one if
    several do, as after an undo raced a create) and all the others (the old ones,
    including any duplicate of the current)."""
    matching: list[ControllerRevision] = []
    old: list[ControllerRevision] = []
    for revision in revisions:
        (matching if same_data(revision, data) else old).append(revision)
    if not matching:
        return None, old
    ordered = by_number(matching)
    return ordered[-1], old + ordered[:-1]


# --- the API calls -------------------------------------------------------------------


def new_revision(
    owner: TopLevel,
    data: Any,
    revision: int,
    collision_count: int | None = None,
    *,
    template_labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The body of the ControllerRevision ``owner`` keeps for ``data`` as revision
    number ``revision``: named ``<owner>-<hash>``, labelled with the template's labels
    and :data:`HASH_LABEL`, controlled by ``owner``. ``annotations`` (the owner's
    change-cause…) are what ``kubectl rollout history`` prints."""
    hash_ = revision_hash(data, collision_count)
    labels = dict(template_labels or {})
    labels[HASH_LABEL] = hash_
    meta: dict[str, Any] = {
        "name": revision_name(owner.name or "", hash_),
        "namespace": owner.namespace,
        "labels": labels,
        "ownerReferences": [owner_reference(owner)],
    }
    if annotations:
        meta["annotations"] = dict(annotations)
    return {
        "apiVersion": ControllerRevision.API_VERSION,
        "kind": ControllerRevision.KIND,
        "metadata": meta,
        "data": data,
        "revision": revision,
    }


async def create(
    client: Client,
    owner: TopLevel,
    data: Any,
    revision: int,
    collision_count: int | None,
    *,
    template_labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> tuple[ControllerRevision, int | None]:
    """Create the revision holding ``data`` (history.CreateControllerRevision): when
    its name is taken by a revision with the same data, that one is it; taken by
    other data (a hash collision), the collision count goes up by one and the name is
    hashed again. Returns the revision and the collision count used, which the caller
    writes to the owner's ``status.collisionCount`` when it changed (so that the next
    sync computes the same name)."""
    while True:
        body = new_revision(
            owner,
            data,
            revision,
            collision_count,
            template_labels=template_labels,
            annotations=annotations,
        )
        name = body["metadata"]["name"]
        try:
            return await client.controllerrevisions.create(body, owner.namespace), collision_count
        except AlreadyExists:
            existing = await client.controllerrevisions.get(name, owner.namespace)
            if same_data(existing, data):
                return existing, collision_count
        collision_count = (collision_count or 0) + 1


async def renumber(client: Client, revision: ControllerRevision, new_number: int) -> Any:
    """Give ``revision`` number ``new_number`` (the owner went back to it: an undo)."""
    return await client.controllerrevisions.patch(
        revision.name, {"revision": new_number}, revision.namespace
    )


async def claim(
    client: Client,
    owner: TopLevel,
    selector: Selector,
    revisions: Iterable[ControllerRevision],
) -> list[ControllerRevision]:
    """The owner's revisions among ``revisions`` (those of its namespace, from a
    cache): the ones it controls whose labels its selector still matches, plus orphans
    it matches, which it adopts (ControllerRevisionControllerRefManager). One it
    controls that no longer matches is released. A revision gone meanwhile is skipped;
    another failure is raised after the others were tried."""
    uid = owner.metadata.uid if owner.metadata else None
    deleting = bool(owner.metadata and owner.metadata.deletion_timestamp)
    owned: list[ControllerRevision] = []
    failure: ApiException | None = None
    for revision in revisions:
        labels = (revision.metadata.labels if revision.metadata else None) or {}
        matches = selector.matches(labels)
        ref = controller_of(revision)
        try:
            if ref is not None:
                if ref.uid != uid:
                    continue  # another controller's
                if matches:
                    owned.append(revision)
                elif not deleting:
                    await claiming.release(client.controllerrevisions, owner, revision)
            elif matches and not deleting:
                owned.append(await claiming.adopt(client.controllerrevisions, owner, revision))
        except NotFound:
            continue
        except ApiException as exc:
            failure = failure or exc
    if failure is not None:
        raise failure
    return owned


async def truncate(
    client: Client,
    old: Sequence[ControllerRevision],
    limit: int,
    live: Iterable[str] = (),
) -> list[str]:
    """Delete the oldest of the ``old`` revisions (not the current one) past ``limit``
    (``revisionHistoryLimit``), lowest number first, keeping any whose hash or name
    is in ``live`` (a pod still runs it: a DaemonSet passes its pods' hash labels, a
    StatefulSet its current and update revisions' names). The names deleted."""
    keep = set(live)
    extra = len(old) - max(limit, 0)
    deleted: list[str] = []
    for revision in by_number(old):
        if extra <= 0:
            break
        if hash_of(revision) in keep or revision.name in keep:
            continue
        # gone already, or the name now holds another revision (the uid precondition)
        with contextlib.suppress(NotFound, Conflict):
            await client.controllerrevisions.delete(
                revision.name,
                revision.namespace,
                uid=revision.metadata.uid if revision.metadata else None,
            )
        deleted.append(revision.name or "")
        extra -= 1
    return deleted
