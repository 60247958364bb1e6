"""The index a node's DNS server answers from: every Service's records
(:func:`navarch.dns.records.service_records`), kept current by informers on Services
and EndpointSlices.

A change recomputes the records of the one Service it concerns and swaps them in;
a query is then one dictionary look-up. Two Services may own records of the same
name (two headless Services selecting one pod both give its address a PTR), so the
index keeps each Service's contribution apart and merges them when asked::

    ClusterZone.names:  <name> -> { "ns/svc": {A: [...], PTR: [...]}, ... }

Names that own nothing but have names below them (``svc.cluster.local``,
``ns.svc.cluster.local``, ``_http._tcp``'s parent …) exist too, with no records
(NODATA, not NXDOMAIN): ``ClusterZone.parents`` counts them."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Any

import dns.name
import dns.rdata
import dns.rdatatype
import dns.reversename
from loguru import logger

from navarch.client import Client
from navarch.client.informer import Informer
from navarch.dns.records import Name, service_records

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
RecordsByType = dict[dns.rdatatype.RdataType, list[dns.rdata.Rdata]]
REVERSE_ZONES = (dns.reversename.ipv4_reverse_domain, dns.reversename.ipv6_reverse_domain)


class ClusterZone:
    """Every Service's records under ``domain`` (and their PTRs under the reverse
    zones). Fed through :meth:`set_service` / :meth:`set_slice` and their deletes."""

    def __init__(self, domain: str = "cluster.local"):
        self.domain = dns.name.from_text(domain.rstrip(".") + ".")
        self.services: dict[str, Any] = {}  # "ns/name" -> Service
        self.slices: dict[str, dict[str, Any]] = {}  # "ns/service" -> slice name -> slice
        # Keyed by the name's lower-case text: hashing dnspython names case-folds every
        # label each time, which made building the index three times slower.
        self.names: dict[str, dict[str, RecordsByType]] = {}
        self.parents: Counter[str] = Counter()
        self._owned: dict[str, dict[str, RecordsByType]] = {}  # "ns/svc" -> its records
        self._tops = tuple(_key(z) for z in (self.domain, *REVERSE_ZONES))
        # Bumped on every change: the SOA serial, and what a test waits on.
        self.generation = 0
        # What readers derive from the records (the answers' RRsets), dropped on every
        # change.
        self.derived: dict[Any, Any] = {}

    # --- what the informers call -----------------------------------------------------

    def set_service(self, service: Any) -> None:
        key = f"{service.metadata.namespace}/{service.metadata.name}"
        self.services[key] = service
        self._recompute(key)

    def delete_service(self, service: Any) -> None:
        key = f"{service.metadata.namespace}/{service.metadata.name}"
        self.services.pop(key, None)
        self._recompute(key)

    def set_slice(self, endpoint_slice: Any) -> None:
        key = _service_key(endpoint_slice)
        if key is None:
            return
        self.slices.setdefault(key, {})[endpoint_slice.metadata.name] = endpoint_slice
        self._recompute(key)

    def delete_slice(self, endpoint_slice: Any) -> None:
        key = _service_key(endpoint_slice)
        if key is None:
            return
        held = self.slices.get(key, {})
        held.pop(endpoint_slice.metadata.name, None)
        if not held:
            self.slices.pop(key, None)
        self._recompute(key)

    # --- what the answers read -------------------------------------------------------

    def lookup(self, name: Name) -> RecordsByType | None:
        """The records of ``name`` by type; ``{}`` for a name that exists with no
        records; None for a name that does not exist."""
        key = _key(name)
        owners = self.names.get(key)
        if owners is None:
            return {} if self.parents[key] else None
        if len(owners) == 1:  # the usual case: one Service's (never changed by a caller)
            return next(iter(owners.values()))
        merged: RecordsByType = {}
        for by_type in owners.values():
            for rdtype, values in by_type.items():
                found = merged.setdefault(rdtype, [])
                found.extend(v for v in values if v not in found)
        return merged

    def in_zone(self, name: Name) -> bool:
        return name.is_subdomain(self.domain)

    # --- the index -------------------------------------------------------------------

    def _recompute(self, key: str) -> None:
        service = self.services.get(key)
        wanted: dict[str, RecordsByType] = {}
        if service is not None:
            records = service_records(service, self.slices.get(key, {}).values(), self.domain)
            wanted = {_key(name): by_type for name, by_type in records.items()}
        old = self._owned.pop(key, {})
        for name in old:
            owners = self.names.get(name, {})
            owners.pop(key, None)
            if not owners:
                self.names.pop(name, None)
            self._count_parents(name, -1)
        for name, by_type in wanted.items():
            self.names.setdefault(name, {})[key] = by_type
            self._count_parents(name, +1)
        if wanted:
            self._owned[key] = wanted
        self.generation += 1
        self.derived.clear()

    def _count_parents(self, name: str, delta: int) -> None:
        top = next((t for t in self._tops if name.endswith("." + t)), None)
        if top is None:
            return
        parent = name
        while parent != top:
            parent = parent.split(".", 1)[1]
            self.parents[parent] += delta
            if self.parents[parent] <= 0:
                del self.parents[parent]


def _key(name: Name) -> str:
    """``Web.Default.svc.cluster.local.`` -> ``web.default.svc.cluster.local.`` (the
    index's keys; the names the index holds have no escaped dots)."""
    return name.to_text().lower()


def _service_key(endpoint_slice: Any) -> str | None:
    service = (endpoint_slice.metadata.labels or {}).get(SERVICE_NAME_LABEL)
    if not service:
        return None
    return f"{endpoint_slice.metadata.namespace}/{service}"


class ZoneFeed:
    """Informers on every Service and EndpointSlice, feeding a :class:`ClusterZone`.
    A node may list and watch both (the Service proxy reads them the same way)."""

    def __init__(self, client: Client, zone: ClusterZone):
        self.zone = zone
        self.services = Informer(client.resource("services"))
        self.slices = Informer(client.resource("endpointslices"))
        self.services.add_handler(
            zone.set_service, lambda old, new: zone.set_service(new), zone.delete_service
        )
        self.slices.add_handler(zone.set_slice, self._slice_changed, zone.delete_slice)

    def _slice_changed(self, old: Any, new: Any) -> None:
        if _service_key(old) != _service_key(new):
            self.zone.delete_slice(old)  # relabelled: it left its old Service
        self.zone.set_slice(new)

    async def run(self) -> None:
        tasks = [
            asyncio.create_task(self.services.run(), name="dns services informer"),
            asyncio.create_task(self.slices.run(), name="dns endpointslices informer"),
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.gather(*tasks, return_exceptions=True)

    async def wait_synced(self) -> None:
        await self.services.wait_synced()
        await self.slices.wait_synced()
        logger.bind(
            component="dns", services=len(self.zone.services), names=len(self.zone.names)
        ).info("cluster DNS records listed")
