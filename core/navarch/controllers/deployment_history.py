"""A Deployment's ReplicaSets as its history: the pod-template-hash that names each
one, the revision numbers on them, the annotations carried from the Deployment, and
which old ones ``revisionHistoryLimit`` lets go.

``kubectl rollout history`` and ``rollout undo`` read exactly these annotations: undo
(client-side in kubectl 1.32) patches the Deployment's template back from the chosen
ReplicaSet and copies that ReplicaSet's annotations (change-cause) onto it, and the
controller then finds the old ReplicaSet again as the new one and gives it the next
revision.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any

from navarch.controllers.deployment_rolling import DESIRED_REPLICAS, MAX_REPLICAS, replicas_of

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
CHANGE_CAUSE = "kubernetes.io/change-cause"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ROLLBACK_TO = "deprecated.deployment.rollback.to"

# The Deployment's annotations that are its own, never copied to its ReplicaSets.
NOT_COPIED = frozenset(
    {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO}
)

# rand.SafeEncodeString's alphabet: no vowels, no easily confused characters.
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


def template_hash(template: dict[str, Any], collision_count: int | None = None) -> str:
    """Kubernetes' pod-template-hash: FNV-32a over the template, then the collision
    count as 8 little-endian bytes (its uint32 then four zeros) when there is one; the
    decimal of the sum in the safe alphabet. Kubernetes feeds the hasher a Go
    pretty-print of the struct; Navarch feeds the template's JSON with sorted keys,
    so the value is stable here but not the one a Kubernetes cluster would show."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count is not None:
        data += (collision_count & 0xFFFFFFFF).to_bytes(4, "little") + bytes(4)
    return safe_encode(str(fnv32a(data)))


def without_hash(template: dict[str, Any] | None) -> dict[str, Any]:
    """The template with its pod-template-hash label removed (for comparing)."""
    plain = copy.deepcopy(template or {})
    labels = (plain.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
        if not labels:
            del plain["metadata"]["labels"]
    if plain.get("metadata") == {}:
        del plain["metadata"]
    return plain


def same_template(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    """Equal but for the hash label, an empty value counting as absent: kubectl's
    ``rollout undo`` sends ``resources: {}`` where the stored template has none, and
    Kubernetes' semantic equality of the Go structs sees no difference either."""
    return _pruned(without_hash(a)) == _pruned(without_hash(b))


def _pruned(value: Any) -> Any:
    if isinstance(value, dict):
        pruned = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_pruned(item) for item in value]
    return value


def revision_of(obj: dict[str, Any]) -> int:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION)
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def created(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (meta.get("creationTimestamp") or "", meta.get("name") or "")


def find_new(deployment: dict[str, Any], all_rs: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The ReplicaSet whose template is the Deployment's (the oldest if several are,
    as after a hash collision was worked around)."""
    template = (deployment.get("spec") or {}).get("template")
    for rs in sorted(all_rs, key=created):
        if same_template((rs.get("spec") or {}).get("template"), template):
            return rs
    return None


def annotate(
    rs: dict[str, Any], deployment: dict[str, Any], revision: int, surge: int | None = None
) -> bool:
    """Carry the Deployment's annotations (change-cause…) onto ``rs``, give it
    ``revision`` if that is newer than its own (remembering the old one in
    revision-history, as after an undo), and, given ``surge`` (a ReplicaSet being
    created), note the desired and max replicas: on an existing one those change only
    with its size, so that a resize is told from a rollout. Whether anything changed."""
    meta = rs.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    before = dict(annotations)
    for key, value in ((deployment.get("metadata") or {}).get("annotations") or {}).items():
        if key not in NOT_COPIED:
            annotations[key] = value
    old = revision_of(rs)
    if old < revision:
        if old > 0:
            history = annotations.get(REVISION_HISTORY)
            annotations[REVISION_HISTORY] = f"{history},{old}" if history else str(old)
        annotations[REVISION] = str(revision)
    if surge is not None:
        desired = replicas_of(deployment)
        annotations[DESIRED_REPLICAS] = str(desired)
        annotations[MAX_REPLICAS] = str(desired + surge)
    meta["annotations"] = annotations
    return annotations != before


def replica_annotations_current(rs: dict[str, Any], deployment: dict[str, Any], surge: int) -> bool:
    annotations = (rs.get("metadata") or {}).get("annotations") or {}
    desired = replicas_of(deployment)
    return annotations.get(DESIRED_REPLICAS) == str(desired) and annotations.get(
        MAX_REPLICAS
    ) == str(desired + surge)


def to_clean_up(old_rs: Sequence[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The old ReplicaSets past ``revisionHistoryLimit``, lowest revisions first: only
    empty ones whose controller has caught up (no pods left, none coming)."""
    cleanable = [
        rs
        for rs in old_rs
        if replicas_of(rs) == 0
        and not (rs.get("status") or {}).get("replicas")
        and (rs.get("metadata") or {}).get("generation", 0)
        <= ((rs.get("status") or {}).get("observedGeneration") or 0)
        and not (rs.get("metadata") or {}).get("deletionTimestamp")
    ]
    extra = len(cleanable) - max(limit, 0)
    if extra <= 0:
        return []
    return sorted(cleanable, key=lambda rs: (revision_of(rs), created(rs)))[:extra]
