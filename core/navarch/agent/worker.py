"""One pod's worker (the kubelet's pod worker): level-triggered convergence of what
the runtime runs to what the pod asks for, then its status.

Each sync reads the runtime's instances of the pod (by its uid label), so a worker
started by a restarted agent adopts what already runs. Worked example, restartPolicy
Always, a container that exits 1 at once (back-off 10 s doubling):

* sync 1: no sandbox -> create it; no instance -> pull, create attempt 0, start;
* the relist sees it exited -> sync 2: may restart (no back-off yet) -> attempt 1;
  the next restart must wait 10 s from attempt 1's exit;
* sync 3 (attempt 1 exited): in back-off -> waiting CrashLoopBackOff, wake in 10 s;
* sync 4: attempt 2, next wait 20 s … ``restartCount`` is the newest attempt.

Deletion: every container is stopped with the pod's grace period (SIGTERM, then
SIGKILL), the sandbox removed, and the deletion confirmed to the API server.

Cancellation (the kubelet's pod workers): a sync works on one snapshot of the pod,
taken when it starts, and never reads the worker's newer copy halfway. The pod's
deletion (a deletionTimestamp, or the object gone) cancels a sync in flight — an
image pull, a create, a start — rather than waiting for it: nothing is started from
the stale snapshot, and the next sync stops the pod. Stopping itself is never
cancelled; a shorter grace period arriving meanwhile cuts it short instead.

State: what the worker keeps of its pod lives on it (waiting reasons, pulls, the last
copy seen); what the agent's shared parts keep by uid (probes, back-off, status,
Events, the relist's view) is dropped in one place, :meth:`Agent.forget`, when the
worker is done."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
from typing import TYPE_CHECKING, Any

import attrs
from loguru import logger

from navarch.agent.admission import Admission, admit
from navarch.agent.apiobjects import ObjectReader, ObjectUnreadable
from navarch.agent.dnsconfig import container_dns_mounts
from navarch.agent.envsources import EnvSources, read_env_sources
from navarch.agent.ephemeral import start_ephemeral_containers, with_ephemeral_statuses
from navarch.agent.network import NetworkSetupError
from navarch.agent.podspec import (
    EnvError,
    container_config,
    container_hash,
    pod_key,
    resolve_env,
    sandbox_config,
)
from navarch.agent.podview import pod_view
from navarch.agent.pulling import ImagePulls
from navarch.agent.pullsecrets import PullCredentials, read_pull_credentials
from navarch.agent.status import TERMINAL_PHASES, Waiting, pod_status
from navarch.agent.stopping import (
    confirm_deletion,
    deletion_grace,
    stop_containers,
    termination_grace,
)
from navarch.agent.volumes.manager import PodVolumes, VolumeSetupError
from navarch.agent.volumes.mounts import MountConfigError, container_mounts
from navarch.api.timefmt import parse_rfc3339
from navarch.runtime import (
    ContainerState,
    ContainerStatus,
    CreateError,
    InvalidConfig,
    Mount,
    RegistryAuth,
    SandboxState,
    SandboxStatus,
    StartError,
    Unavailable,
    labels,
)
from navarch.runtime import NotFound as RuntimeNotFound

if TYPE_CHECKING:
    from navarch.agent.agent import Agent

NORMAL, WARNING = "Normal", "Warning"
PARKED_SECONDS = 3600.0  # a finished pod: only its deletion (a watch event) matters
KEEP_INSTANCES = 2  # per container: the current one and the previous (logs --previous)
NETWORK_RETRY_SECONDS = 5.0  # a pod waiting for the pod network looks again this often


@attrs.define(eq=False)
class PodWorker:
    agent: Agent
    uid: str
    pod: Any  # the newest Pod seen on the watch; None once the API server removed it
    waiting: dict[str, Waiting] = attrs.field(factory=dict)
    pulls: ImagePulls = attrs.field(init=False)
    key: str = ""  # namespace/name, kept for logs once the pod object is gone
    last_seen: Any = None  # the newest Pod ever seen (still there once ``pod`` is None)
    admission: Admission | None = None  # None: not decided yet
    _wake: asyncio.Event = attrs.field(factory=asyncio.Event)
    _next_sync: float = 0.0
    _syncing: asyncio.Task[bool] | None = None  # a sync that a deletion cancels
    task: asyncio.Task[None] | None = None
    # For one sync: the API objects it read (each once) and the pod's volumes on the host.
    _reader: ObjectReader | None = None
    _volumes: PodVolumes = attrs.field(factory=dict)
    _credentials: PullCredentials | None = None
    _mount_failure: str = ""  # the FailedMount message last recorded (one Event each)
    _network_failure: str = ""  # the NetworkNotReady message last recorded
    # What the network plugin gave the pod's sandbox (by sandbox id): status.podIP(s).
    network_ips: dict[str, tuple[str, ...]] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        self.pulls = ImagePulls(self.agent)
        if self.pod is not None:
            self.key = pod_key(self.pod)
            self.last_seen = self.pod

    @property
    def written(self) -> dict[str, Any] | None:
        """The pod's status as this agent last set it (the status manager's copy)."""
        return self.agent.status.get(self.uid)

    @property
    def log(self) -> Any:
        return logger.bind(component="agent", node=self.agent.node_name, pod=self.key, uid=self.uid)

    def wake(self) -> None:
        self._wake.set()

    def update(self, pod: Any) -> None:
        self.pod = self.last_seen = pod
        if _deleting(pod):
            self._cancel_sync()
        self.wake()

    def removed(self) -> None:
        """The pod is gone from the API server (deleted, or bound elsewhere)."""
        self.pod = None
        self._cancel_sync()
        self.wake()

    def _cancel_sync(self) -> None:
        if self._syncing is not None and not self._syncing.done():
            self.log.info("pod deleted: cancelling its sync in flight")
            self._syncing.cancel()

    async def run(self) -> None:
        failures = 0
        resync = self.agent.settings.pod_resync_seconds
        while True:
            # Jittered, so thousands of pods started together do not resync in step.
            self._next_sync = resync * random.uniform(0.8, 1.2)
            try:
                if await self._sync_once():
                    return
                self.agent.syncs += 1  # navarch_agent_pod_syncs_total
                failures = 0
            except Unavailable as exc:
                # The Node's Ready condition (and its log line) says it once for all pods.
                self.log.bind(error=exc.message).debug("runtime unavailable; will retry")
                self.agent.node.poke()
                self._next_sync = 2.0
            except Exception as exc:  # one pod's bug must not stop the others
                failures += 1
                self.log.bind(error=repr(exc)).opt(exception=exc).error("pod sync failed")
                self._next_sync = min(2.0**failures, 30.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._next_sync)
            self._wake.clear()

    def _sync_in(self, seconds: float) -> None:
        self._next_sync = max(0.05, min(self._next_sync, seconds))

    def wake_in(self, seconds: float) -> None:
        """Sync again within ``seconds`` (sooner if something else wakes the worker)."""
        self._sync_in(seconds)

    # --- one sync ------------------------------------------------------------------

    async def _sync_once(self) -> bool:
        """One sync of the pod as it is now; True when the worker is done."""
        pod = self.pod
        if _deleting(pod):
            return await self.terminate(pod)
        self._syncing = asyncio.create_task(self.sync(pod), name=f"sync {self.key}")
        try:
            return await self._syncing
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the worker itself is stopping (the agent is)
            return False  # the pod's deletion cancelled it: the next sync stops the pod
        finally:
            self._syncing = None

    async def terminate(self, pod: Any) -> bool:
        """Stop the pod and confirm its deletion (``pod`` None: the API server no
        longer has it). True: the worker is done."""
        runtime = self.agent.runtime
        mine = {labels.POD_UID: self.uid}
        sandboxes = await runtime.list_sandboxes(mine)
        instances = await runtime.list_containers(mine)
        await self.kill(pod, sandboxes, instances)
        # The containers are gone: what the pod had on the node goes (tmpfs unmounted).
        await self.agent.volumes.remove(self.uid)
        if pod is not None:
            await self.confirm_deletion(pod)
        return True

    async def sync(self, pod: Any) -> bool:
        """Converge the runtime to ``pod`` (not being deleted) once; cancelled when
        the pod is deleted meanwhile. False: the worker goes on."""
        runtime = self.agent.runtime
        mine = {labels.POD_UID: self.uid}
        sandboxes = await runtime.list_sandboxes(mine)
        instances = await runtime.list_containers(mine)
        phase = pod.status.phase if pod.status is not None else None
        if phase in TERMINAL_PHASES:
            # Finished: nothing to run again. Stop what is left, then sleep until the
            # pod changes (its deletion) instead of resyncing every few seconds.
            await self.stop_all(pod, instances, sandboxes, grace=termination_grace(pod))
            await self.release_network(sandboxes)
            self._next_sync = PARKED_SECONDS
            return False
        if not await admit(self, sandboxes, instances):
            return False
        if await self.past_deadline(pod, sandboxes, instances):
            return False
        self._reader = ObjectReader(self.agent.client)  # objects read once per sync
        self._credentials = None
        if not await self.mount_volumes(pod, sandboxes, instances):
            return False
        if await self.evicted_for_size(pod, sandboxes, instances):
            return False
        sandbox = await self.ensure_sandbox(pod, sandboxes, instances)
        if sandbox is None:
            await self.write_status(pod, sandbox, instances)
            return False
        # Containers still running in an older sandbox (its pause container died under
        # them) are stopped: a pod's containers always share the current sandbox.
        for stray in instances:
            if stray.sandbox_id != sandbox.id and stray.state == ContainerState.RUNNING:
                await stop_containers(self.agent, pod, [stray], [], termination_grace(pod))
        if await self.initialized(pod, sandbox, instances):
            for container in pod.spec.containers or ():
                await self.converge_container(pod, sandbox, container, instances)
        await start_ephemeral_containers(self, pod, sandbox, instances)  # once each
        fresh = await runtime.list_containers(mine)
        await self.write_status(pod, sandbox, fresh)
        # A dead sandbox stays while it holds a container's previous instance (RESTARTS,
        # lastState, logs --previous); once none is left in it, it goes.
        holding = {i.sandbox_id for i in fresh}
        for old in sandboxes:
            if old.id != sandbox.id and old.id not in holding:
                await self._remove_sandbox(old.id)
        return False

    async def past_deadline(
        self, pod: Any, sandboxes: list[SandboxStatus], instances: list[ContainerStatus]
    ) -> bool:
        """``activeDeadlineSeconds``: once the pod has been active that long, stop it and
        fail it with DeadlineExceeded (Kubernetes' wording). True when that happened."""
        deadline = pod.spec.active_deadline_seconds
        started = parse_rfc3339(
            (self.written or {}).get("startTime")
            or (pod.status.start_time if pod.status is not None else None)
        )
        if deadline is None or started is None:
            return False
        left = started + deadline - time.time()
        if left > 0:
            self._sync_in(left)
            return False
        message = "Pod was active on the node longer than the specified deadline"
        self.agent.event(pod, NORMAL, "DeadlineExceeded", message)
        await self.stop_all(pod, instances, sandboxes, termination_grace(pod), hooks=True)
        final = await self.agent.runtime.list_containers({labels.POD_UID: self.uid})
        await self.write_status(pod, None, final, failure=("DeadlineExceeded", message))
        return True

    async def mount_volumes(
        self, pod: Any, sandboxes: list[SandboxStatus], instances: list[ContainerStatus]
    ) -> bool:
        """Set the pod's volumes up (and bring configMap and secret volumes up to date)
        before any container is created. False when one is not ready: the containers
        not running yet wait as ContainerCreating with the FailedMount reason in their
        message (Kubernetes' state), and the sync is tried again with back-off."""
        assert self._reader is not None
        try:
            self._volumes = await self.agent.volumes.setup(
                pod, self._reader, started=bool(instances)
            )
        except VolumeSetupError as exc:
            message = exc.message
            if message != self._mount_failure:  # one Event per reason, not per sync
                self._mount_failure = message
                self.agent.event(pod, WARNING, "FailedMount", message)
                self.log.bind(error=message).warning("volumes not ready")
            running = {
                i.labels.get(labels.CONTAINER_NAME)
                for i in instances
                if i.state == ContainerState.RUNNING
            }
            for container in (*(pod.spec.init_containers or ()), *(pod.spec.containers or ())):
                if container.name not in running:
                    self.waiting[container.name] = Waiting("ContainerCreating", message)
            ready = [s for s in sandboxes if s.state == SandboxState.READY]
            await self.write_status(pod, ready[0] if ready else None, instances)
            self._sync_in(self.agent.backoff.next(f"{self.uid}/volumes"))
            return False
        if self._mount_failure:
            self._mount_failure = ""
            self.agent.backoff.reset(f"{self.uid}/volumes")
            for name, waiting in list(self.waiting.items()):
                if waiting.reason == "ContainerCreating":
                    del self.waiting[name]
        return True

    async def evicted_for_size(
        self, pod: Any, sandboxes: list[SandboxStatus], instances: list[ContainerStatus]
    ) -> bool:
        """An emptyDir on disk over its ``sizeLimit``: the kubelet's eviction manager
        fails the pod (reason Evicted, its message). True when that happened."""
        if (self.written or {}).get("reason") == "Evicted":
            return True  # done already; the watch has not brought the Failed phase back yet
        message = await self.agent.volumes.over_size_limit(pod)
        if message is None:
            return False
        self.log.bind(reason=message).warning("evicting the pod: emptyDir over its sizeLimit")
        self.agent.event(pod, WARNING, "Evicted", message)
        await self.stop_all(pod, instances, sandboxes, termination_grace(pod), hooks=True)
        final = await self.agent.runtime.list_containers({labels.POD_UID: self.uid})
        await self.write_status(pod, None, final, failure=("Evicted", message))
        return True

    async def ensure_sandbox(
        self, pod: Any, sandboxes: list[SandboxStatus], instances: list[ContainerStatus]
    ) -> SandboxStatus | None:
        ready = [s for s in sandboxes if s.state == SandboxState.READY]
        if ready:
            ready.sort(key=lambda s: s.created_at or 0, reverse=True)
            for stale in ready[1:]:  # two sandboxes for one pod: keep the newest
                await self._remove_sandbox(stale.id)
            current = ready[0]
            network = self.agent.network
            if network is None or not network.needs_network(pod, current):
                return current
            result = await network.result(current.id)
            if result is not None:  # set up earlier, perhaps by the agent before a restart
                self.network_ips = {current.id: result.ips}
                return current
            # A sandbox without its network: the agent stopped while setting it up. It
            # is replaced, as the kubelet replaces a sandbox whose network is not right.
            self.log.bind(sandbox=current.id).warning(
                "the pod's sandbox has no network (set-up never finished): replacing it"
            )
            await self._remove_sandbox(current.id)
            sandboxes = [s for s in sandboxes if s.id != current.id]
        if not await self.network_ready(pod):
            return None
        runtime = self.agent.runtime
        had_run = any(i.state != ContainerState.CREATED for i in instances)
        if had_run and (pod.spec.restart_policy or "Always") == "Never":
            # Kubernetes: a Never pod whose sandbox died does not get a new one.
            return None
        # The newest dead sandbox is kept for the instances in it (see sync); older go.
        dead = sorted(sandboxes, key=lambda s: s.created_at or 0, reverse=True)
        for old in dead[1:]:
            await self._remove_sandbox(old.id)
        attempt = len(sandboxes)
        try:
            sandbox_id = await runtime.create_sandbox(
                sandbox_config(pod, self.agent.node_name, attempt)
            )
        except (CreateError, InvalidConfig) as exc:
            self.log.bind(error=exc.message).warning("cannot create the pod's sandbox")
            self.agent.event(
                pod,
                WARNING,
                "FailedCreatePodSandBox",
                f"Failed to create pod sandbox: {exc.message}",
            )
            for container in pod.spec.containers or ():
                self.waiting[container.name] = Waiting("ContainerCreating", exc.message)
            self._sync_in(self.agent.backoff.next(f"{self.uid}/sandbox"))
            return None
        self.log.bind(sandbox=sandbox_id, attempt=attempt).info("sandbox created")
        sandbox = await runtime.sandbox_status(sandbox_id)
        if await self.setup_network(pod, sandbox):
            return sandbox
        return None

    async def network_ready(self, pod: Any) -> bool:
        """Whether the network plugin can give the pod its network now. When not, no
        sandbox is made: the containers wait as ContainerCreating, with a NetworkNotReady
        Event (the kubelet's), and the pod is looked at again soon."""
        network = self.agent.network
        if network is None or not network.needs_network(pod):
            return True
        status = await network.status()
        if status.ready:
            self._network_failure = ""
            return True
        message = (
            f"network is not ready: container runtime network not ready: "
            f"NetworkReady=false reason:{status.reason} message:{status.message}"
        )
        if message != self._network_failure:  # one Event per reason, not per sync
            self._network_failure = message
            self.agent.event(pod, WARNING, "NetworkNotReady", message)
            self.log.bind(reason=status.reason).warning("pod waits: the pod network is not ready")
        for container in (*(pod.spec.init_containers or ()), *(pod.spec.containers or ())):
            self.waiting[container.name] = Waiting("ContainerCreating", message)
        self._sync_in(NETWORK_RETRY_SECONDS)
        return False

    async def setup_network(self, pod: Any, sandbox: SandboxStatus) -> bool:
        """Give a new sandbox its network (when the plugin is the pod's). A failure is
        the kubelet's FailedCreatePodSandBox: an Event, the sandbox torn down and
        removed (nothing half set up stays), and a retry with back-off. True: go on."""
        network = self.agent.network
        if network is None or not network.needs_network(pod, sandbox):
            return True
        request = network.request(pod, self.uid, sandbox.id, sandbox.netns_path)
        try:
            result = await network.setup(request)
        except NetworkSetupError as exc:
            message = (
                f"Failed to create pod sandbox: failed to set up sandbox network for pod "
                f"{self.key}: {exc.message}"
            )
            self.log.bind(sandbox=sandbox.id, error=exc.message).warning(
                "cannot set up the pod's network"
            )
            self.agent.event(pod, WARNING, "FailedCreatePodSandBox", message)
            await self._remove_sandbox(sandbox.id)
            for container in pod.spec.containers or ():
                self.waiting[container.name] = Waiting("ContainerCreating", exc.message)
            self._sync_in(self.agent.backoff.next(f"{self.uid}/sandbox"))
            return False
        self.network_ips = {sandbox.id: result.ips}
        return True

    async def initialized(
        self, pod: Any, sandbox: SandboxStatus, instances: list[ContainerStatus]
    ) -> bool:
        """Run the init containers one after another, each to a successful exit, before
        any app container (Kubernetes' order). True once all have succeeded."""
        # An init container is restarted on failure unless the pod never restarts.
        policy = "Never" if pod.spec.restart_policy == "Never" else "OnFailure"
        for container in pod.spec.init_containers or ():
            latest = _newest(instances, container.name)
            if latest is not None and latest.state == ContainerState.EXITED:
                if latest.exit_code == 0:
                    continue
                if policy == "Never":
                    return False  # the pod has failed; the status says so
            await self.converge_container(pod, sandbox, container, instances, policy)
            return False
        return True

    async def converge_container(
        self,
        pod: Any,
        sandbox: SandboxStatus,
        container: Any,
        instances: list[ContainerStatus],
        policy: str | None = None,
    ) -> None:
        runtime, name = self.agent.runtime, container.name
        mine = sorted(
            (i for i in instances if i.labels.get(labels.CONTAINER_NAME) == name),
            key=lambda i: i.attempt,
            reverse=True,
        )
        latest = mine[0] if mine else None
        here = latest is not None and latest.sandbox_id == sandbox.id
        if latest is not None and latest.state == ContainerState.CREATED:
            if here:  # created by an agent that died before starting it
                await self.start(pod, latest.id, name)
                return
            with contextlib.suppress(RuntimeNotFound):  # never started, in a dead sandbox
                await runtime.remove_container(latest.id)
            mine, latest = mine[1:], (mine[1] if len(mine) > 1 else None)
        changed = latest is not None and latest.labels.get(labels.CONTAINER_HASH) not in (
            None,
            container_hash(container),
        )
        if latest is not None and latest.state == ContainerState.RUNNING and changed:
            # The container's definition changed (kubectl set image): Kubernetes kills it
            # and starts the new one, counting a restart, without back-off.
            self.agent.event(
                pod,
                NORMAL,
                "Killing",
                f"Container {name} definition changed, will be restarted",
                name,
            )
            await runtime.stop_container(latest.id, termination_grace(pod))
            latest = await runtime.container_status(latest.id)
        if latest is not None and latest.state == ContainerState.RUNNING:
            why = self.agent.probes.failed(self.uid, name, latest.id)
            if not why:
                self.waiting.pop(name, None)
                return
            self.log.bind(container=name, reason=why).info("restarting: probe failed")
            self.agent.event(
                pod,
                NORMAL,
                "Killing",
                f"Container {name} failed {why.split()[0].lower()} probe, will be restarted",
                name,
            )
            await runtime.stop_container(latest.id, termination_grace(pod))
            latest = await runtime.container_status(latest.id)
        policy = policy or pod.spec.restart_policy or "Always"
        if latest is not None:  # exited
            if policy == "Never" or (policy == "OnFailure" and latest.exit_code == 0):
                self.waiting.pop(name, None)
                return
            key = f"{self.uid}/{name}"
            wait = 0.0 if changed else self.agent.backoff.in_backoff(key, since=latest.finished_at)
            if wait > 0:
                if not self._is_waiting(name, "CrashLoopBackOff"):  # one Event per back-off
                    self.agent.event(
                        pod,
                        WARNING,
                        "BackOff",
                        f"Back-off restarting failed container {name} in pod "
                        f"{pod.metadata.name}_{pod.metadata.namespace}({self.uid})",
                        name,
                    )
                self.waiting[name] = Waiting(
                    "CrashLoopBackOff",
                    f"back-off {_duration(self.agent.backoff.delay(key))} restarting failed "
                    f"container={name} pod={pod.metadata.name}_{pod.metadata.namespace}"
                    f"({self.uid})",
                )
                self._sync_in(wait)
                return
            self.agent.backoff.next(key)
        attempt = latest.attempt + 1 if latest is not None else self._restarts_so_far(pod, name)
        if not await self.ensure_image(pod, container):
            return
        # Keep the previous instance (``logs --previous``) and no older one.
        for old in mine[KEEP_INSTANCES - 1 :]:
            with contextlib.suppress(RuntimeNotFound):
                await runtime.remove_container(old.id)
        try:
            env, mounts = await self.env_and_mounts(pod, container, sandbox)
        except (EnvError, MountConfigError, ObjectUnreadable) as exc:
            self.waiting[name] = Waiting("CreateContainerConfigError", str(exc))
            self.agent.event(pod, WARNING, "Failed", f"Error: {exc}", name)
            self._sync_in(self.agent.backoff.next(f"{self.uid}/{name}/config"))
            return
        try:
            cid = await runtime.create_container(
                sandbox.id,
                container_config(pod, container, self.agent.node_name, attempt, env, mounts),
                sandbox_config(pod, self.agent.node_name),
            )
        except (CreateError, InvalidConfig) as exc:
            self.agent.event(pod, WARNING, "Failed", f"Error: {exc.message}", name)
            self.waiting[name] = Waiting("CreateContainerError", exc.message)
            self._sync_in(self.agent.backoff.next(f"{self.uid}/{name}/create"))
            return
        self.agent.event(pod, NORMAL, "Created", f"Created container {name}", name)
        await self.start(pod, cid, name)

    async def env_and_mounts(
        self, pod: Any, container: Any, sandbox: SandboxStatus
    ) -> tuple[tuple[tuple[str, str], ...], tuple[Mount, ...]]:
        """The container's environment (with the ConfigMaps and Secrets it names, read
        for this sync) and its volumeMounts as host paths; EnvError or MountConfigError
        (CreateContainerConfigError) when one cannot be made."""
        host_network = bool(pod.spec.host_network)
        sources = EnvSources()
        if self._reader is not None:
            sources = await read_env_sources(self._reader, pod, container)
        env = resolve_env(
            pod,
            container,
            host_ip=self.agent.node_ip,
            pod_ip=self.agent.node_ip if host_network else self.sandbox_ip(sandbox),
            allocatable=self.agent.identity.capacity,
            sources=sources,
        )
        mounts = container_mounts(
            container,
            self._volumes,
            dict(env),
            functools.partial(self.agent.volumes.sub_path, self.uid, container.name),
        )
        mounts += container_dns_mounts(self.agent, pod, sandbox, mounts, self.sandbox_ip(sandbox))
        for skipped in sources.skipped:
            self.agent.event(
                pod, WARNING, "InvalidEnvironmentVariableNames", skipped, container.name
            )
        return env, mounts

    def sandbox_ip(self, sandbox: SandboxStatus) -> str:
        """The pod's IP in ``sandbox``: the runtime's, else the network plugin's."""
        return sandbox.ip or next(iter(self.network_ips.get(sandbox.id, ())), "")

    def _is_waiting(self, name: str, reason: str) -> bool:
        waiting = self.waiting.get(name)
        return waiting is not None and waiting.reason == reason

    def _restarts_so_far(self, pod: Any, name: str) -> int:
        """The attempt number of a container with no instance left in the runtime: 0
        the first time; after a sandbox was recreated (its containers went with it),
        one more than the restarts already reported."""
        reported = (self.written or {}).get("containerStatuses") or []
        if not reported and pod.status is not None:
            reported = [s.to_dict() for s in pod.status.container_statuses or ()]
        for status in reported:
            if status.get("name") == name and status.get("containerID"):
                return int(status.get("restartCount") or 0) + 1
        return 0

    async def start(self, pod: Any, cid: str, name: str) -> None:
        try:
            await self.agent.runtime.start_container(cid)
        except StartError as exc:
            self.agent.event(pod, WARNING, "Failed", f"Error: {exc.message}", name)
            self.waiting[name] = Waiting("RunContainerError", exc.message)
            self.log.bind(container=name, error=exc.message).warning("container cannot start")
            self._sync_in(self.agent.backoff.in_backoff(f"{self.uid}/{name}") or 1.0)
            return
        self.waiting.pop(name, None)
        self.agent.event(pod, NORMAL, "Started", f"Started container {name}", name)
        self.log.bind(container=name, id=cid).info("container started")

    async def ensure_image(self, pod: Any, container: Any) -> bool:
        """Pull per imagePullPolicy; False (with the waiting reason set) when the image
        is not there to run."""
        name = container.name
        outcome = await self.pulls.ensure(
            pod, container, self.waiting.get(name), await self.pull_auth(pod, container.image)
        )
        if outcome.waiting is not None:
            self.waiting[name] = outcome.waiting
        if outcome.retry_in is not None:
            self._sync_in(outcome.retry_in)
        return outcome.ready

    async def pull_auth(self, pod: Any, image: str) -> RegistryAuth | None:
        """The credentials of the pod's imagePullSecrets for ``image``'s registry (read
        once per sync); a secret that cannot be read is said once in an Event and the
        pull is tried without it (Kubernetes does the same)."""
        if not pod.spec.image_pull_secrets or self._reader is None:
            return None
        if self._credentials is None:
            self._credentials = await read_pull_credentials(self._reader, pod)
            missing = ", ".join(self._credentials.unreadable)
            if missing and not self.pulls.said_unreadable(missing):
                self.agent.event(
                    pod,
                    WARNING,
                    "FailedToRetrieveImagePullSecret",
                    f"Unable to retrieve some image pull secrets ({missing}); attempting to "
                    "pull the image may not succeed.",
                )
        return self._credentials.for_image(image)

    # --- stopping ------------------------------------------------------------------

    async def kill(
        self, pod: Any, sandboxes: list[SandboxStatus], instances: list[ContainerStatus]
    ) -> None:
        """Stop the pod (preStop hooks, SIGTERM, SIGKILL after the grace period), write its
        final status, remove it from the runtime. A shorter grace period arriving while
        it stops (``kubectl delete --grace-period=0 --force``) cuts the wait short: the
        one place a sync reads the worker's newest copy (``self.pod``), on purpose."""
        grace = deletion_grace(pod) if pod is not None else 0
        stopping = asyncio.create_task(self.stop_all(pod, instances, sandboxes, grace, hooks=True))
        try:
            while not stopping.done():
                self._wake.clear()
                woken = asyncio.create_task(self._wake.wait())
                await asyncio.wait({stopping, woken}, return_when=asyncio.FIRST_COMPLETED)
                woken.cancel()
                if stopping.done():
                    break
                shorter = deletion_grace(self.pod) if self.pod is not None else 0.0
                if shorter < grace:
                    self.log.bind(grace=shorter, was=grace).info("grace period shortened")
                    grace = shorter
                    await self.stop_all(pod, instances, sandboxes, grace)  # beside the first
            await stopping
        finally:
            # Left early (the shortened stop failed: the runtime went away; or this sync
            # was cancelled): the first stop is not left running, nor its failure
            # unretrieved — the next sync stops the pod again.
            if not stopping.done():
                stopping.cancel()
            stopping.add_done_callback(_retrieved)
        if pod is not None and self.pod is not None:
            # Kubernetes moves a deleted pod to a terminal phase before it goes, so a pod
            # kept by a finalizer does not read Running forever.
            final = await self.agent.runtime.list_containers({labels.POD_UID: self.uid})
            # The watch may have said it is gone meanwhile: nothing left to write to.
            if self.pod is not None:
                await self.write_status(self.pod, None, final, terminal=True)
                await self.agent.status.flush(self.uid)  # on the object before it goes
        for sandbox in sandboxes:
            await self._remove_sandbox(sandbox.id)
        self.log.bind(grace=grace).info("pod stopped and removed from the runtime")

    async def release_network(self, sandboxes: list[SandboxStatus]) -> None:
        """A finished pod's sandboxes stay (its containers' logs) but their network goes
        (the kubelet's StopPodSandbox): a node running many Jobs does not run out of
        addresses. The status keeps the IP the pod had."""
        network = self.agent.network
        if network is None:
            return
        for sandbox in sandboxes:
            await network.teardown(network.request(self.last_seen, self.uid, sandbox.id, ""))

    async def _remove_sandbox(self, sandbox_id: str) -> None:
        network = self.agent.network
        if network is not None:  # its network first, while its namespace still exists
            await network.teardown(network.request(self.last_seen, self.uid, sandbox_id, ""))
            self.network_ips.pop(sandbox_id, None)
        with contextlib.suppress(RuntimeNotFound):
            await self.agent.runtime.remove_sandbox(sandbox_id)

    async def confirm_deletion(self, pod: Any) -> None:
        await confirm_deletion(self.agent, pod)
        self.log.info("deletion confirmed")

    async def stop_all(
        self,
        pod: Any,
        instances: list[ContainerStatus],
        sandboxes: list[SandboxStatus],
        grace: float,
        hooks: bool = False,
    ) -> None:
        await stop_containers(self.agent, pod, instances, sandboxes, grace, hooks)

    # --- status --------------------------------------------------------------------

    async def write_status(
        self,
        pod: Any,
        sandbox: SandboxStatus | None,
        instances: list[ContainerStatus],
        terminal: bool = False,
        failure: tuple[str, str] | None = None,
    ) -> None:
        """Hand the pod's status to the status manager, which writes it (the only
        writer). ``terminal``: the pod is being removed, nothing will run again (its
        phase becomes Succeeded or Failed); ``failure``: (reason, message) that failed
        it."""
        agent = self.agent
        view = pod_view(
            agent,
            self.uid,
            pod,
            sandbox,
            instances,
            waiting=self.waiting,
            previous=self.written or {},
            terminal=terminal,
            failure=failure,
            pod_ips=self.network_ips.get(sandbox.id, ()) if sandbox is not None else (),
        )
        agent.status.set(pod, with_ephemeral_statuses(pod_status(view), view))


def _deleting(pod: Any) -> bool:
    return pod is None or bool(pod.metadata.deletion_timestamp)


def _newest(instances: list[ContainerStatus], name: str) -> ContainerStatus | None:
    mine = [i for i in instances if i.labels.get(labels.CONTAINER_NAME) == name]
    return max(mine, key=lambda i: i.attempt) if mine else None


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"


def _retrieved(task: asyncio.Task[Any]) -> None:
    """Mark ``task``'s outcome as seen: its failure was already acted on elsewhere."""
    if not task.cancelled():
        task.exception()
