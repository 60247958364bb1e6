"""core/v1 Endpoints (legacy) and discovery.k8s.io/v1 EndpointSlice: the pods behind
a Service, kept by the endpoints and EndpointSlice controllers
(:mod:`navarch.controllers.endpoints`, :mod:`navarch.controllers.endpointslice`)."""

from __future__ import annotations

from navarch.api.core_v1 import ObjectReference
from navarch.api.meta import TopLevel
from navarch.api.schema import Model, model, wire

ADDRESS_TYPES = ("IPv4", "IPv6", "FQDN")
# Kubernetes' limits: 1000 endpoints and 100 ports a slice (validation), 100 endpoints a
# slice by default (the controller's --max-endpoints-per-slice).
MAX_ENDPOINTS_PER_SLICE_OBJECT = 1000
MAX_PORTS_PER_SLICE = 100
MAX_ADDRESSES_PER_ENDPOINT = 100
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"


@model(kubernetes_only=("appProtocol",))
class EndpointPort(Model):
    name: str | None = wire()
    protocol: str | None = wire()
    port: int | None = wire()


@model()
class EndpointAddress(Model):
    ip: str | None = wire()
    hostname: str | None = wire()
    node_name: str | None = wire()
    target_ref: ObjectReference | None = wire()


@model()
class EndpointSubset(Model):
    addresses: tuple[EndpointAddress, ...] | None = wire()
    not_ready_addresses: tuple[EndpointAddress, ...] | None = wire()
    ports: tuple[EndpointPort, ...] | None = wire()


@model()
class Endpoints(TopLevel):
    API_VERSION, KIND, RESOURCE = "v1", "Endpoints", "endpoints"

    subsets: tuple[EndpointSubset, ...] | None = wire()


@model()
class EndpointConditions(Model):
    ready: bool | None = wire()
    serving: bool | None = wire()
    terminating: bool | None = wire()


@model(kubernetes_only=("hints", "deprecatedTopology"))
class Endpoint(Model):
    addresses: tuple[str, ...] | None = wire()
    conditions: EndpointConditions | None = wire()
    hostname: str | None = wire()
    target_ref: ObjectReference | None = wire()
    node_name: str | None = wire()
    zone: str | None = wire()


@model()
class EndpointSlice(TopLevel):
    API_VERSION, KIND, RESOURCE = "discovery.k8s.io/v1", "EndpointSlice", "endpointslices"

    address_type: str | None = wire()
    endpoints: tuple[Endpoint, ...] | None = wire()
    ports: tuple[EndpointPort, ...] | None = wire()
