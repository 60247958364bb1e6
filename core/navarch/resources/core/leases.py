"""Leases (``/apis/coordination.k8s.io/v1``): node heartbeats and leader election."""

from __future__ import annotations

from navarch.api.coordination_v1 import Lease
from navarch.printers.simple import LEASE_PRINTER
from navarch.resources.spec import Resource

LEASES = Resource.for_model(
    Lease,
    printer=LEASE_PRINTER,
    description="Lease defines a lease concept (node heartbeats, leader election).",
)
