"""ClusterIP and NodePort allocation, kept in the store so that several API servers on
one store never hand out the same address (Kubernetes' allocators with their
allocation records: IPAddress objects for ClusterIPs since 1.33).

Every allocated IP and port is one key, written with the store's create-if-absent::

    /registry/navarch/allocations/serviceips/10.43.12.7
    /registry/navarch/allocations/servicenodeports/30080
        -> {"namespace": "default", "name": "web", "uid": "…", "allocated": 1712…}

Two servers racing for one address both try ``create``; the store lets exactly one
win, the other gets AlreadyExists and picks again (or, for an address the user asked
for, answers 422 ``provided IP is already allocated``). The record is written before
the Service and removed after it: a crash in between leaks a record, never shares an
address. The repair pass at start (Kubernetes' repair controllers) frees records whose
Service is gone or has another uid, once they are older than a grace (a record of a
create still in flight on another server has no Service yet), and writes the records
missing for Services that hold addresses (a store restored from an older backup).

Dynamic ClusterIPs come from the upper part of the range first, as Kubernetes'
allocator does, leaving the lower band (and the first address, the ``kubernetes``
Service's) to addresses asked for by name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import orjson
from loguru import logger

from navarch.api import errors as field_errors
from navarch.api.core_v1_service import CLUSTER_IP_NONE, EXTERNAL_NAME, needs_node_ports
from navarch.api.errors import InvalidObject
from navarch.apiserver import errors
from navarch.apiserver.objects import Obj
from navarch.resources.spec import Resource
from navarch.store import AlreadyExists, NotFound, Store

log = logger.bind(component="serviceallocation")

IP_PREFIX = b"/registry/navarch/allocations/serviceips/"
PORT_PREFIX = b"/registry/navarch/allocations/servicenodeports/"
RANDOM_TRIES = 16  # random picks before scanning the records for a free value
REPAIR_GRACE_SECONDS = 60.0  # a record younger than this may be a create in flight
Finish = Callable[[bool], Awaitable[None]]


class RangeFull(Exception):
    pass


def parse_port_range(text: str) -> range:
    """``30000-32767`` (inclusive, as kube-apiserver's --service-node-port-range)."""
    low, _, high = text.partition("-")
    first, last = int(low), int(high or low)
    if not 0 < first <= last <= 65535:
        raise ValueError(f"invalid port range {text!r}: want LOW-HIGH within 1-65535")
    return range(first, last + 1)


@attrs.define
class Pool:
    """One kind of value (IPs or ports) under one key prefix."""

    prefix: bytes
    values: list[str]  # every allocatable value, in order
    dynamic_first: int  # index from which random picks start (the upper band)
    what: str  # "IP" or "port", for Kubernetes' messages
    valid_range: str
    members: frozenset[str] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.members = frozenset(self.values)

    def key(self, value: str) -> bytes:
        return self.prefix + value.encode()

    def contains(self, value: str) -> bool:
        return value in self.members


def ip_pool(cidr: str) -> Pool:
    network = ipaddress.ip_network(cidr, strict=False)
    # not the network address nor (IPv4) the broadcast address, as Kubernetes
    hosts = [str(ip) for ip in network.hosts()]
    size = len(hosts)
    reserved = min(max(16, size // 16), 256)  # Kubernetes' static band
    return Pool(IP_PREFIX, hosts, reserved if size > reserved else 0, "IP", str(network))


def port_pool(ports: range) -> Pool:
    values = [str(p) for p in ports]
    size = len(values)
    reserved = min(max(16, size // 32), 128)
    return Pool(
        PORT_PREFIX,
        values,
        reserved if size > reserved else 0,
        "port",
        f"{ports.start}-{ports.stop - 1}",
    )


def cluster_ips_of(obj: Obj) -> list[str]:
    spec = obj.get("spec") or {}
    if spec.get("type") == EXTERNAL_NAME:
        return []
    return [ip for ip in spec.get("clusterIPs") or [] if ip and ip != CLUSTER_IP_NONE]


def node_ports_of(obj: Obj) -> list[str]:
    spec = obj.get("spec") or {}
    if not needs_node_ports(spec.get("type")):
        return []
    return [str(p["nodePort"]) for p in spec.get("ports") or [] if p.get("nodePort")]


class ServiceAllocator:
    """The write hook of Services: allocate before the write, release after."""

    def __init__(self, store: Store, service_cidr: str, node_ports: range):
        self.store = store
        self.ips = ip_pool(service_cidr)
        self.ports = port_pool(node_ports)
        self._releases: set[asyncio.Task[None]] = set()

    # --- the write hook ---------------------------------------------------------------

    async def begin(self, new: Obj, old: Obj | None, dry_run: bool) -> Finish:
        """Allocate what ``new`` needs and ``old`` did not hold, setting the allocated
        values in ``new``; the returned ``finish(written)`` releases, after a write, what
        ``old`` held and ``new`` no longer does, and after a failed write what this call
        took."""
        owner = _owner(new)
        taken: list[tuple[Pool, str]] = []
        try:
            await self._allocate_ips(new, old, owner, dry_run, taken)
            await self._allocate_ports(new, old, owner, dry_run, taken)
        except BaseException:
            await self._release_all(taken)
            raise
        dropped = []
        if old is not None:
            dropped = [
                (self.ips, ip) for ip in cluster_ips_of(old) if ip not in cluster_ips_of(new)
            ]
            dropped += [(self.ports, p) for p in node_ports_of(old) if p not in node_ports_of(new)]

        async def finish(written: bool) -> None:
            await self._release_all(dropped if written else taken)

        return finish

    def released(self, res: Resource, obj: Obj, removed: bool) -> None:
        """A deletion listener: a removed Service's records go (in the background; a
        failure is left to the repair pass)."""
        if not removed or res.kind != "Service" or res.group:
            return
        held = [(self.ips, ip) for ip in cluster_ips_of(obj)]
        held += [(self.ports, p) for p in node_ports_of(obj)]
        if held:
            task = asyncio.get_running_loop().create_task(self._release_all(held))
            self._releases.add(task)
            task.add_done_callback(self._releases.discard)

    async def _allocate_ips(
        self, new: Obj, old: Obj | None, owner: dict[str, Any], dry_run: bool, taken: list
    ) -> None:
        spec = new.get("spec") or {}
        if spec.get("type") == EXTERNAL_NAME or spec.get("clusterIP") == CLUSTER_IP_NONE:
            return
        held = set(cluster_ips_of(old)) if old is not None else set()
        wanted = spec.get("clusterIP")
        if wanted:
            if wanted in held:
                return
            problem = await self._claim(self.ips, wanted, owner, dry_run)
            if problem:
                raise _invalid(
                    new, "spec.clusterIPs[0]", wanted, f"failed to allocate IP {wanted}: {problem}"
                )
            taken.append((self.ips, wanted))
            return
        ip = await self._claim_any(self.ips, owner, dry_run)
        if not dry_run:
            taken.append((self.ips, ip))
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip]

    async def _allocate_ports(
        self, new: Obj, old: Obj | None, owner: dict[str, Any], dry_run: bool, taken: list
    ) -> None:
        spec = new.get("spec") or {}
        if not needs_node_ports(spec.get("type")):
            return
        # allocateLoadBalancerNodePorts: false spares only the ports nobody asked for:
        # one named in the Service is claimed (and checked) all the same, as Kubernetes.
        dynamic = spec.get("allocateLoadBalancerNodePorts") is not False
        held = set(node_ports_of(old)) if old is not None else set()
        for i, port in enumerate(spec.get("ports") or []):
            wanted = port.get("nodePort")
            if wanted:
                if str(wanted) in held:
                    continue
                problem = await self._claim(self.ports, str(wanted), owner, dry_run)
                if problem:
                    raise _invalid(new, f"spec.ports[{i}].nodePort", wanted, problem)
                taken.append((self.ports, str(wanted)))
                continue
            if not dynamic:
                continue
            value = await self._claim_any(self.ports, owner, dry_run)
            if not dry_run:
                taken.append((self.ports, value))
            port["nodePort"] = int(value)

    # --- records ----------------------------------------------------------------------

    async def _claim(self, pool: Pool, value: str, owner: dict[str, Any], dry_run: bool) -> str:
        """Kubernetes' allocator errors, or "" once the record is written."""
        if not pool.contains(value):
            if pool.what == "IP":
                return (
                    f"the provided IP ({value}) is not in the valid range. "
                    f"The range of valid IPs is {pool.valid_range}"
                )
            return (
                "provided port is not in the valid range. "
                f"The range of valid ports is {pool.valid_range}"
            )
        if dry_run:
            try:
                await self.store.get(pool.key(value))
            except NotFound:
                return ""
            return f"provided {pool.what} is already allocated"
        try:
            await self.store.create(pool.key(value), _record(owner))
        except AlreadyExists:
            return f"provided {pool.what} is already allocated"
        return ""

    async def _claim_any(self, pool: Pool, owner: dict[str, Any], dry_run: bool) -> str:
        dynamic = pool.values[pool.dynamic_first :]
        for _ in range(RANDOM_TRIES):
            value = random.choice(dynamic)
            if dry_run or not await self._claim(pool, value, owner, dry_run):
                return value
        # Crowded: read what is taken and try the free values in random order.
        used = {key[len(pool.prefix) :].decode() for key in await self._keys(pool)}
        free = [v for v in dynamic if v not in used] or [v for v in pool.values if v not in used]
        random.shuffle(free)
        for value in free:
            if not await self._claim(pool, value, owner, dry_run):
                return value
        kind = "serviceIP" if pool.what == "IP" else "nodePort"
        raise errors.internal(f"failed to allocate a {kind}: range is full")

    async def _keys(self, pool: Pool) -> list[bytes]:
        result = await self.store.range(pool.prefix)
        return [kv.key for kv in result.items]

    async def _release_all(self, held: list[tuple[Pool, str]]) -> None:
        for pool, value in held:
            try:
                await self.store.delete(pool.key(value))
            except NotFound:
                pass
            except Exception as exc:  # left to the repair pass
                log.bind(value=value, error=str(exc)).warning("could not release an allocation")

    # --- repair -----------------------------------------------------------------------

    async def repair(self, services: Resource) -> None:
        """Free records whose Service is gone; write missing records of Services."""
        listed = await self.store.range(services.store_prefix())
        holders: dict[tuple[str, str], str] = {}
        for kv in listed.items:
            obj = orjson.loads(kv.value)
            uid = obj["metadata"].get("uid", "")
            for ip in cluster_ips_of(obj):
                holders[(self.ips.what, ip)] = uid
            for port in node_ports_of(obj):
                holders[(self.ports.what, port)] = uid
            owner = _owner(obj)
            for pool, value in [(self.ips, ip) for ip in cluster_ips_of(obj)] + [
                (self.ports, p) for p in node_ports_of(obj)
            ]:
                if pool.contains(value):
                    try:
                        await self.store.create(pool.key(value), _record(owner))
                        log.bind(value=value, service=_name(obj)).info("allocation record restored")
                    except AlreadyExists:
                        pass
        now = time.time()
        freed = 0
        for pool in (self.ips, self.ports):
            for kv in (await self.store.range(pool.prefix)).items:
                value = kv.key[len(pool.prefix) :].decode()
                record = orjson.loads(kv.value)
                if holders.get((pool.what, value)) == record.get("uid"):
                    continue
                if now - float(record.get("allocated", 0)) < REPAIR_GRACE_SECONDS:
                    continue
                try:
                    await self.store.delete(kv.key, kv.mod_revision)
                    freed += 1
                except Exception:  # taken again meanwhile, or already gone
                    continue
        if freed:
            log.bind(freed=freed).info("freed allocations of deleted Services")

    async def close(self) -> None:
        if self._releases:
            await asyncio.gather(*self._releases, return_exceptions=True)


def _owner(obj: Obj) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    return {
        "namespace": meta.get("namespace", ""),
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
    }


def _name(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _record(owner: dict[str, Any]) -> bytes:
    return orjson.dumps({**owner, "allocated": time.time()})


def _invalid(obj: Obj, path: str, value: Any, detail: str) -> errors.ApiError:
    name = (obj.get("metadata") or {}).get("name", "")
    return errors.from_invalid_object(
        InvalidObject("Service", name, [field_errors.invalid(path, value, detail)])
    )
