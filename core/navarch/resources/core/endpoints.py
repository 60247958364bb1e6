"""Endpoints (core/v1, ``ep``) and EndpointSlices (discovery.k8s.io/v1): how the API
server serves them. Both are written by controllers (the Endpoints and EndpointSlice
controllers) and read by proxies and DNS servers; neither has a status."""

from __future__ import annotations

from typing import Any

from navarch.api.core_v1_endpoints import Endpoints, EndpointSlice
from navarch.api.errors import FieldError
from navarch.api.validation.endpoints import validate_endpoint_slice, validate_endpoints
from navarch.printers.endpoints import ENDPOINT_SLICE_PRINTER, ENDPOINTS_PRINTER
from navarch.resources.spec import Resource
from navarch.resources.strategy import DELETE_DEPENDENTS, Obj, Strategy


def _default_ports(ports: Any) -> None:
    for port in ports if isinstance(ports, list) else []:
        if isinstance(port, dict) and not port.get("protocol"):
            port["protocol"] = "TCP"


class EndpointsStrategy(Strategy):
    garbage_collection = DELETE_DEPENDENTS

    def default(self, obj: Obj) -> None:
        subsets = obj.get("subsets")
        for subset in subsets if isinstance(subsets, list) else []:
            if isinstance(subset, dict):
                _default_ports(subset.get("ports"))

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_endpoints(obj)


class EndpointSliceStrategy(Strategy):
    garbage_collection = DELETE_DEPENDENTS
    tracks_generation = True

    def default(self, obj: Obj) -> None:
        _default_ports(obj.get("ports"))
        endpoints = obj.get("endpoints")
        for endpoint in endpoints if isinstance(endpoints, list) else []:
            # Kubernetes' EndpointConditions are pointers; an absent one reads "unknown",
            # so nothing is defaulted there.
            if isinstance(endpoint, dict) and endpoint.get("conditions") is None:
                endpoint["conditions"] = {}

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_endpoint_slice(obj)


ENDPOINTS = Resource.for_model(
    Endpoints,
    short_names=("ep",),
    strategy=EndpointsStrategy(),
    printer=ENDPOINTS_PRINTER,
    description="Endpoints is a collection of endpoints that implement the actual service.",
)
ENDPOINT_SLICES = Resource.for_model(
    EndpointSlice,
    strategy=EndpointSliceStrategy(),
    printer=ENDPOINT_SLICE_PRINTER,
    description="EndpointSlice represents a subset of the endpoints that implement a service.",
)

RESOURCES: tuple[Resource, ...] = (ENDPOINTS, ENDPOINT_SLICES)
