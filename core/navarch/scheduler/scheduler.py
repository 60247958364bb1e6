"""The scheduler: takes pending pods one at a time and binds each to a node.

A cycle is filter -> score -> pick -> assume -> bind, through the hooks. Binding runs
in the background while the next cycle starts; the pod is *assumed* on its node in
the cache at once, so a burst of pods never overbooks a node before the bindings come
back through the watch. Decisions are explained (decision.py): a pod that fits nowhere
gets PodScheduled=False/Unschedulable with Kubernetes' message and a FailedScheduling
Event, counted up on each further attempt (events.py); a bound pod gets the annotation
``scheduler.navarch.io/decision`` naming the chosen node, the runners-up with their
scores per plugin, and why the other nodes were filtered out.
What happens is logged as a summary per interval (activity.py), not a line per pod.
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Mapping

import pluggy
from loguru import logger

from navarch.api.core_v1 import Node, Pod
from navarch.api.defaults import DEFAULT_SCHEDULER
from navarch.client import Client, Conflict, Informer, NotFound
from navarch.client.client import STRATEGIC_MERGE_PATCH
from navarch.client.errors import ApiException
from navarch.client.events import EventRecorder
from navarch.client.sharedinformers import SharedInformerFactory
from navarch.plugins import call_first
from navarch.scheduler.activity import Activity
from navarch.scheduler.decision import DECISION_ANNOTATION, explain, unschedulable_message
from navarch.scheduler.framework import HANDLE_RESOURCES, CycleState, ScoreResult, request_of
from navarch.scheduler.nodeinfo import NodeInfo, PodRequest
from navarch.scheduler.queue import SchedulingQueue

log = logger.bind(component="scheduler")
MIN_NODES_TO_FIND = 100
MAX_BINDINGS_IN_FLIGHT = 64
MAX_PENDING_EVENTS = 256  # Scheduled events waiting to be written; more are dropped


def nodes_to_find(total: int) -> int:
    """How many feasible nodes are enough (Kubernetes' adaptive percentageOfNodesToScore):

        percentage = max(5, 50 - total / 125);  enough = max(100, total * percentage / 100)

    so all of 100 nodes are scored, 10% of 5,000. Searching starts where the last cycle
    stopped, so every node gets its turn.
    """
    if total <= MIN_NODES_TO_FIND:
        return total
    percentage = max(5, 50 - total // 125)
    return max(MIN_NODES_TO_FIND, total * percentage // 100)


class Scheduler:
    def __init__(
        self,
        client: Client,
        pm: pluggy.PluginManager,
        weights: Mapping[str, int],
        *,
        name: str = DEFAULT_SCHEDULER,
        report_interval: float = 10.0,
        instance: str | None = None,
    ):
        self.client = client
        self.pm = pm
        self.weights = dict(weights)
        self.name = name
        self.queue = SchedulingQueue()
        self.nodes: dict[str, NodeInfo] = {}
        self.assumed: dict[str, str] = {}  # pod key -> node, until the binding is seen
        self.pod_informer = Informer(client.pods)
        self.node_informer = Informer(client.nodes)
        self.scheduled = 0
        self.activity = Activity(report_interval)
        # Events name the scheduler as Kubernetes' do: source and reportingComponent
        # are its name, reportingInstance which copy of it (the host, unless given).
        self.events = EventRecorder(client, name, instance or socket.gethostname())
        self._start = 0
        self._binds: set[asyncio.Task[None]] = set()
        self._recording: set[asyncio.Task[None]] = set()
        self._bind_slots = asyncio.Semaphore(MAX_BINDINGS_IN_FLIGHT)
        self.node_informer.add_handler(self._node_added, self._node_updated, self._node_deleted)
        # The plugins' view of the rest of the cluster (claims, volumes, classes).
        self.informers = SharedInformerFactory(client)
        for plural in HANDLE_RESOURCES:
            self.informers.informer(plural).add_handler(
                on_add=lambda obj: self.queue.cluster_changed(),
                on_update=lambda old, new: self.queue.cluster_changed(),
            )
        self.pod_informer.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)

    # --- informer handlers: they only update the cache and the queue ------------------

    def _node_added(self, node: Node) -> None:
        self.nodes[node.name] = NodeInfo.of(node)
        self.queue.cluster_changed()

    def _node_updated(self, old: Node, new: Node) -> None:
        info = self.nodes.get(new.name)
        if info is None:
            self._node_added(new)
        else:
            info.refresh(new)
            self.queue.cluster_changed()

    def _node_deleted(self, node: Node) -> None:
        self.nodes.pop(node.name, None)

    def _pod_added(self, pod: Pod) -> None:
        node = pod.spec.node_name if pod.spec else None
        key = pod.key()
        if node:
            assumed = self.assumed.pop(key, None)
            if assumed and assumed != node and assumed in self.nodes:
                self.nodes[assumed].remove(key)
            if node in self.nodes:
                self.nodes[node].add(PodRequest.of(pod))
            self.queue.remove(key)
        elif self._responsible_for(pod):
            self.queue.add(key, (pod.spec.priority if pod.spec else None) or 0)

    def _pod_updated(self, old: Pod, new: Pod) -> None:
        self._pod_added(new)

    def _pod_deleted(self, pod: Pod) -> None:
        key = pod.key()
        self.queue.remove(key)
        self.activity.pod_gone(key)
        self.events.forget(pod)
        node = (pod.spec.node_name if pod.spec else None) or self.assumed.pop(key, None)
        if node and node in self.nodes and self.nodes[node].remove(key):
            self.queue.cluster_changed()

    def _responsible_for(self, pod: Pod) -> bool:
        spec = pod.spec
        if spec is None or pod.metadata is None or pod.metadata.deletion_timestamp:
            return False
        return (spec.scheduler_name or DEFAULT_SCHEDULER) == self.name

    # --- the loop ---------------------------------------------------------------------

    async def run(self) -> None:
        tasks = [asyncio.create_task(i.run()) for i in (self.node_informer, self.pod_informer)]
        self.informers.start()
        try:
            await self.node_informer.wait_synced()
            await self.pod_informer.wait_synced()
            await self.informers.wait_synced()
            log.bind(nodes=len(self.nodes), pending=len(self.queue), name=self.name).info(
                "scheduler started"
            )
            tasks.append(asyncio.create_task(self._report()))
            while True:
                key = await self.queue.pop()
                pod = self.pod_informer.get(key)
                if pod is None or (pod.spec and pod.spec.node_name) or key in self.assumed:
                    self.queue.remove(key)
                    continue
                try:
                    await self.schedule_one(pod)
                except Exception as exc:  # one pod's trouble never stops the loop
                    log.bind(pod=key, error=repr(exc)).opt(exception=exc).error("scheduling failed")
                    self.queue.retry_later(key, unschedulable=False)
        finally:
            for task in tasks:
                task.cancel()
            await self.informers.stop()
            in_flight = len(self._binds)
            for task in list(self._binds):
                task.cancel()
            self.activity.summary(len(self.queue), in_flight, len(self.nodes))
            log.bind(
                bound=self.activity.total_bound, pending=len(self.queue), cancelled=in_flight
            ).info("scheduler stopped")

    async def _report(self) -> None:
        """The periodic summary line (activity.py says what is logged and why)."""
        while True:
            await asyncio.sleep(self.activity.interval)
            self.activity.summary(len(self.queue), len(self._binds), len(self.nodes))

    async def schedule_one(self, pod: Pod) -> str | None:
        """One cycle; returns the chosen node (binding continues in the background)."""
        key = pod.key()
        state = CycleState(weights=self.weights, cluster=self.informers)
        feasible, rejected, examined = self._find_feasible(pod, state)
        if not feasible:
            await self._unschedulable(pod, rejected)
            self.queue.retry_later(key, unschedulable=True)
            return None
        totals, details = self._score(pod, feasible, state)
        best = max(totals.values())
        chosen = random.choice([name for name, total in totals.items() if total == best])
        self.nodes[chosen].add(request_of(pod, state))
        self.assumed[key] = chosen
        # Bindings run in the background, but only so many at once: when the API server
        # is slower than the scheduler, scheduling waits instead of piling up tasks.
        await self._bind_slots.acquire()
        decision = explain(
            chosen,
            totals,
            details,
            self.weights,
            rejected=rejected,
            examined=examined,
            total=len(self.nodes),
        )
        task = asyncio.create_task(self._bind(pod, chosen, state, decision))
        self._binds.add(task)
        task.add_done_callback(self._binds.discard)
        return chosen

    def _find_feasible(
        self, pod: Pod, state: CycleState
    ) -> tuple[list[NodeInfo], dict[str, str], int]:
        """The feasible nodes found, the rejected ones with their reason, and how many
        nodes were examined."""
        infos = list(self.nodes.values())
        total = len(infos)
        enough = nodes_to_find(total)
        feasible: list[NodeInfo] = []
        rejected: dict[str, str] = {}
        start = self._start % total if total else 0
        ordered = infos[start:] + infos[:start]
        examined = 0
        for offset in range(0, total, 256):
            batch = ordered[offset : offset + 256]
            examined += len(batch)
            batch_rejected: dict[str, str] = {}
            for result in self.pm.hook.navarch_filter(pod=pod, nodes=batch, state=state):
                for name, reason in (result or {}).items():
                    batch_rejected.setdefault(name, reason)
            rejected.update(batch_rejected)
            feasible += [info for info in batch if info.name not in batch_rejected]
            if len(feasible) >= enough:
                break
        self._start = start + examined
        return feasible, rejected, examined

    def _score(
        self, pod: Pod, feasible: list[NodeInfo], state: CycleState
    ) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
        totals = dict.fromkeys((info.name for info in feasible), 0)
        details: dict[str, dict[str, int]] = {}
        if len(feasible) == 1:
            return totals, details
        for result in self.pm.hook.navarch_score(pod=pod, nodes=feasible, state=state):
            for score in result if isinstance(result, list | tuple) else (result,):
                weight = self.weights.get(score.plugin) if isinstance(score, ScoreResult) else None
                if not weight:
                    continue
                details[score.plugin] = dict(score.scores)
                for name, value in score.scores.items():
                    if name in totals:
                        totals[name] += weight * value
        return totals, details

    async def _bind(self, pod: Pod, node: str, state: CycleState, decision: str) -> None:
        try:
            await self._bind_one(pod, node, state, decision)
        finally:
            self._bind_slots.release()

    async def _bind_one(self, pod: Pod, node: str, state: CycleState, decision: str) -> None:
        key = pod.key()
        try:
            done = await call_first(self.pm, "navarch_bind", pod=pod, node_name=node, state=state)
            if not done:
                # The decision travels on the Binding: the API server copies its
                # annotations onto the pod (as Kubernetes does), costing no extra write.
                annotations = {DECISION_ANNOTATION: decision}
                await self.client.pods.bind(pod.name, node, pod.namespace, annotations=annotations)
        except (Conflict, NotFound, ApiException) as exc:
            self._forget(key, node)
            if isinstance(exc, NotFound):
                self.queue.remove(key)
            else:
                self.queue.retry_later(key, unschedulable=False)
            self.activity.binding_failed(key, node, str(exc))
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._forget(key, node)
            self.queue.retry_later(key, unschedulable=False)
            log.bind(pod=key, node=node, error=repr(exc)).opt(exception=exc).error("binding failed")
            return
        self.scheduled += 1
        self.queue.remove(key)
        self.activity.pod_bound(key)
        self.events.forget(pod)
        self._record_later(
            pod, "Scheduled", f"Successfully assigned {pod.namespace}/{pod.name} to {node}"
        )
        log.bind(pod=key, node=node).debug("bound")

    def _record_later(self, pod: Pod, reason: str, message: str) -> None:
        """A Normal Event in the background (kubectl describe's "Scheduled"): binding
        never waits for it, and when too many are pending it is dropped, not queued."""
        if len(self._recording) >= MAX_PENDING_EVENTS:
            return
        task = asyncio.create_task(
            self.events.record(pod, "Normal", reason, message, action="Binding")
        )
        self._recording.add(task)
        task.add_done_callback(self._recording.discard)

    def _forget(self, key: str, node: str) -> None:
        if self.assumed.get(key) == node:
            del self.assumed[key]
            if node in self.nodes:
                self.nodes[node].remove(key)

    async def _unschedulable(self, pod: Pod, rejected: dict[str, str]) -> None:
        message = unschedulable_message(len(self.nodes), rejected)
        self.activity.pod_unschedulable(pod.key(), message)
        condition = {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": message,
        }
        try:
            await self.client.pods.patch(
                pod.name,
                {"status": {"conditions": [condition]}},
                pod.namespace,
                patch_type=STRATEGIC_MERGE_PATCH,
                subresource="status",
            )
        except NotFound:
            return
        await self.events.record(pod, "Warning", "FailedScheduling", message, action="Scheduling")
