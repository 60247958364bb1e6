"""A question -> an answer, from the index of :mod:`navarch.dns.zone`.

Besides the Services' records (:mod:`navarch.dns.records`) the cluster domain holds:

- its apex: ``SOA`` (``ns.dns.<zone> hostmaster.<zone>``, the negative TTL is the
  records' TTL) and ``NS``; ``svc.<zone>`` and ``pod.<zone>`` exist with no records;
- ``dns-version.<zone>`` TXT ``1.1.0``, the specification's schema version;
- ``<a-b-c-d>.<ns>.pod.<zone>`` A ``a.b.c.d`` for any address (CoreDNS's
  ``pods insecure``, Kubernetes' default: the name is not checked against a pod).

A name under the zone that does not exist is NXDOMAIN with the SOA in the authority
section (so a resolver caches the negative answer for the TTL); a name that exists
without the type asked is NODATA (NOERROR, no answer, the SOA). A name outside the
zone (and a reverse name no Service owns) is none of this module's business:
:func:`resolve` returns None and the server refuses or forwards it.
"""

from __future__ import annotations

import ipaddress

import attrs
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from navarch.dns.records import AAAA, CNAME, SRV, A, Name, rdata
from navarch.dns.zone import ClusterZone, RecordsByType

SCHEMA_VERSION = "1.1.0"
DEFAULT_TTL = 5  # seconds: CoreDNS's default for the kubernetes plugin
MEMO_ENTRIES = 20_000
SOA, NS, TXT, ANY = dns.rdatatype.SOA, dns.rdatatype.NS, dns.rdatatype.TXT, dns.rdatatype.ANY


@attrs.frozen
class Answer:
    rcode: dns.rcode.Rcode
    answer: tuple[dns.rrset.RRset, ...] = ()
    authority: tuple[dns.rrset.RRset, ...] = ()
    additional: tuple[dns.rrset.RRset, ...] = ()


def resolve(
    zone: ClusterZone, qname: Name, qtype: dns.rdatatype.RdataType, ttl: int = DEFAULT_TTL
) -> Answer | None:
    """The answer to ``qname``/``qtype`` (class IN) from ``zone``; None when the name
    is not the cluster's to answer. Answers are kept until the zone changes (building
    an RRset renders every record to compare it: the costliest part of a question)."""
    key = (qname.to_text().lower(), int(qtype), ttl)
    if key in zone.derived:
        return zone.derived[key]
    found = _resolve(zone, qname, qtype, ttl)
    if len(zone.derived) < MEMO_ENTRIES:
        zone.derived[key] = found
    return found


def _resolve(
    zone: ClusterZone, qname: Name, qtype: dns.rdatatype.RdataType, ttl: int
) -> Answer | None:
    records = _records_of(zone, qname, ttl)
    if records is None:
        if not zone.in_zone(qname):
            return None
        return Answer(dns.rcode.NXDOMAIN, authority=(_soa(zone, ttl),))
    answer: list[dns.rrset.RRset] = []
    if qtype == ANY:
        answer = [_rrset(qname, t, v, ttl) for t, v in records.items() if v]
    elif records.get(qtype):
        answer = [_rrset(qname, qtype, records[qtype], ttl)]
    elif records.get(CNAME):
        answer = [_rrset(qname, CNAME, records[CNAME], ttl)]
        target = records[CNAME][0].target  # type: ignore[attr-defined]
        chased = _records_of(zone, target) or {}  # a Service naming another in the zone
        if chased.get(qtype):
            answer.append(_rrset(target, qtype, chased[qtype], ttl))
    if not answer:
        return Answer(dns.rcode.NOERROR, authority=(_soa(zone, ttl),))
    return Answer(
        dns.rcode.NOERROR, answer=tuple(answer), additional=_additional(zone, answer, ttl)
    )


def _records_of(zone: ClusterZone, qname: Name, ttl: int = DEFAULT_TTL) -> RecordsByType | None:
    if qname == zone.domain:
        return {SOA: [_soa(zone, ttl)[0]], NS: [rdata(NS, f"ns.dns.{zone.domain}")]}
    found = zone.lookup(qname)
    if found is not None:
        return found
    if not zone.in_zone(qname):
        return None
    relative = tuple(label.lower() for label in qname.relativize(zone.domain).labels)
    if relative in ((b"svc",), (b"pod",)):
        return {}
    if relative == (b"dns-version",):
        return {TXT: [rdata(TXT, f'"{SCHEMA_VERSION}"')]}
    if len(relative) == 3 and relative[2] == b"pod":
        return _pod_records(relative[0].decode(errors="replace"))
    if len(relative) == 2 and relative[1] in (b"svc", b"pod"):
        return {}  # a namespace: it exists as a name whether or not it holds Services
    return None


def _pod_records(label: str) -> RecordsByType | None:
    """``10-42-1-7`` -> A 10.42.1.7 (``fd00--1`` -> AAAA fd00::1)."""
    for text, rdtype in ((label.replace("-", "."), A), (label.replace("-", ":"), AAAA)):
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            continue
        if (address.version == 4) == (rdtype == A):
            return {rdtype: [rdata(rdtype, str(address))]}
    return None


def _soa(zone: ClusterZone, ttl: int) -> dns.rrset.RRset:
    domain = zone.domain
    text = f"ns.dns.{domain} hostmaster.{domain} {zone.generation % 2**32} 7200 1800 86400 {ttl}"
    return _rrset(domain, SOA, [rdata(SOA, text)], ttl)


def _additional(
    zone: ClusterZone, answer: list[dns.rrset.RRset], ttl: int
) -> tuple[dns.rrset.RRset, ...]:
    """The addresses of the SRV records' targets, so a client needs no second query."""
    found = []
    seen: set[Name] = set()
    for rrset in answer:
        if rrset.rdtype != SRV:
            continue
        for record in rrset:
            target = record.target
            if target in seen:
                continue
            seen.add(target)
            records = zone.lookup(target) or {}
            for rdtype in (A, AAAA):
                if records.get(rdtype):
                    found.append(_rrset(target, rdtype, records[rdtype], ttl))
    return tuple(found)


def _rrset(
    name: Name, rdtype: dns.rdatatype.RdataType, values: list[dns.rdata.Rdata], ttl: int
) -> dns.rrset.RRset:
    rrset = dns.rrset.RRset(name, dns.rdataclass.IN, rdtype)
    for value in values:
        rrset.add(value, ttl)
    return rrset
