"""The cluster DNS index and its answers without a server (issue 24 item 6): records
shared by two Services, names that exist only as parents, case, deletion, and the
memo of answers dropped on a change."""

from __future__ import annotations

from typing import Any

import dns.name
import dns.rcode
import dns.rdatatype

from navarch.api.core_v1_endpoints import EndpointSlice
from navarch.api.core_v1_service import Service
from navarch.dns.answers import resolve
from navarch.dns.zone import ClusterZone


def service(name: str, namespace: str = "shop", **spec: Any) -> Any:
    return Service.from_dict({"metadata": {"name": name, "namespace": namespace}, "spec": spec})


def endpoint_slice(service_name: str, ips: list[str], namespace: str = "shop") -> Any:
    return EndpointSlice.from_dict(
        {
            "metadata": {
                "name": f"{service_name}-a",
                "namespace": namespace,
                "labels": {"kubernetes.io/service-name": service_name},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips],
        }
    )


def ask(zone: ClusterZone, name: str, rdtype: str = "A") -> Any:
    return resolve(zone, dns.name.from_text(name), dns.rdatatype.from_text(rdtype))


def texts(answer: Any) -> list[str]:
    return sorted(r.to_text() for rrset in answer.answer for r in rrset)


def test_two_headless_services_selecting_one_pod_both_name_it_by_ptr():
    zone = ClusterZone()
    for name in ("a", "b"):
        zone.set_service(service(name, clusterIP="None"))
        zone.set_slice(endpoint_slice(name, ["10.42.0.9"]))
    ptr = ask(zone, "9.0.42.10.in-addr.arpa.", "PTR")
    assert texts(ptr) == [
        "10-42-0-9.a.shop.svc.cluster.local.",
        "10-42-0-9.b.shop.svc.cluster.local.",
    ]
    zone.delete_service(service("a"))
    assert texts(ask(zone, "9.0.42.10.in-addr.arpa.", "PTR")) == [
        "10-42-0-9.b.shop.svc.cluster.local."
    ]
    zone.delete_service(service("b"))
    assert ask(zone, "9.0.42.10.in-addr.arpa.", "PTR") is None  # not ours to answer
    assert not zone.names and not zone.parents  # nothing left behind


def test_names_are_case_insensitive_and_parents_exist_without_records():
    zone = ClusterZone()
    zone.set_service(service("web", clusterIP="10.43.0.20"))
    assert texts(ask(zone, "WEB.Shop.SVC.cluster.local.")) == ["10.43.0.20"]
    for parent in ("shop.svc.cluster.local.", "svc.cluster.local.", "other.svc.cluster.local."):
        found = ask(zone, parent)
        assert found.rcode == dns.rcode.NOERROR and not found.answer
    missing = ask(zone, "x.web.shop.svc.cluster.local.")
    assert missing.rcode == dns.rcode.NXDOMAIN


def test_a_change_replaces_the_answers_kept_from_before_it():
    zone = ClusterZone()
    zone.set_service(service("db", clusterIP="None"))
    zone.set_slice(endpoint_slice("db", ["10.42.0.1"]))
    assert texts(ask(zone, "db.shop.svc.cluster.local.")) == ["10.42.0.1"]
    assert texts(ask(zone, "db.shop.svc.cluster.local.")) == ["10.42.0.1"]  # memoised
    zone.set_slice(endpoint_slice("db", ["10.42.0.2", "10.42.0.3"]))
    assert texts(ask(zone, "db.shop.svc.cluster.local.")) == ["10.42.0.2", "10.42.0.3"]
    zone.delete_slice(endpoint_slice("db", []))
    empty = ask(zone, "db.shop.svc.cluster.local.")
    assert empty.rcode == dns.rcode.NOERROR and not empty.answer  # NODATA: it still exists
