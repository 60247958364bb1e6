"""Leases (``/apis/coordination.k8s.io/v1``): node heartbeats and leader election."""

from __future__ import annotations

from typing import Any

from navarch.api.coordination_v1 import Lease
from navarch.api.errors import FieldError
from navarch.api.validation.leases import validate_lease
from navarch.printers.simple import LEASE_PRINTER
from navarch.resources.spec import Resource
from navarch.resources.strategy import Strategy


class LeaseStrategy(Strategy):
    def validate(self, obj: Any) -> list[FieldError]:
        return validate_lease(obj)


LEASES = Resource.for_model(
    Lease,
    strategy=LeaseStrategy(),
    printer=LEASE_PRINTER,
    description="Lease defines a lease concept (node heartbeats, leader election).",
)
