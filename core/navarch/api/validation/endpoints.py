"""Validation of Endpoints and EndpointSlices, the main rules of Kubernetes'
ValidateEndpoints and ValidateEndpointSlice (pkg/apis/{core,discovery}/validation)."""

from __future__ import annotations

from navarch.api import errors
from navarch.api.core_v1_endpoints import (
    ADDRESS_TYPES,
    MAX_ADDRESSES_PER_ENDPOINT,
    MAX_ENDPOINTS_PER_SLICE_OBJECT,
    MAX_PORTS_PER_SLICE,
    EndpointPort,
    Endpoints,
    EndpointSlice,
)
from navarch.api.core_v1_service import PROTOCOLS
from navarch.api.field_checks import Errors, enum, in_range
from navarch.api.validation.services import is_ip


def _validate_ports(ports: tuple[EndpointPort, ...], path: str, name_required: bool) -> Errors:
    errs: Errors = []
    for i, port in enumerate(ports):
        at = f"{path}[{i}]"
        if name_required and len(ports) > 1 and not port.name:
            errs.append(errors.required(f"{at}.name"))
        if port.port is None:
            errs.append(errors.required(f"{at}.port"))
        errs += in_range(port.port, f"{at}.port", 1, 65535)
        errs += enum(port.protocol, f"{at}.protocol", PROTOCOLS)
    return errs


def validate_endpoints(obj: Endpoints) -> Errors:
    errs: Errors = []
    for i, subset in enumerate(obj.subsets or ()):
        path = f"subsets[{i}]"
        for field, addresses in (
            ("addresses", subset.addresses or ()),
            ("notReadyAddresses", subset.not_ready_addresses or ()),
        ):
            for j, address in enumerate(addresses):
                if not address.ip or not is_ip(address.ip):
                    errs.append(
                        errors.invalid(
                            f"{path}.{field}[{j}].ip", address.ip, "must be a valid IP address"
                        )
                    )
        errs += _validate_ports(subset.ports or (), f"{path}.ports", name_required=True)
    return errs


def validate_endpoint_slice(obj: EndpointSlice) -> Errors:
    errs: Errors = []
    if not obj.address_type:
        errs.append(errors.required("addressType"))
    else:
        errs += enum(obj.address_type, "addressType", ADDRESS_TYPES)
    endpoints = obj.endpoints or ()
    if len(endpoints) > MAX_ENDPOINTS_PER_SLICE_OBJECT:
        errs.append(
            errors.FieldError(
                "endpoints",
                "FieldValueTooMany",
                f"Too many: {len(endpoints)}: must have at most "
                f"{MAX_ENDPOINTS_PER_SLICE_OBJECT} items",
            )
        )
    for i, endpoint in enumerate(endpoints):
        path = f"endpoints[{i}].addresses"
        addresses = endpoint.addresses or ()
        if not addresses or len(addresses) > MAX_ADDRESSES_PER_ENDPOINT:
            errs.append(
                errors.invalid(
                    path,
                    list(addresses),
                    f"must have at least 1 and at most {MAX_ADDRESSES_PER_ENDPOINT} items",
                )
            )
        for j, address in enumerate(addresses):
            if obj.address_type in ("IPv4", "IPv6") and not is_ip(address):
                errs.append(errors.invalid(f"{path}[{j}]", address, "must be a valid IP address"))
    ports = obj.ports or ()
    if len(ports) > MAX_PORTS_PER_SLICE:
        errs.append(
            errors.invalid("ports", len(ports), f"must have at most {MAX_PORTS_PER_SLICE} items")
        )
    errs += _validate_ports(ports, "ports", name_required=False)
    return errs
