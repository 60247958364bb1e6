"""The agent's Node: registration, the Lease heartbeat, and the Ready condition.

Kubernetes' split, kept here: the *Lease* in ``kube-node-lease`` is renewed every few
seconds and is what tells the control plane the node lives (a small write); the
*Node status* is written only when something changed (Ready flips, the runtime's
message changes) or every ``status_update_seconds`` as a heartbeat of the
conditions, so that hundreds of nodes cost the API server little.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
from loguru import logger

from navarch import __version__
from navarch.agent.machine import Machine
from navarch.api.timefmt import micro_time, rfc3339
from navarch.client import Client
from navarch.client.errors import AlreadyExists, ApiException, Conflict, NotFound
from navarch.config import ConfigError
from navarch.runtime import RuntimeFault, RuntimeVersion

if TYPE_CHECKING:
    from navarch.agent.network import NetworkStatus

LEASE_NAMESPACE = "kube-node-lease"
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
AGENT_VERSION = f"v{__version__}-navarch"


class BadTaint(ConfigError):
    """A taint in ``agent.taints`` that is not ``key=value:Effect``."""


def parse_taint(text: str) -> dict[str, str]:
    """``key=value:Effect`` or ``key:Effect`` -> a Node taint."""
    body, sep, effect = text.rpartition(":")
    if not sep or effect not in TAINT_EFFECTS or not body:
        raise BadTaint(
            f"agent.taints: {text!r} is not key=value:Effect with Effect one of "
            f"{', '.join(TAINT_EFFECTS)} (e.g. dedicated=gpu:NoSchedule)"
        )
    key, _, value = body.partition("=")
    taint = {"key": key, "effect": effect}
    if value:
        taint["value"] = value
    return taint


@attrs.define
class NodeIdentity:
    """What the Node says of itself (fixed while the agent runs)."""

    name: str
    ip: str
    machine: Machine
    capacity: dict[str, str]
    labels: dict[str, str]
    taints: list[dict[str, str]]
    port: int = 0

    def node_labels(self) -> dict[str, str]:
        return {
            "kubernetes.io/hostname": self.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": self.machine.architecture,
            "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": self.machine.architecture,
            **self.labels,
        }


@attrs.define
class NodeReporter:
    """Registers the Node, renews its Lease, and keeps its Ready condition true while
    the runtime answers (false with the runtime's error when it does not)."""

    client: Client
    identity: NodeIdentity
    runtime_version: Callable[[], Any]  # async () -> RuntimeVersion, raises RuntimeFault
    lease_renew_seconds: float = 5.0
    lease_duration_seconds: int = 40
    status_update_seconds: float = 60.0
    # The pod network plugin's readiness (None: no plugin, no NetworkUnavailable).
    network_status: Callable[[], Awaitable[NetworkStatus]] | None = None
    network: NetworkStatus | None = None
    # agent.pod_cidr: the Node is registered with it as spec.podCIDR (when it has none),
    # so the other nodes' host-gw routes find this node's pods without the node IPAM
    # controller.
    pod_cidr: str = ""
    node_uid: str = ""
    ready: bool = False
    ready_message: str = ""
    _written: dict[str, Any] | None = None
    _written_at: float = 0.0
    _lease: dict[str, Any] | None = None
    _transition: dict[str, str] = attrs.field(factory=dict)
    _version: RuntimeVersion | None = None
    _changed: asyncio.Event = attrs.field(factory=asyncio.Event)
    # when a heartbeat last reached the API server (monotonic)
    _heard_at: float = attrs.field(factory=time.monotonic)
    # heartbeats tried, and those that failed (for /metrics and the tests)
    heartbeats: int = 0
    heartbeat_errors: int = 0

    @property
    def log(self) -> Any:
        return logger.bind(component="agent", node=self.identity.name)

    async def run(self) -> None:
        """Register, then heartbeat until cancelled."""
        await self.check_runtime()
        await self.register()
        while True:
            if time.monotonic() - self._heard_at > 2 * self.lease_renew_seconds:
                # Unheard for a while (a partition, a stalled process): the node
                # lifecycle controller may have marked the Node Unknown meanwhile, which
                # our last written status cannot show: write it again, changed or not.
                self._written = None
            try:
                await self.renew_lease()
                await self.check_runtime()
                await self.write_status()
                self._heard_at = time.monotonic()
            except ApiException as exc:
                self.heartbeat_errors += 1
                self.log.bind(error=str(exc)).warning("node heartbeat failed; retrying")
            self.heartbeats += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), self.lease_renew_seconds)
            self._changed.clear()

    def poke(self) -> None:
        """Something changed (the runtime failed a call): heartbeat now."""
        self._changed.set()

    async def check_runtime(self) -> None:
        try:
            self._version = await self.runtime_version()
            ready, message = True, "navarch agent is posting ready status"
        except RuntimeFault as exc:
            ready, message = False, f"container runtime is down: {exc.message}"
        if self.network_status is not None:
            network = await self.network_status()
            if network != self.network:
                self.log.bind(ready=network.ready, reason=network.reason).info(
                    "pod network readiness changed"
                )
            self.network = network
            if ready and not network.ready:
                # The kubelet's words: a node whose pod network is not ready is not Ready.
                ready, message = (
                    False,
                    "container runtime network not ready: NetworkReady=false "
                    f"reason:{network.reason} message:{network.message}",
                )
        if ready != self.ready:
            self.log.bind(ready=ready, message=message).info("node readiness changed")
        self.ready, self.ready_message = ready, message

    # --- the Node ------------------------------------------------------------------

    async def register(self) -> None:
        node = self.node_object()
        while True:
            try:
                created = await self.client.nodes.create(node)
                self.node_uid = _uid(created)
                self.log.info("node registered")
                break
            except AlreadyExists:
                # Registered before (an agent restart): keep its spec (taints set by an
                # operator, cordons), refresh our labels and the status.
                existing = await self.client.nodes.patch(
                    self.identity.name, {"metadata": {"labels": self.identity.node_labels()}}
                )
                self.node_uid = _uid(existing)
                await self._claim_pod_cidr(existing)
                self.log.info("node re-registered")
                break
            except ApiException as exc:
                self.log.bind(error=str(exc)).warning("node registration failed; retrying")
                await asyncio.sleep(min(self.lease_renew_seconds, 5.0))
        self._written = None
        await self.write_status()

    async def _claim_pod_cidr(self, node: Any) -> None:
        """A re-registered Node without a pod range gets agent.pod_cidr (spec.podCIDR is
        write-once: a range already there, the node IPAM controller's, stays)."""
        spec = _as_dict(node).get("spec") or {}
        if not self.pod_cidr or spec.get("podCIDR"):
            if self.pod_cidr and spec.get("podCIDR") != self.pod_cidr:
                self.log.bind(pod_cidr=self.pod_cidr, node_pod_cidr=spec.get("podCIDR")).warning(
                    "agent.pod_cidr differs from the Node's spec.podCIDR; pods use agent.pod_cidr"
                )
            return
        try:
            await self.client.nodes.patch(
                self.identity.name,
                {"spec": {"podCIDR": self.pod_cidr, "podCIDRs": [self.pod_cidr]}},
            )
        except ApiException as exc:
            self.log.bind(error=str(exc)).warning("could not set the Node's spec.podCIDR")

    def node_object(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": self.identity.name, "labels": self.identity.node_labels()}
        spec: dict[str, Any] = {}
        if self.identity.taints:
            spec["taints"] = self.identity.taints
        if self.pod_cidr:
            spec["podCIDR"], spec["podCIDRs"] = self.pod_cidr, [self.pod_cidr]
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": meta,
            "spec": spec,
            "status": self.status(),
        }

    def status(self) -> dict[str, Any]:
        ident, machine = self.identity, self.identity.machine
        now = rfc3339()
        version = self._version
        return {
            "capacity": ident.capacity,
            "allocatable": ident.capacity,
            "conditions": [
                self._condition("Ready", self.ready, now, self.ready_message),
                self._condition("MemoryPressure", False, now, "has sufficient memory"),
                self._condition("DiskPressure", False, now, "has no disk pressure"),
                self._condition("PIDPressure", False, now, "has sufficient PID available"),
                *self._network_condition(now),
            ],
            "addresses": [
                {"type": "InternalIP", "address": ident.ip},
                {"type": "Hostname", "address": ident.name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": ident.port}},
            "nodeInfo": {
                "machineID": machine.machine_id,
                "systemUUID": machine.machine_id,
                "bootID": machine.boot_id,
                "kernelVersion": machine.kernel_version,
                "osImage": machine.os_image,
                "containerRuntimeVersion": version.node_info if version else "unknown://",
                "kubeletVersion": AGENT_VERSION,
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": machine.architecture,
            },
        }

    def _network_condition(self, now: str) -> list[dict[str, str]]:
        """NetworkUnavailable (the route controller's and CNI plugins' condition): True
        with the plugin's reason while pods cannot get a network here."""
        network = self.network
        if network is None:
            return []
        status = "False" if network.ready else "True"
        if self._transition.get("NetworkUnavailable/status") != status:
            self._transition["NetworkUnavailable/status"] = status
            self._transition["NetworkUnavailable"] = now
        return [
            {
                "type": "NetworkUnavailable",
                "status": status,
                "lastHeartbeatTime": now,
                "lastTransitionTime": self._transition["NetworkUnavailable"],
                "reason": network.reason or ("NetworkReady" if network.ready else "NotReady"),
                "message": network.message,
            }
        ]

    def _condition(self, kind: str, healthy: bool, now: str, message: str) -> dict[str, str]:
        # Ready is good when True; the pressure conditions when False.
        status = ("True" if healthy else "False") if kind == "Ready" else "False"
        reasons = {
            "Ready": "KubeletReady" if healthy else "KubeletNotReady",
            "MemoryPressure": "KubeletHasSufficientMemory",
            "DiskPressure": "KubeletHasNoDiskPressure",
            "PIDPressure": "KubeletHasSufficientPID",
        }
        if self._transition.get(kind + "/status") != status:
            self._transition[kind + "/status"] = status
            self._transition[kind] = now
        return {
            "type": kind,
            "status": status,
            "lastHeartbeatTime": now,
            "lastTransitionTime": self._transition[kind],
            "reason": reasons[kind],
            "message": message,
        }

    async def write_status(self) -> None:
        """Write the Node's status when it changed, or as the periodic heartbeat."""
        status = self.status()
        due = time.monotonic() - self._written_at >= self.status_update_seconds
        if not due and self._written is not None and _same(self._written, status):
            return
        try:
            await self.client.nodes.patch(
                self.identity.name, {"status": status}, subresource="status"
            )
        except NotFound:
            self.log.warning("node object was deleted; registering again")
            await self.register()
            return
        self._written, self._written_at = status, time.monotonic()

    # --- the Lease -----------------------------------------------------------------

    async def renew_lease(self) -> None:
        name = self.identity.name
        if self._lease is None:
            self._lease = await self._get_or_create_lease()
        lease = self._lease
        lease["spec"]["renewTime"] = micro_time()
        try:
            self._lease = await self.client.leases.update(lease, LEASE_NAMESPACE)
        except (Conflict, NotFound):
            self._lease = None  # someone else wrote it (or removed it): read it again
            self._lease = await self._get_or_create_lease()
            self._lease["spec"]["renewTime"] = micro_time()
            self._lease = await self.client.leases.update(self._lease, LEASE_NAMESPACE)
        self._lease = _as_dict(self._lease)
        self.log.bind(lease=name).trace("lease renewed")

    async def _get_or_create_lease(self) -> dict[str, Any]:
        name = self.identity.name
        try:
            return _as_dict(await self.client.leases.get(name, LEASE_NAMESPACE))
        except NotFound:
            pass
        metadata: dict[str, Any] = {"name": name, "namespace": LEASE_NAMESPACE}
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": {
                "holderIdentity": name,
                "leaseDurationSeconds": self.lease_duration_seconds,
                "renewTime": micro_time(),
            },
        }
        if self.node_uid:
            metadata["ownerReferences"] = [
                {"apiVersion": "v1", "kind": "Node", "name": name, "uid": self.node_uid}
            ]
        try:
            return _as_dict(await self.client.leases.create(body, LEASE_NAMESPACE))
        except AlreadyExists:
            return _as_dict(await self.client.leases.get(name, LEASE_NAMESPACE))


def _same(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Equal but for heartbeat times."""

    def strip(status: Mapping[str, Any]) -> Any:
        conditions = [
            {k: v for k, v in c.items() if k != "lastHeartbeatTime"}
            for c in status.get("conditions", [])
        ]
        return {**status, "conditions": conditions}

    return bool(strip(old) == strip(new))


def _as_dict(obj: Any) -> dict[str, Any]:
    from navarch import api

    return obj if isinstance(obj, dict) else api.dump(obj)


def _uid(obj: Any) -> str:
    return str(_as_dict(obj)["metadata"].get("uid", ""))
