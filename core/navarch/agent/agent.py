"""The agent of one node: its Node and Lease, a watch on the pods bound to it, one
worker per pod, and the relist that notices containers exiting.

Level-triggered throughout: a watch event, a container's exit (seen by the relist)
or a probe's change only *wakes* the pod's worker, which then reads the current state
and converges; nothing is acted on from the event itself. On start the agent adopts
what the runtime already runs (workers find their pod's containers by label), and
after the first full list it removes what belongs to no pod bound here."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
from loguru import logger

from navarch.agent.backoff import Backoff
from navarch.agent.localpath import LocalPathCleaner
from navarch.agent.network import PodNetwork
from navarch.agent.node import NodeIdentity, NodeReporter
from navarch.agent.probes import ProbeManager
from navarch.agent.statusmanager import StatusManager
from navarch.agent.volumes.layout import PodDirectories
from navarch.agent.volumes.manager import VolumeManager
from navarch.agent.worker import PodWorker
from navarch.client import Client
from navarch.client.events import EventRecorder
from navarch.client.informer import Informer
from navarch.dns.node import NodeDns
from navarch.netpol.enforcer import PolicyEnforcer
from navarch.proxy.proxier import for_agent as service_proxy_for
from navarch.runtime import (
    ContainerState,
    RegistryAuth,
    Runtime,
    RuntimeFault,
    Unavailable,
    labels,
)
from navarch.runtime import NotFound as RuntimeNotFound

EVENT_SOURCE = "navarch-agent"  # source.component of the agent's Events (kubelet's "kubelet")
MAX_PENDING_EVENTS = 256
MAX_FINISHED_REMEMBERED = 4096


@attrs.frozen
class AgentSettings:
    lease_renew_seconds: float = 5.0
    lease_duration_seconds: int = 40
    status_update_seconds: float = 60.0
    relist_seconds: float = 1.0
    backoff_initial_seconds: float = 10.0
    backoff_max_seconds: float = 300.0
    # A pod is looked at at least this often, changes or not (jittered ±20%).
    pod_resync_seconds: float = 10.0
    # Every pod's status on the API server is compared with the agent's this often.
    status_reconcile_seconds: float = 10.0
    address: str = "0.0.0.0"
    port: int | None = 10250  # None: no logs/exec port (simulated nodes)
    # The agent's own files: its serving certificate, and pods/<uid>/volumes/… (the
    # kubelet's /var/lib/kubelet). None: a directory of the node's under the system's
    # temporary directory (tests).
    data_dir: Path | None = None
    # Networking (issue 24): see the agent.* settings of the same names.
    pod_cidr: str = ""
    service_proxy: str = "none"
    dns_address: str = ""
    cluster_dns: tuple[str, ...] = ("10.43.0.10",)
    cluster_domain: str = "cluster.local"


@attrs.define(eq=False)
class Agent:
    client: Client
    runtime: Runtime
    identity: NodeIdentity
    settings: AgentSettings = AgentSettings()
    runtime_name: str = "runtime"
    # Starts the logs/exec port; returns its bound port and a closer. None: no port.
    streaming: Callable[[Agent], Awaitable[tuple[int, Callable[[], Awaitable[None]]]]] | None = None
    # The pod network plugin (agent.network); None: pods get what the runtime gives.
    network: PodNetwork | None = None
    # NetworkPolicies in this namespace's nftables (agent.network_policy_kubeconfig);
    # None: not enforced here.
    policies: PolicyEnforcer | None = None
    workers: dict[str, PodWorker] = attrs.field(factory=dict)
    node: NodeReporter = attrs.field(init=False)
    probes: ProbeManager = attrs.field(init=False)
    backoff: Backoff = attrs.field(init=False)
    informer: Informer = attrs.field(init=False)
    events: EventRecorder = attrs.field(init=False)
    status: StatusManager = attrs.field(init=False)
    volumes: VolumeManager = attrs.field(init=False)
    _pulls: dict[tuple[str, RegistryAuth | None], asyncio.Task[None]] = attrs.field(factory=dict)
    _recording: set[asyncio.Task[None]] = attrs.field(factory=set)
    _seen: dict[str, tuple[tuple[str, str], ...]] = attrs.field(factory=dict)
    _relists: int = 0
    _relist_errors: int = 0
    # Pod syncs finished (each worker counts its own): for /metrics and the tests.
    syncs: int = 0
    # Pods whose worker finished (stopped and confirmed): later updates of a pod a
    # finalizer still holds must not start a second worker.
    _finished: OrderedDict[str, None] = attrs.field(factory=OrderedDict)

    def __attrs_post_init__(self) -> None:
        s = self.settings
        self.node = NodeReporter(
            self.client,
            self.identity,
            self._runtime_version,
            lease_renew_seconds=s.lease_renew_seconds,
            lease_duration_seconds=s.lease_duration_seconds,
            status_update_seconds=s.status_update_seconds,
            network_status=self.network.status if self.network is not None else None,
            pod_cidr=s.pod_cidr if self.network is not None else "",
        )
        self.probes = ProbeManager(self.runtime, self._wake_uid, self._probe_failed)
        self.backoff = Backoff(s.backoff_initial_seconds, s.backoff_max_seconds)
        name = self.identity.name
        self.events = EventRecorder(self.client, EVENT_SOURCE, name, host=name)
        self.informer = Informer(
            self.client.pods, field_selector=f"spec.nodeName={self.identity.name}"
        )
        self.informer.add_handler(self._on_add, self._on_update, self._on_delete)
        self.status = StatusManager(
            self.client,
            self.informer.get,
            name,
            reconcile_seconds=s.status_reconcile_seconds,
        )
        data_dir = s.data_dir or Path(tempfile.gettempdir()) / "navarch-agent" / name
        self.volumes = VolumeManager(
            PodDirectories(data_dir / "pods"), name, self.identity.capacity
        )

    @property
    def node_name(self) -> str:
        return self.identity.name

    @property
    def node_ip(self) -> str:
        return self.identity.ip

    @property
    def relists(self) -> int:
        """How many relists finished (a test waits for one to have looked)."""
        return self._relists

    @property
    def relist_errors(self) -> int:
        """How many relists the runtime did not answer (it is down, or refused)."""
        return self._relist_errors

    @property
    def log(self) -> Any:
        return logger.bind(component="agent", node=self.node_name)

    async def run(self) -> None:
        """Run until cancelled; on cancellation stop the workers, leaving containers
        running (a restarted agent adopts them)."""
        close_streaming = None
        # ClusterIPs and NodePorts in this network namespace's nftables (agent.service_proxy)
        proxy = service_proxy_for(self.client, self.node_name, self.settings.service_proxy)
        if self.streaming is not None:
            self.identity.port, close_streaming = await self.streaming(self)
        tasks = [asyncio.create_task(self.node.run(), name=f"node {self.node_name}")]
        if self.network is not None:
            tasks.append(asyncio.create_task(self.network.run(), name="pod network"))
        try:
            tasks.append(asyncio.create_task(self.informer.run(), name="pods informer"))
            tasks.append(asyncio.create_task(self.status.run(), name="pod status"))
            tasks.append(asyncio.create_task(LocalPathCleaner(self.client, self.node_name).run()))
            if self.settings.dns_address:  # cluster DNS from this node's own watch cache
                tasks.append(asyncio.create_task(NodeDns.for_agent(self).run(), name="dns"))
            if proxy is not None:
                tasks.append(asyncio.create_task(proxy.run(), name="service proxy"))
            if self.policies is not None:
                tasks.append(asyncio.create_task(self.policies.run(), name="network policies"))
            await self.informer.wait_synced()
            self.log.bind(pods=len(self.informer.cache)).info("pods bound here listed")
            tasks.append(asyncio.create_task(self._relist_loop(), name="relist"))
            await asyncio.gather(*tasks)
        finally:
            self.log.bind(pods=len(self.workers)).info(
                "agent stopping; containers keep running and are adopted on restart"
            )
            workers = [w.task for w in self.workers.values() if w.task]
            for task in [*tasks, *workers, *self._pulls.values()]:
                task.cancel()
            self.probes.close()
            with contextlib.suppress(Exception):
                await asyncio.gather(*tasks, return_exceptions=True)
            if close_streaming is not None:
                await close_streaming()
            # The proxy's and the policies' tables stay, as kube-proxy's rules do: pods
            # keep their network while the agent is away, so they keep their Services
            # and their isolation too (`navarch agent --cleanup` removes them for good).
            if self.network is not None:  # pods keep their network (adopted on restart)
                await self.network.close(for_good=False)

    def event(self, pod: Any, type_: str, reason: str, message: str, about: str = "") -> None:
        """Record an Event about ``pod`` in the background: a pod never waits for its
        Events, and when the API server is slow they are dropped, not queued without
        end (client-go's recorder drops too)."""
        if len(self._recording) >= MAX_PENDING_EVENTS:
            self.log.bind(reason=reason).debug("event dropped: too many pending")
            return
        task = asyncio.create_task(
            self.events.record(pod, type_, reason, message, action=reason, about=about)
        )
        self._recording.add(task)
        task.add_done_callback(self._recording.discard)

    # --- the runtime, shared by the workers ------------------------------------------

    async def _runtime_version(self) -> Any:
        version = await self.runtime.version()
        self.runtime_name = version.name
        return version

    async def pull(self, image: str, auth: RegistryAuth | None = None) -> None:
        """Pull ``image`` once however many pods ask at the same time (with the same
        credentials). The pull is nobody's own: a pod whose sync is cancelled (deleted
        meanwhile) stops waiting, and the others still get the image."""
        key = (image, auth)
        pending = self._pulls.get(key)
        if pending is None:
            pending = asyncio.create_task(self._pull(image, auth), name=f"pull {image}")
            self._pulls[key] = pending
            pending.add_done_callback(lambda done: self._pulled(key, done))
        await asyncio.shield(pending)

    async def _pull(self, image: str, auth: RegistryAuth | None) -> None:
        self.log.bind(image=image, authenticated=auth is not None).info("pulling image")
        await self.runtime.pull_image(image, auth)

    def _pulled(self, key: tuple[str, RegistryAuth | None], done: asyncio.Task[None]) -> None:
        if self._pulls.get(key) is done:
            del self._pulls[key]
        if not done.cancelled():
            done.exception()  # retrieved: no "never retrieved" warning without waiters

    # --- pods bound here -------------------------------------------------------------

    def _worker_for(self, pod: Any) -> PodWorker | None:
        uid = pod.metadata.uid
        if uid in self._finished and pod.metadata.deletion_timestamp:
            return None  # stopped and confirmed; a finalizer keeps the object a while
        worker = self.workers.get(uid)
        if worker is None:
            worker = PodWorker(self, uid, pod)
            self.workers[uid] = worker
            worker.task = asyncio.create_task(self._run_worker(worker), name=f"pod {uid}")
        return worker

    async def _run_worker(self, worker: PodWorker) -> None:
        try:
            await worker.run()
            self._finished[worker.uid] = None
            while len(self._finished) > MAX_FINISHED_REMEMBERED:
                self._finished.popitem(last=False)
            # The one place a finished pod's state goes, whichever way it ended.
            self.forget(worker)
        finally:
            if self.workers.get(worker.uid) is worker:
                del self.workers[worker.uid]

    def forget(self, worker: PodWorker) -> None:
        """Drop everything the agent keeps about the worker's pod: its probes, back-off
        timers, status, Events' counts and the relist's view of its containers."""
        uid = worker.uid
        self.probes.forget(uid)
        self.backoff.forget_prefix(uid)
        self.status.forget(uid)
        self._seen.pop(uid, None)
        if worker.last_seen is not None:
            self.events.forget(worker.last_seen)

    def remembers(self, pod: Any) -> list[str]:
        """What the agent still keeps about ``pod`` (empty once it is forgotten): for
        debugging and the tests."""
        uid = pod.metadata.uid
        kept = {
            "worker": uid in self.workers,
            "probes": self.probes.holds(uid),
            "backoff": self.backoff.holds_prefix(uid),
            "status": self.status.holds(uid),
            "relist": uid in self._seen,
            "events": self.events.remembers(pod),
        }
        return sorted(what for what, held in kept.items() if held)

    def _on_add(self, pod: Any) -> None:
        worker = self._worker_for(pod)
        if worker is not None:
            worker.update(pod)

    def _on_update(self, old: Any, new: Any) -> None:
        if old.metadata.uid != new.metadata.uid:
            self._on_delete(old)
        worker = self._worker_for(new)
        if worker is None:
            return
        if _beyond_status(old, new):
            worker.update(new)
        else:
            # A status-only change is no reason to sync (the kubelet's rule): our own
            # write coming back, or another writer's, which the status manager undoes.
            worker.pod = new
        self.status.reconcile(new)

    def _on_delete(self, pod: Any) -> None:
        worker = self.workers.get(pod.metadata.uid)
        if worker is not None:
            worker.removed()
        # No worker: it finished (the deletion it confirmed coming back), or the pod went
        # while this agent was down — the relist removes whatever is left of it.

    def _probe_failed(self, uid: str, container: str, kind: str, message: str) -> None:
        worker = self.workers.get(uid)
        if worker is not None and worker.pod is not None:
            text = f"{kind.capitalize()} probe failed: {message}"
            self.event(worker.pod, "Warning", "Unhealthy", text, f"{container}/{kind}")

    def _wake_uid(self, uid: str) -> None:
        worker = self.workers.get(uid)
        if worker is not None:
            worker.wake()

    # --- the relist: container exits, orphans ------------------------------------------

    async def _relist_loop(self) -> None:
        while True:
            try:
                await self.relist()
            except Unavailable as exc:
                self._relist_errors += 1
                self.log.bind(error=exc.message).debug("runtime unavailable")
                self.node.poke()
            except RuntimeFault as exc:
                self._relist_errors += 1
                self.log.bind(error=exc.message).warning("relist failed")
            await asyncio.sleep(self.settings.relist_seconds)

    async def relist(self) -> None:
        """Wake the worker of every pod whose containers changed state; remove what
        belongs to no pod bound here (after the pods were listed once)."""
        mine = {labels.NODE: self.node_name}
        containers = await self.runtime.list_containers(mine)
        by_uid: dict[str, list[tuple[str, str]]] = {}
        for c in containers:
            by_uid.setdefault(c.labels.get(labels.POD_UID, ""), []).append((c.id, c.state.value))
        for uid, states in by_uid.items():
            signature = tuple(sorted(states))
            if self._seen.get(uid) != signature:
                self._seen[uid] = signature
                self._wake_uid(uid)
        for uid in list(self._seen):
            if uid not in by_uid:
                # Every container of the pod vanished (removed behind the agent's back,
                # or with its sandbox): as much a change as an exit.
                del self._seen[uid]
                self._wake_uid(uid)
        bound = self._bound_here()
        orphans = [c for c in containers if c.labels.get(labels.POD_UID) not in bound]
        self._relists += 1
        # A sandbox left without containers is rarer: looked for every 10th relist.
        if orphans or self._relists % 10 == 1:
            await self._remove_orphans(orphans, bound)

    def _bound_here(self) -> set[str]:
        return {p.metadata.uid for p in self.informer.list()} | set(self.workers)

    async def _remove_orphans(self, containers: list[Any], bound: set[str]) -> None:
        # Looked at again before each removal: a pod bound while this sweep awaited the
        # runtime must keep what its worker just created.
        for container in containers:
            if container.labels.get(labels.POD_UID) in self._bound_here():
                continue
            self.log.bind(
                container=container.id, pod_uid=container.labels.get(labels.POD_UID)
            ).info("removing a container of a pod no longer bound here")
            with contextlib.suppress(RuntimeNotFound):
                if container.state == ContainerState.RUNNING:
                    await self.runtime.stop_container(container.id, 0)
                await self.runtime.remove_container(container.id)
        listed_at = time.time()
        sandboxes = await self.runtime.list_sandboxes({labels.NODE: self.node_name})
        for sandbox in sandboxes:
            if sandbox.labels.get(labels.POD_UID) not in self._bound_here():
                with contextlib.suppress(RuntimeNotFound):
                    await self.runtime.remove_sandbox(sandbox.id)
        if self.network is not None:
            # Networks of sandboxes gone (removed above, or while the agent was down).
            live = {s.id for s in sandboxes if s.labels.get(labels.POD_UID) in self._bound_here()}
            await self.network.collect_garbage(live, listed_at)
        # Volume directories last: their pods' containers are gone by now.
        await self.volumes.remove_orphans(self._bound_here())


def _beyond_status(old: Any, new: Any) -> bool:
    """Whether anything but the status (and the versions that come with every write)
    changed between two versions of a pod."""
    if old.spec != new.spec:
        return True
    return _meta_sans_versions(old.metadata) != _meta_sans_versions(new.metadata)


def _meta_sans_versions(meta: Any) -> Any:
    unmodeled = {k: v for k, v in meta.unmodeled.items() if k != "managedFields"}
    return attrs.evolve(meta, resource_version=None, unmodeled=unmodeled)
