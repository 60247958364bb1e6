"""The DNS records of one Service, as Kubernetes' DNS specification lays them out
(kubernetes/dns docs/specification.md, schema 1.1.0), with ``<zone>`` the cluster
domain::

    <svc>.<ns>.svc.<zone>                  A/AAAA  the ClusterIP(s); headless: every ready
                                                   endpoint's address
    <hostname>.<svc>.<ns>.svc.<zone>       A/AAAA  a headless Service's ready endpoint
                                                   (StatefulSet pods set ``hostname``)
    _<port>._<proto>.<svc>.<ns>.svc.<zone> SRV     a named port: ``0 100 <port> <svc>…``;
                                                   headless: one per ready endpoint,
                                                   naming ``<hostname>.<svc>…``
    <reversed ip>.in-addr.arpa             PTR     a ClusterIP -> ``<svc>…``; a headless
                                                   endpoint -> ``<hostname>.<svc>…``
    <svc>.<ns>.svc.<zone>                  CNAME   an ExternalName Service's name

A headless endpoint without a ``hostname`` gets the specification's "unique,
system-assigned identifier": its address with dashes (``10-42-1-7``), as CoreDNS
names it. An endpoint counts as ready when ``conditions.ready`` is true or absent
(EndpointSlice's rule: nil means ready), or always when the Service publishes
not-ready addresses.

Pure functions: the index (:mod:`navarch.dns.zone`) calls :func:`service_records`
whenever a Service or one of its slices changes, and keeps the result."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.reversename
from dns.rdtypes.ANY.CNAME import CNAME as CNAMERecord
from dns.rdtypes.ANY.PTR import PTR as PTRRecord
from dns.rdtypes.IN.A import A as ARecord
from dns.rdtypes.IN.AAAA import AAAA as AAAARecord
from dns.rdtypes.IN.SRV import SRV as SRVRecord

Name = dns.name.Name
# owner name -> record type -> the records of that type (an RRset's contents)
Records = dict[Name, dict[dns.rdatatype.RdataType, list[dns.rdata.Rdata]]]

IN = dns.rdataclass.IN
A, AAAA, CNAME, PTR, SRV = (
    dns.rdatatype.A,
    dns.rdatatype.AAAA,
    dns.rdatatype.CNAME,
    dns.rdatatype.PTR,
    dns.rdatatype.SRV,
)
SRV_PRIORITY, SRV_WEIGHT = 0, 100  # the specification's examples


def service_name(namespace: str, name: str, domain: Name) -> Name:
    return dns.name.Name((name, namespace, "svc")).concatenate(domain)


def rdata(rdtype: dns.rdatatype.RdataType, text: str) -> dns.rdata.Rdata:
    """A record from its text form (the zone's few fixed records; the Services'
    records are built with the types' constructors, ten times cheaper)."""
    return dns.rdata.from_text(IN, rdtype, text)


def address_record(ip: str) -> tuple[dns.rdatatype.RdataType, dns.rdata.Rdata]:
    """ValueError for a string that is not an address."""
    address = ipaddress.ip_address(ip)
    if address.version == 6:
        return AAAA, AAAARecord(IN, AAAA, str(address))
    return A, ARecord(IN, A, str(address))


def dashed(ip: str) -> str:
    """The label an address without a hostname goes by: ``10.42.1.7`` -> ``10-42-1-7``
    (``fd00::1`` -> ``fd00--1``)."""
    return ip.replace(".", "-").replace(":", "-")


def is_headless(service: Any) -> bool:
    return (service.spec.cluster_ip or "") == "None"


class _Builder:
    """Records added once each: duplicates are found by a cheap key (comparing dnspython
    records renders them to wire format)."""

    def __init__(self) -> None:
        self.records: Records = {}
        self._seen: set[tuple[Name, int, object]] = set()

    def add(self, owner: Name, rdtype: dns.rdatatype.RdataType, key: object, make: Any) -> None:
        if (owner, rdtype, key) in self._seen:
            return
        self._seen.add((owner, rdtype, key))
        self.records.setdefault(owner, {}).setdefault(rdtype, []).append(make())


def service_records(service: Any, slices: Iterable[Any], domain: Name) -> Records:
    """Every record ``service`` (a Service model object) owns, given the
    EndpointSlices labelled with its name. An unparsable address is skipped (the API
    server validates them; a record is never worth an exception in the server)."""
    spec = service.spec
    if spec is None:
        return {}
    base = service_name(service.metadata.namespace, service.metadata.name, domain)
    out = _Builder()
    if spec.type == "ExternalName":
        if spec.external_name:
            target = dns.name.from_text(spec.external_name.rstrip(".") + ".")
            out.add(base, CNAME, target, lambda: CNAMERecord(IN, CNAME, target))
        return out.records
    if is_headless(service):
        _headless(base, spec, slices, out)
        out.records.setdefault(base, {})  # the name exists even while no endpoint is ready
        return out.records
    ips = list(spec.cluster_ips or ()) or ([spec.cluster_ip] if spec.cluster_ip else [])
    for ip in ips:
        try:
            rdtype, value = address_record(ip)
        except ValueError:
            continue
        out.add(base, rdtype, ip, lambda value=value: value)
        out.add(dns.reversename.from_address(ip), PTR, base, lambda: PTRRecord(IN, PTR, base))
    for port in spec.ports or ():
        if port.name and port.port:
            owner = _srv_owner(port.name, port.protocol, base)
            out.add(owner, SRV, port.port, lambda port=port: _srv(port.port, base))
    if not out.records:
        # A Service whose ClusterIP is still being allocated: its name exists, with no
        # address yet (NODATA rather than NXDOMAIN).
        out.records[base] = {}
    return out.records


def _headless(base: Name, spec: Any, slices: Iterable[Any], out: _Builder) -> None:
    publish_not_ready = bool(spec.publish_not_ready_addresses)
    for endpoint_slice in slices:
        named_ports = [p for p in endpoint_slice.ports or () if p.name and p.port is not None]
        for endpoint in endpoint_slice.endpoints or ():
            conditions = endpoint.conditions
            ready = conditions is None or conditions.ready is None or conditions.ready
            if not (ready or publish_not_ready):
                continue
            for ip in endpoint.addresses or ():
                try:
                    rdtype, value = address_record(ip)
                except ValueError:
                    continue
                host = dns.name.Name((endpoint.hostname or dashed(ip),)).concatenate(base)
                out.add(base, rdtype, ip, lambda value=value: value)
                out.add(host, rdtype, ip, lambda value=value: value)
                out.add(
                    dns.reversename.from_address(ip),
                    PTR,
                    host,
                    lambda host=host: PTRRecord(IN, PTR, host),
                )
                for port in named_ports:
                    owner = _srv_owner(port.name, port.protocol, base)
                    out.add(
                        owner,
                        SRV,
                        (port.port, host),
                        lambda port=port, host=host: _srv(port.port, host),
                    )


def _srv(port: int, target: Name) -> dns.rdata.Rdata:
    return SRVRecord(IN, SRV, SRV_PRIORITY, SRV_WEIGHT, port, target)


def _srv_owner(port_name: str, protocol: str | None, base: Name) -> Name:
    proto = (protocol or "TCP").lower()
    return dns.name.Name((f"_{port_name}", f"_{proto}")).concatenate(base)
