"""The node lifecycle controller: notices nodes that stopped answering and moves their
work away (Kubernetes' node lifecycle controller and its taint-based eviction).

*Monitoring.* An agent renews its Lease in ``kube-node-lease`` every few seconds and
writes its Node's Ready condition when it changes. This controller notes, *on its own
clock*, when it last saw either change (never the agent's timestamps: clocks differ,
as in leader election). A node unseen for ``node_monitor_grace_seconds`` gets every
condition set to Unknown (reason NodeStatusUnknown, "Kubelet stopped posting node
status."), a NodeNotReady Event, and its pods marked Ready=False (so Services would
stop sending them traffic).

*Taints.* Ready=Unknown calls for the ``node.kubernetes.io/unreachable`` taint, an
agent's own Ready=False for ``node.kubernetes.io/not-ready``, each with effect
NoSchedule (nothing new lands there) and NoExecute (what runs there is evicted); a
node Ready again loses them. NoExecute taints are paced by a token bucket:
``node_eviction_rate`` nodes a second, ``secondary_node_eviction_rate`` in a partial
disruption (at least ``unhealthy_threshold`` of the nodes, and more than two, not
Ready), none at all in a full disruption (no node Ready: this controller is the one
cut off, and evicting would empty the cluster), when the NoExecute taints are taken
off again.

*Eviction.* A pod on a node with NoExecute taints is deleted at once when a taint is
not tolerated, else when the shortest matching ``tolerationSeconds`` has passed since
this controller first saw it tainted (the DefaultTolerationSeconds admission plugin
gives every pod such tolerations). The deletion (TaintManagerEviction Event) keeps the
pod's grace period; since its agent cannot confirm, the pod-termination controller
removes it when the grace ends, while its ReplicaSet replaces it at once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import attrs

from navarch import api
from navarch.api.timefmt import rfc3339
from navarch.client.errors import Conflict, NotFound
from navarch.controllers.base import QueueController
from navarch.controllers.context import ControllerContext
from navarch.controllers.nodelifecycle_rules import (
    FULL_DISRUPTION,
    NO_EXECUTE,
    NO_SCHEDULE,
    NORMAL,
    OWNED_KEYS,
    PARTIAL_DISRUPTION,
    TokenBucket,
    disruption,
    taint_key_for,
    toleration_seconds,
    untolerated,
)

NAME = "node-lifecycle"
LEASE_NAMESPACE = "kube-node-lease"
NODE_INDEX = "spec.nodeName"
NODE_PREFIX, POD_PREFIX = "node:", "pod:"
UNKNOWN_REASON = "NodeStatusUnknown"
UNKNOWN_MESSAGE = "Kubelet stopped posting node status."
CONFLICT_RETRY_SECONDS = 0.2


@attrs.frozen(kw_only=True)
class NodeLifecycleOptions:
    node_monitor_grace_seconds: float = attrs.field(
        default=15.0,
        metadata={
            "help": "How long a node may go without renewing its Lease (or writing its "
            "status), on this controller's clock, before it is Ready=Unknown and tainted "
            "unreachable (Kubernetes: 40)."
        },
    )
    node_monitor_period_seconds: float = attrs.field(
        default=5.0,
        metadata={"help": "How often every node's health is looked at again."},
    )
    node_eviction_rate: float = attrs.field(
        default=10.0,
        metadata={
            "help": "Nodes a second that may get a NoExecute taint (their pods evicted) "
            "normally (Kubernetes: 0.1): a machine running 10 simulated nodes, or a rack, "
            "failing at once must not wait 10 s for its last node's turn."
        },
    )
    secondary_node_eviction_rate: float = attrs.field(
        default=0.01,
        metadata={
            "help": "Nodes a second that may get a NoExecute taint in a partial "
            "disruption (Kubernetes: 0.01)."
        },
    )
    unhealthy_threshold: float = attrs.field(
        default=0.55,
        metadata={
            "help": "Share of nodes not Ready (with more than two) from which the cluster "
            "is partially disrupted and the secondary rate applies (Kubernetes' "
            "unhealthyZoneThreshold)."
        },
    )


@attrs.define
class _Seen:
    """When this controller last saw a node's Lease or Ready heartbeat change, by its
    own monotonic clock."""

    at: float
    marker: tuple[Any, ...]


class NodeLifecycleController(QueueController):
    def __init__(self, context: ControllerContext, *, clock: Callable[[], float] = time.monotonic):
        super().__init__(context)
        self.options: NodeLifecycleOptions = context.options or NodeLifecycleOptions()
        self.clock = clock
        self.nodes = context.informers.informer("nodes")
        self.leases = context.informers.informer("leases", LEASE_NAMESPACE)
        self.pods = context.informers.informer("pods")
        self.pods.add_index(NODE_INDEX, _node_of)
        self._seen: dict[str, _Seen] = {}
        # node -> whether its last sync judged it Ready (what the disruption state counts)
        self._healthy: dict[str, bool] = {}
        self._bucket = TokenBucket()
        self._state = NORMAL
        # pod uid -> when this controller first saw the pod on a NoExecute-tainted node
        self._tainted_since: dict[str, float] = {}
        self.nodes.add_handler(
            on_add=self._node_added, on_update=self._node_updated, on_delete=self._node_added
        )
        self.leases.add_handler(
            on_add=self._lease_changed, on_update=lambda old, new: self._lease_changed(new)
        )
        self.pods.add_handler(
            on_add=self._pod_changed,
            on_update=lambda old, new: self._pod_changed(new),
            on_delete=self._pod_deleted,
        )

    # --- handlers: changes become keys --------------------------------------------------

    def _node_added(self, node: Any) -> None:
        self.queue.add(NODE_PREFIX + node.name)

    def _node_updated(self, old: Any, new: Any) -> None:
        self.queue.add(NODE_PREFIX + new.name)
        if _no_execute(old) != _no_execute(new):
            for pod in self.pods.by_index(NODE_INDEX, new.name):
                self.queue.add(POD_PREFIX + pod.key())

    def _lease_changed(self, lease: Any) -> None:
        self.queue.add(NODE_PREFIX + lease.name)

    def _pod_changed(self, pod: Any) -> None:
        bound = _node_of(pod)
        node = self.nodes.get(bound[0]) if bound else None
        if node is not None and _no_execute(node):
            self.queue.add(POD_PREFIX + pod.key())

    def _pod_deleted(self, pod: Any) -> None:
        self._tainted_since.pop(pod.metadata.uid, None)

    async def sync(self, key: str) -> float | None:
        if key.startswith(NODE_PREFIX):
            return await self.sync_node(key[len(NODE_PREFIX) :])
        if key.startswith(POD_PREFIX):
            return await self.sync_pod(key[len(POD_PREFIX) :])
        return None

    # --- nodes --------------------------------------------------------------------------

    def observe(self, node: Any) -> float:
        """Seconds since this controller last saw the node's Lease or heartbeat change
        (0 the first time it sees the node: every node starts with a full grace)."""
        lease = self.leases.get(f"{LEASE_NAMESPACE}/{node.name}")
        renewed = lease.spec.renew_time if lease is not None and lease.spec else None
        ready = _condition(node, "Ready")
        marker = (renewed, ready.last_heartbeat_time if ready is not None else None)
        now = self.clock()
        seen = self._seen.get(node.name)
        if seen is None or seen.marker != marker:
            self._seen[node.name] = seen = _Seen(now, marker)
        return now - seen.at

    def ready_state(self, node: Any) -> str | None:
        """The node's Ready status as this controller judges it: Unknown once its grace
        ran out, whatever its condition still says."""
        if self.observe(node) > self.options.node_monitor_grace_seconds:
            return "Unknown"
        ready = _condition(node, "Ready")
        return ready.status if ready is not None else None

    async def sync_node(self, name: str) -> float | None:
        node = self.nodes.get(name)
        if node is None:
            self._seen.pop(name, None)
            self._healthy.pop(name, None)
            self._update_disruption()
            return None
        grace = self.options.node_monitor_grace_seconds
        silent = self.observe(node)
        if silent > grace:
            node = await self._mark_unknown(node)  # the taints go on top of this version
        ready = self.ready_state(node)
        self._healthy[name] = ready == "True"
        self._update_disruption()
        wait = await self._converge_taints(node, taint_key_for(ready))
        again = self.options.node_monitor_period_seconds
        if silent <= grace:
            again = min(again, grace - silent + 0.01)
        return min(again, wait) if wait else again

    async def _mark_unknown(self, node: Any) -> Any:
        """Every condition Unknown (once); the node as written."""
        conditions = _conditions_dump(node)
        if all(c.get("status") == "Unknown" for c in conditions) and conditions:
            return node
        now = rfc3339()
        changed = []
        for condition in conditions or [{"type": "Ready"}]:
            if condition.get("status") != "Unknown":
                condition = {
                    **condition,
                    "status": "Unknown",
                    "reason": UNKNOWN_REASON,
                    "message": UNKNOWN_MESSAGE,
                    "lastTransitionTime": now,
                }
            changed.append(condition)
        body = {
            "metadata": {"resourceVersion": node.metadata.resource_version},
            "status": {"conditions": changed},
        }
        written = await self.client.nodes.patch(node.name, body, subresource="status")
        self.log.bind(node=node.name).warning("node stopped posting status: Ready=Unknown")
        await self.context.recorder.record(
            node, "Normal", "NodeNotReady", f"Node {node.name} status is now: NodeNotReady"
        )
        await self._mark_pods_not_ready(node.name)
        return written

    async def _mark_pods_not_ready(self, node_name: str) -> None:
        """Kubernetes' MarkPodsNotReady: the pods of a silent node are not Ready."""
        now = rfc3339()
        for pod in self.pods.by_index(NODE_INDEX, node_name):
            if pod.metadata.deletion_timestamp:
                continue
            conditions = [
                {k: v for k, v in c.items() if v is not None}
                for c in _dump_list(pod.status.conditions if pod.status else None)
            ]
            ready = next((c for c in conditions if c.get("type") == "Ready"), None)
            if ready is not None and ready.get("status") == "False":
                continue
            if ready is None:
                conditions.append(ready := {"type": "Ready"})
            ready.update(status="False", lastTransitionTime=now)
            try:
                await self.client.pods.patch(
                    pod.name,
                    {"status": {"conditions": conditions}},
                    pod.namespace,
                    subresource="status",
                )
            except NotFound:
                continue

    def _update_disruption(self) -> None:
        """Recount from every node's last judgement (O(nodes), no API call); on a change
        of state every node is looked at again, its NoExecute taints following it."""
        if len(self._healthy) < len(self.nodes.cache):  # nodes not synced yet: judge them
            for node in self.nodes.list():
                if node.name not in self._healthy:
                    self._healthy[node.name] = self.ready_state(node) == "True"
        ready = sum(self._healthy.values())
        state = disruption(ready, len(self._healthy) - ready, self.options.unhealthy_threshold)
        if state != self._state:
            self.log.bind(was=self._state, now=state).warning(
                {
                    FULL_DISRUPTION: "no node is Ready: this controller is probably the one "
                    "cut off; evictions stop and NoExecute taints are taken off",
                    PARTIAL_DISRUPTION: "most nodes are not Ready: evictions slow down",
                    NORMAL: "disruption over: evictions at the normal rate",
                }[state]
            )
            self._state = state
            for name in self._healthy:
                self.queue.add(NODE_PREFIX + name)

    def _eviction_rate(self) -> float:
        if self._state == PARTIAL_DISRUPTION:
            return self.options.secondary_node_eviction_rate
        return self.options.node_eviction_rate

    async def _converge_taints(self, node: Any, key: str | None) -> float:
        """Give the node the taints ``key`` calls for (None: none of ours); the seconds
        until a NoExecute taint the rate limiter held back may be added (0: none)."""
        current = [_taint_dump(t) for t in ((node.spec.taints if node.spec else None) or ())]
        others = [t for t in current if t.get("key") not in OWNED_KEYS]
        ours = {(t["key"], t.get("effect")): t for t in current if t.get("key") in OWNED_KEYS}
        wanted: dict[tuple[str, str], dict[str, Any]] = {}
        wait = 0.0
        if key is not None:
            wanted[(key, NO_SCHEDULE)] = ours.get((key, NO_SCHEDULE)) or _taint(key, NO_SCHEDULE)
            execute = ours.get((key, NO_EXECUTE))
            if self._state == FULL_DISRUPTION:
                execute = None
            elif execute is None:
                swapped = any(k != key and effect == NO_EXECUTE for k, effect in ours)
                # Unreachable <-> not-ready is the same eviction: no new token (as k8s).
                wait = 0.0 if swapped else self._bucket.take(self.clock(), self._eviction_rate())
                if wait == 0.0:
                    execute = _taint(key, NO_EXECUTE)
            if execute is not None:
                wanted[(key, NO_EXECUTE)] = execute
        if set(wanted) == set(ours):
            return wait
        body = {
            "metadata": {"resourceVersion": node.metadata.resource_version},
            "spec": {"taints": others + list(wanted.values())},
        }
        try:
            await self.client.nodes.patch(node.name, body)
        except NotFound:
            return 0.0
        except Conflict:
            # The cache is behind a write (often our own status write): look again soon
            # rather than decide on a stale node. The precondition is what keeps a stale
            # view from taking off a taint just added.
            return CONFLICT_RETRY_SECONDS
        self.log.bind(
            node=node.name,
            added=sorted(f"{k}:{e}" for k, e in set(wanted) - set(ours)),
            removed=sorted(f"{k}:{e}" for k, e in set(ours) - set(wanted)),
        ).info("node taints changed")
        return wait if math.isfinite(wait) else self.options.node_monitor_period_seconds

    # --- pods: taint-based eviction -------------------------------------------------------

    async def sync_pod(self, key: str) -> float | None:
        pod = self.pods.get(key)
        if pod is None or pod.metadata.deletion_timestamp or not _node_of(pod):
            if pod is not None:
                self._tainted_since.pop(pod.metadata.uid, None)
            return None
        uid = pod.metadata.uid
        node = self.nodes.get(_node_of(pod)[0])
        taints = _no_execute(node) if node is not None else ()
        if not taints:
            self._tainted_since.pop(uid, None)
            return None
        if self._state == FULL_DISRUPTION:
            # The taints are being taken off; evicting now would empty the cluster.
            return self.options.node_monitor_period_seconds
        tolerations = tuple((pod.spec.tolerations if pod.spec else None) or ())
        if not untolerated(taints, tolerations):
            seconds = toleration_seconds(taints, tolerations)
            if math.isinf(seconds):
                return None
            now = self.clock()
            since = self._tainted_since.setdefault(uid, now)
            left = since + seconds - now
            if left > 0:
                return left
        await self._evict(pod)
        return None

    async def _evict(self, pod: Any) -> None:
        try:
            await self.client.pods.delete(pod.name, pod.namespace, uid=pod.metadata.uid)
        except (NotFound, Conflict):
            return  # gone already, or the name holds another pod now
        self._tainted_since.pop(pod.metadata.uid, None)
        self.log.bind(pod=pod.key(), node=_node_of(pod)[0]).info("evicting pod: node tainted")
        await self.context.recorder.record(
            pod, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {pod.key()}"
        )


def _node_of(pod: Any) -> list[str]:
    node = pod.spec.node_name if pod.spec else None
    return [node] if node else []


def _no_execute(node: Any) -> tuple[Any, ...]:
    taints = (node.spec.taints if node.spec else None) or ()
    return tuple(t for t in taints if t.effect == NO_EXECUTE)


def _condition(node: Any, kind: str) -> Any:
    conditions = (node.status.conditions if node.status else None) or ()
    return next((c for c in conditions if c.type == kind), None)


def _conditions_dump(node: Any) -> list[dict[str, Any]]:
    return _dump_list(node.status.conditions if node.status else None)


def _dump_list(items: Any) -> list[dict[str, Any]]:
    return [api.dump(item) for item in (items or ())]


def _taint_dump(taint: Any) -> dict[str, Any]:
    return _dump_list((taint,))[0]


def _taint(key: str, effect: str) -> dict[str, Any]:
    return {"key": key, "effect": effect, "timeAdded": rfc3339()}
