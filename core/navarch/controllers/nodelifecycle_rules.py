"""The node lifecycle controller's pure rules, apart from its loop: which taints a
node's Ready condition calls for, how disrupted the cluster is, how long a pod's
tolerations let it stay on a NoExecute-tainted node, and the token bucket that paces
the NoExecute taints (Kubernetes' node eviction rate limiter).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import attrs

from navarch.scheduler.framework import tolerates

UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
NO_EXECUTE, NO_SCHEDULE = "NoExecute", "NoSchedule"
# The taint keys this controller owns: it adds and removes them, and no other.
OWNED_KEYS = (UNREACHABLE, NOT_READY)

# Kubernetes' zone states (ComputeZoneState), for the cluster as one zone.
NORMAL, PARTIAL_DISRUPTION, FULL_DISRUPTION = "Normal", "PartialDisruption", "FullDisruption"


def taint_key_for(ready: str | None) -> str | None:
    """The taint key a Ready condition status calls for: Unknown (the agent went
    silent) → unreachable; False (the agent says NotReady) → not-ready; True → none.
    A node that never posted a Ready condition is left alone until its grace runs out
    (then it is Unknown)."""
    if ready == "Unknown":
        return UNREACHABLE
    if ready == "False":
        return NOT_READY
    return None


def disruption(ready: int, not_ready: int, threshold: float) -> str:
    """Kubernetes' ComputeZoneState from the counts of Ready and not Ready nodes: none
    Ready while some are not → full disruption (this controller is the one cut off:
    evicting would empty the cluster); more than two not Ready and at least
    ``threshold`` of them → partial disruption (evictions slow to the secondary rate);
    else normal."""
    if ready == 0 and not_ready > 0:
        return FULL_DISRUPTION
    if not_ready > 2 and not_ready / (ready + not_ready) >= threshold:
        return PARTIAL_DISRUPTION
    return NORMAL


def untolerated(taints: Sequence[Any], tolerations: Sequence[Any]) -> list[Any]:
    """The NoExecute taints that no toleration of the pod matches."""
    return [taint for taint in taints if not any(tolerates(t, taint) for t in tolerations)]


def toleration_seconds(taints: Sequence[Any], tolerations: Sequence[Any]) -> float:
    """How long the pod may stay given taints it all tolerates: the shortest
    ``tolerationSeconds`` among the tolerations that match (a matching toleration
    without it tolerates for ever: ``math.inf``); 0 or less means at once."""
    shortest = math.inf
    for taint in taints:
        for toleration in tolerations:
            if tolerates(toleration, taint) and toleration.toleration_seconds is not None:
                shortest = min(shortest, float(toleration.toleration_seconds))
    return shortest


@attrs.define
class TokenBucket:
    """A bucket of one token refilled at ``rate`` per second, whatever rate the caller
    asks for at the time (the rate drops in a partial disruption). ``take`` returns 0
    and spends the token, or the seconds until one is there."""

    tokens: float = 1.0
    updated: float | None = None

    def take(self, now: float, rate: float) -> float:
        if self.updated is not None and rate > 0:
            self.tokens = min(1.0, self.tokens + (now - self.updated) * rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        if rate <= 0:
            return math.inf
        return (1.0 - self.tokens) / rate
