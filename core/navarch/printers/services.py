"""The services Table, as kubectl's printService: NAME TYPE CLUSTER-IP EXTERNAL-IP
PORT(S) AGE, and SELECTOR wide."""

from __future__ import annotations

import datetime as dt
from typing import Any

from navarch.printers.cells import (
    AGE_COLUMN,
    NAME_COLUMN,
    NONE,
    Cells,
    Column,
    Printer,
    age_of,
    dicts_at,
    get_in,
    name_of,
    wide,
)


def external_ip(obj: dict[str, Any]) -> str:
    """kubectl's getServiceExternalIP: a LoadBalancer's ingress addresses (``<pending>``
    until published), an ExternalName's name, otherwise the externalIPs."""
    spec = obj.get("spec") or {}
    external = [ip for ip in spec.get("externalIPs") or [] if isinstance(ip, str)]
    service_type = spec.get("type")
    if service_type == "ExternalName":
        return str(spec.get("externalName") or NONE)
    if service_type == "LoadBalancer":
        ingress = [
            i.get("ip") or i.get("hostname") or ""
            for i in dicts_at(obj, "status", "loadBalancer", "ingress")
        ]
        addresses = [a for a in ingress if a] + external
        return ",".join(addresses) if addresses else "<pending>"
    return ",".join(external) if external else NONE


def ports_string(obj: dict[str, Any]) -> str:
    """``80/TCP`` or, with a NodePort, ``80:30080/TCP``; kubectl's makePortString."""
    parts = []
    for port in dicts_at(obj, "spec", "ports"):
        protocol = port.get("protocol") or "TCP"
        if port.get("nodePort"):
            parts.append(f"{port.get('port')}:{port['nodePort']}/{protocol}")
        else:
            parts.append(f"{port.get('port')}/{protocol}")
    return ",".join(parts) if parts else NONE


def selector_string(selector: Any) -> str:
    if not isinstance(selector, dict) or not selector:
        return NONE
    return ",".join(f"{k}={selector[k]}" for k in sorted(selector))


def service_cells(obj: dict[str, Any], now: dt.datetime) -> Cells:
    spec = obj.get("spec") or {}
    return [
        name_of(obj),
        str(spec.get("type") or ""),
        str(spec.get("clusterIP") or NONE),
        external_ip(obj),
        ports_string(obj),
        age_of(obj, now),
        selector_string(get_in(obj, "spec", "selector")),
    ]


SERVICE_PRINTER = Printer(
    (
        NAME_COLUMN,
        Column("Type", description="The type of service."),
        Column("Cluster-IP", description="The address allocated to the service in the cluster."),
        Column("External-IP", description="The external addresses of the service."),
        Column("Port(s)", description="The ports the service serves."),
        AGE_COLUMN,
        wide(
            "Selector",
            "Route service traffic to pods with label keys and values matching this selector.",
        ),
    ),
    service_cells,
)
