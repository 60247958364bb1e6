"""The arithmetic of a Deployment's rollout, as Kubernetes' deployment controller does
it: how far the new ReplicaSet may grow, how far the old ones may shrink, and how a
resize is shared out between ReplicaSets while a rollout is under way.

Everything here is pure (numbers and plain ReplicaSet dicts in, numbers out), so the
maths is tested without a cluster.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
ROLLING_UPDATE = "RollingUpdate"
RECREATE = "Recreate"


def scaled_value(value: int | str | None, total: int, *, round_up: bool) -> int:
    """An int-or-percent against ``total``: ``3`` is 3, ``"25%"`` of 10 is 3 rounded
    up (maxSurge) or 2 rounded down (maxUnavailable)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = value.strip()
    if not text.endswith("%"):
        raise ValueError(f"{value!r} is neither a number nor a percentage like '25%'")
    percent = int(text[:-1])
    exact = percent * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def strategy_type(deployment: dict[str, Any]) -> str:
    return ((deployment.get("spec") or {}).get("strategy") or {}).get("type") or ROLLING_UPDATE


def replicas_of(obj: dict[str, Any]) -> int:
    """``spec.replicas`` (absent means 1, as Kubernetes defaults it)."""
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def status_count(obj: dict[str, Any], field: str) -> int:
    return int((obj.get("status") or {}).get(field) or 0)


def pods_of(rs: dict[str, Any]) -> int:
    """The pods a ReplicaSet may have now: its spec, or more while its controller has
    not yet removed what a scale-down asked (status.replicas still counts them).
    Kubernetes counts the spec alone; counting both keeps replicas + maxSurge a bound
    on the pods that really exist, whatever the ReplicaSet controller's lag."""
    return max(replicas_of(rs), status_count(rs, "replicas"))


def available_of(rs: dict[str, Any]) -> int:
    """Available replicas that will stay: never more than the spec (the pods above it
    are about to be removed), so a status written before a scale-down is not counted
    on."""
    return min(status_count(rs, "availableReplicas"), replicas_of(rs))


def fenceposts(deployment: dict[str, Any]) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) of a RollingUpdate Deployment, resolved against its
    replicas. Both 0 would let nothing move: maxUnavailable becomes 1 then (the API
    server refuses that spec; an old object may still hold it)."""
    if strategy_type(deployment) != ROLLING_UPDATE:
        return 0, 0
    rolling = ((deployment.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    desired = replicas_of(deployment)
    surge = scaled_value(rolling.get("maxSurge", "25%"), desired, round_up=True)
    unavailable = scaled_value(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(deployment: dict[str, Any]) -> int:
    return fenceposts(deployment)[0]


def max_unavailable(deployment: dict[str, Any]) -> int:
    """At most the Deployment's replicas; 0 for Recreate or an empty Deployment."""
    desired = replicas_of(deployment)
    if strategy_type(deployment) != ROLLING_UPDATE or desired == 0:
        return 0
    return min(fenceposts(deployment)[1], desired)


def new_rs_target(
    deployment: dict[str, Any], all_rs: Sequence[dict[str, Any]], new_rs: dict[str, Any] | None
) -> int:
    """The size the new ReplicaSet may take now. Rolling: grow while the total of every
    ReplicaSet's replicas stays within replicas + maxSurge, never past replicas.
    Recreate: replicas at once (its caller has emptied the old ones first)."""
    desired = replicas_of(deployment)
    if strategy_type(deployment) != ROLLING_UPDATE:
        return desired
    current_new = replicas_of(new_rs) if new_rs is not None else 0
    total = sum(pods_of(rs) for rs in all_rs)
    room = desired + max_surge(deployment) - total
    if room <= 0:
        return current_new
    return current_new + min(room, max(desired - current_new, 0))


def max_old_scale_down(
    deployment: dict[str, Any], all_rs: Sequence[dict[str, Any]], new_rs: dict[str, Any] | None
) -> int:
    """How many old replicas may go at most, keeping replicas - maxUnavailable
    available even if the new ReplicaSet's not-yet-available pods never come up."""
    min_available = replicas_of(deployment) - max_unavailable(deployment)
    new_unavailable = 0
    if new_rs is not None:
        new_unavailable = replicas_of(new_rs) - available_of(new_rs)
    total = sum(replicas_of(rs) for rs in all_rs)
    return total - min_available - new_unavailable


def unhealthy_cleanup(old_rs: Sequence[dict[str, Any]], budget: int) -> dict[str, int]:
    """New sizes of old ReplicaSets after removing up to ``budget`` of their
    unavailable replicas (oldest ReplicaSet first): those cost no availability."""
    sizes: dict[str, int] = {}
    removed = 0
    for rs in sorted(old_rs, key=_created):
        if removed >= budget:
            break
        replicas = replicas_of(rs)
        unhealthy = replicas - available_of(rs)
        if replicas == 0 or unhealthy <= 0:
            continue
        count = min(budget - removed, unhealthy)
        sizes[rs["metadata"]["name"]] = replicas - count
        removed += count
    return sizes


def available_scale_down(
    deployment: dict[str, Any],
    all_rs: Sequence[dict[str, Any]],
    old_rs: Sequence[dict[str, Any]],
    limit: int | None = None,
) -> dict[str, int]:
    """New sizes of old ReplicaSets scaled down by as many available replicas as are
    above replicas - maxUnavailable (oldest ReplicaSet first), and at most ``limit``."""
    min_available = replicas_of(deployment) - max_unavailable(deployment)
    available = sum(available_of(rs) for rs in all_rs)
    budget = available - min_available
    if limit is not None:
        budget = min(budget, limit)
    sizes: dict[str, int] = {}
    removed = 0
    for rs in sorted(old_rs, key=_created):
        if removed >= budget:
            break
        replicas = replicas_of(rs)
        if replicas == 0:
            continue
        count = min(replicas, budget - removed)
        sizes[rs["metadata"]["name"]] = replicas - count
        removed += count
    return sizes


def proportional_sizes(
    deployment: dict[str, Any], active: Sequence[dict[str, Any]], new_rs: dict[str, Any] | None
) -> dict[str, int]:
    """A resize of a Deployment caught mid-rollout (several active ReplicaSets) shared
    out in proportion to each ReplicaSet's size, so the rollout's progress is kept:
    the total is brought to replicas + maxSurge; the leftover of rounding goes to the
    largest ReplicaSet (the newest among equals)."""
    desired = replicas_of(deployment)
    surge = max_surge(deployment)
    allowed = desired + surge if desired > 0 else 0
    current = sum(replicas_of(rs) for rs in active)
    to_add = allowed - current
    if to_add == 0:
        return {}
    # Larger ReplicaSets first; among equals the newer when growing, the older when
    # shrinking (Kubernetes' order: the leftover lands on the first).
    ordered = sorted(active, key=_created, reverse=to_add > 0)
    ordered.sort(key=replicas_of, reverse=True)
    sizes: dict[str, int] = {}
    added = 0
    for rs in ordered:
        name = rs["metadata"]["name"]
        fraction = _fraction(rs, deployment, desired + surge)
        proportion = min(fraction, to_add - added) if to_add > 0 else max(fraction, to_add - added)
        sizes[name] = replicas_of(rs) + proportion
        added += proportion
    if ordered and added != to_add:
        first = ordered[0]["metadata"]["name"]
        sizes[first] = max(sizes[first] + to_add - added, 0)
    return sizes


def _fraction(rs: dict[str, Any], deployment: dict[str, Any], deployment_max: int) -> int:
    """How many replicas ``rs`` gains (or loses) for the Deployment's new size, from
    the max-replicas it was annotated with at the last resize."""
    if replicas_of(deployment) == 0:
        return -replicas_of(rs)
    annotated = ((rs.get("metadata") or {}).get("annotations") or {}).get(MAX_REPLICAS)
    try:
        before = int(annotated) if annotated is not None else 0
    except ValueError:
        before = 0
    if before <= 0:
        before = status_count(deployment, "replicas")
    if before <= 0:
        return 0
    # half away from zero (Go's math.Round), not Python's round-half-even
    return math.floor(replicas_of(rs) * deployment_max / before + 0.5) - replicas_of(rs)


def _created(rs: dict[str, Any]) -> tuple[str, str]:
    meta = rs.get("metadata") or {}
    return (meta.get("creationTimestamp") or "", meta.get("name") or "")
