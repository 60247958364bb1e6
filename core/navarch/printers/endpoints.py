"""The endpoints and endpointslices Tables, as kubectl prints them: Endpoints NAME
ENDPOINTS AGE (``ip:port`` pairs, three then ``+ N more...``), EndpointSlices NAME
ADDRESSTYPE PORTS ENDPOINTS AGE (``<unset>`` when empty)."""

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
    name_of,
)

SHOWN = 3  # kubectl's formatEndpoints / formatDiscoveryEndpoints show this many
UNSET = "<unset>"


def _more(shown: list[str], total: int) -> str:
    text = ",".join(shown)
    return f"{text} + {total - len(shown)} more..." if total > len(shown) else text


def endpoints_string(obj: dict[str, Any]) -> str:
    """kubectl's formatEndpoints: every ready address with every port."""
    pairs: list[str] = []
    total = 0
    for subset in dicts_at(obj, "subsets"):
        ports = [p.get("port") for p in subset.get("ports") or [] if isinstance(p, dict)]
        for address in subset.get("addresses") or []:
            ip = address.get("ip", "") if isinstance(address, dict) else ""
            for port in ports or [None]:
                total += 1
                if len(pairs) < SHOWN:
                    pairs.append(ip if port is None else f"{ip}:{port}")
    return _more(pairs, total) if pairs else NONE


def endpoints_cells(obj: dict[str, Any], now: dt.datetime) -> Cells:
    return [name_of(obj), endpoints_string(obj), age_of(obj, now)]


def slice_ports(obj: dict[str, Any]) -> str:
    ports = [str(p["port"]) for p in dicts_at(obj, "ports") if p.get("port") is not None]
    return ",".join(ports) if ports else UNSET


def slice_endpoints(obj: dict[str, Any]) -> str:
    addresses = [a for e in dicts_at(obj, "endpoints") for a in e.get("addresses") or []]
    return _more(addresses[:SHOWN], len(addresses)) if addresses else UNSET


def endpoint_slice_cells(obj: dict[str, Any], now: dt.datetime) -> Cells:
    return [
        name_of(obj),
        str(obj.get("addressType") or ""),
        slice_ports(obj),
        slice_endpoints(obj),
        age_of(obj, now),
    ]


ENDPOINTS_PRINTER = Printer(
    (
        NAME_COLUMN,
        Column("Endpoints", description="Endpoints of the service: address:port pairs."),
        AGE_COLUMN,
    ),
    endpoints_cells,
)
ENDPOINT_SLICE_PRINTER = Printer(
    (
        NAME_COLUMN,
        Column("AddressType", description="The type of address carried by this EndpointSlice."),
        Column("Ports", description="The ports of this EndpointSlice."),
        Column("Endpoints", description="The addresses of the endpoints."),
        AGE_COLUMN,
    ),
    endpoint_slice_cells,
)
