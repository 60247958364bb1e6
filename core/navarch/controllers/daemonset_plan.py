"""What one sync of a DaemonSet does to its pods, decided without any I/O (Kubernetes'
``podsShouldBeOnNode``, ``rollingUpdate`` and ``findUpdatedPodsOnNode``).

*Manage* (every sync): a node that should run the daemon and has no pod gets one; a
finished pod is deleted (a failed one at most once per back-off, so that a pod its
node keeps rejecting is not recreated in a hot loop); a node with two pods keeps the
oldest (with surge: the oldest new one, and the oldest old one only while the new one
is not yet available); a node that should no longer run it loses its pods; a pod for a
node that no longer exists is deleted.

*RollingUpdate* without surge deletes old pods, the unavailable ones first, while the
unavailable count stays within ``maxUnavailable``; manage then recreates them from the
current revision on the next sync. With ``maxSurge`` a node gets its new pod while the
old one still runs, on at most ``maxSurge`` nodes at once, and the old pod goes once
the new one is available. Deleted pods do not count as unavailable, so a rollout
progresses while nodes are down.

*OnDelete* does nothing more than manage: a pod is replaced by the current revision
only after someone deletes it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

import attrs

from navarch.api.core_v1 import Node, Pod
from navarch.api.timefmt import parse_rfc3339
from navarch.controllers.daemonset_nodes import Placement, target_node
from navarch.controllers.deployment_rolling import scaled_value
from navarch.controllers.history import HASH_LABEL
from navarch.controllers.replicaset_pods import available_in, is_ready

_PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}


def is_deleting(pod: Pod) -> bool:
    return bool(pod.metadata and pod.metadata.deletion_timestamp)


def pod_hash(pod: Pod) -> str:
    return ((pod.metadata.labels if pod.metadata else None) or {}).get(HASH_LABEL, "")


def oldest_first(pods: Iterable[Pod]) -> list[Pod]:
    """Kubernetes' podByCreationTimestampAndPhase: older first; of the same age, the
    one further along (Running before Pending) first."""

    def order(pod: Pod) -> tuple[float, int, str]:
        created = parse_rfc3339((pod.metadata.creation_timestamp if pod.metadata else None) or "")
        phase = _PHASE_ORDER.get((pod.status.phase if pod.status else None) or "", 0)
        return (created if created is not None else math.inf, -phase, pod.name or "")

    return sorted(pods, key=order)


def by_node(pods: Iterable[Pod]) -> dict[str, list[Pod]]:
    """The DaemonSet's pods by the node each is for (a pod for no node is left out)."""
    grouped: dict[str, list[Pod]] = {}
    for pod in pods:
        node = target_node(pod)
        if node:
            grouped.setdefault(node, []).append(pod)
    return grouped


@attrs.frozen
class Budget:
    """The rollout's limits for ``desired`` nodes (Kubernetes' updatedDesiredNodeCounts:
    both percentages rounded up; both zero, an impossible configuration, means one
    unavailable)."""

    desired: int
    max_unavailable: int
    max_surge: int

    @classmethod
    def of(cls, desired: int, max_unavailable: int | str | None, max_surge: int | str | None):
        unavailable = scaled_value(max_unavailable or 0, desired, round_up=True)
        surge = scaled_value(max_surge or 0, desired, round_up=True)
        if desired > 0 and unavailable == 0 and surge == 0:
            unavailable = 1
        return cls(desired, unavailable, surge)


@attrs.frozen
class Plan:
    """Nodes that get a new pod, and pods (names) to delete."""

    create_on: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()


Available = Callable[[Pod], bool]


def available_check(min_ready_seconds: int, now: float) -> Available:
    return lambda pod: available_in(pod, min_ready_seconds, now) == 0.0


def manage(
    nodes: Sequence[Node],
    placement: Placement,
    pods: Mapping[str, Sequence[Pod]],
    hash_: str,
    *,
    surge: bool,
    available: Available,
    may_delete_failed: Callable[[str], bool] = lambda node: True,
) -> Plan:
    """Manage's decisions over every node and every pod. ``may_delete_failed(node)``:
    whether a failed pod on that node may be deleted now (its back-off is over)."""
    create: list[str] = []
    delete: list[str] = []
    known = set()
    for node in nodes:
        name = node.name or ""
        known.add(name)
        should_run, should_continue = placement.should_run(node)
        on_node = list(pods.get(name, ()))
        if should_run and not on_node:
            create.append(name)
        elif should_continue:
            running = _prune_finished(on_node, name, delete, may_delete_failed)
            if not surge:
                delete.extend(p.name for p in oldest_first(running)[1:])
            elif not running:
                if should_run:
                    create.append(name)
            else:
                delete.extend(_surge_extra(running, hash_, available))
        elif on_node:
            delete.extend(p.name for p in on_node if not is_deleting(p))
    for name, orphaned in pods.items():
        if name not in known:  # the node is gone: so are its daemon pods
            delete.extend(p.name for p in orphaned if not is_deleting(p))
    return Plan(tuple(create), tuple(delete))


def _prune_finished(
    pods: Sequence[Pod], node: str, delete: list[str], may_delete_failed: Callable[[str], bool]
) -> list[Pod]:
    running = []
    for pod in pods:
        if is_deleting(pod):
            continue
        phase = pod.status.phase if pod.status else None
        if phase == "Failed":
            if may_delete_failed(node):
                delete.append(pod.name)
        elif phase == "Succeeded":
            delete.append(pod.name)
        else:
            running.append(pod)
    return running


def _surge_extra(running: Sequence[Pod], hash_: str, available: Available) -> list[str]:
    """With surge a node may hold two pods: the oldest new one and, while the new one
    is not yet available and the old one is ready, the oldest old one."""
    extra: list[str] = []
    newest: Pod | None = None
    oldest: Pod | None = None
    for pod in oldest_first(running):
        if pod_hash(pod) == hash_ and newest is None:
            newest = pod
        elif pod_hash(pod) != hash_ and oldest is None:
            oldest = pod
        else:
            extra.append(pod.name)
    if newest is not None and oldest is not None and (not is_ready(oldest) or available(newest)):
        extra.append(oldest.name)
    return extra


def updated_pods(pods: Sequence[Pod], hash_: str) -> tuple[Pod | None, Pod | None, bool]:
    """(the new pod, the old pod, whether the node is in a state a rollout understands:
    at most one of each, deleting ones aside)."""
    new: Pod | None = None
    old: Pod | None = None
    for pod in pods:
        if is_deleting(pod):
            continue
        if pod_hash(pod) == hash_:
            if new is not None:
                return None, None, False
            new = pod
        else:
            if old is not None:
                return None, None, False
            old = pod
    return new, old, True


def rolling_update(
    nodes: Sequence[Node],
    placement: Placement,
    pods: Mapping[str, Sequence[Pod]],
    hash_: str,
    budget: Budget,
    available: Available,
) -> Plan:
    """RollingUpdate's decisions (after manage's were carried out and observed)."""
    wanted = {n.name: n for n in nodes if placement.should_run(n)[0]}
    per_node: dict[str, Sequence[Pod]] = {name: () for name in wanted}
    per_node.update(pods)
    if budget.max_surge == 0:
        return _without_surge(per_node, hash_, budget, available)
    return _with_surge(per_node, wanted, hash_, budget, available)


def _without_surge(
    per_node: Mapping[str, Sequence[Pod]], hash_: str, budget: Budget, available: Available
) -> Plan:
    unavailable = 0
    replace: list[str] = []
    candidates: list[str] = []
    for name in sorted(per_node):
        new, old, ok = updated_pods(per_node[name], hash_)
        if not ok or (new is None) == (old is None):
            unavailable += 1  # manage creates or prunes here; count it unavailable
        elif new is not None:
            if not available(new):
                unavailable += 1
        elif old is not None and not available(old):
            replace.append(old.name)  # not serving anyway: replace it at once
        elif old is not None and unavailable < budget.max_unavailable:
            candidates.append(old.name)
    room = max(0, min(budget.max_unavailable - unavailable, len(candidates)))
    return Plan(delete=tuple(replace + candidates[:room]))


def _with_surge(
    per_node: Mapping[str, Sequence[Pod]],
    wanted: Mapping[str, Node],
    hash_: str,
    budget: Budget,
    available: Available,
) -> Plan:
    delete: list[str] = []
    leaving: list[str] = []  # old pods on nodes the daemon should no longer run on
    allowed: list[str] = []  # nodes whose old pod is unavailable: a new pod at once
    candidates: list[str] = []
    surging = available_count = 0
    for name in sorted(per_node):
        new, old, ok = updated_pods(per_node[name], hash_)
        if not ok:
            surging += 1
            continue
        counted = old if old is not None else new
        if counted is not None and available(counted):
            available_count += 1
        if old is None:
            continue  # nothing to update here; manage creates a missing pod
        if new is None:
            if not available(old):
                if name not in wanted:
                    delete.append(old.name)
                else:
                    allowed.append(name)
            elif name not in wanted:
                leaving.append(old.name)
            elif surging < budget.max_surge:
                candidates.append(name)
        elif not available(new):
            surging += 1  # waiting for the new pod to become available
        else:
            delete.append(old.name)
    # keep availability whole: a pod leaves a node only once another became available
    deletable = min(max(0, available_count - budget.desired), len(leaving))
    delete.extend(leaving[:deletable])
    room = max(0, min(budget.max_surge - surging, len(candidates)))
    return Plan(create_on=tuple(allowed + candidates[:room]), delete=tuple(delete))
