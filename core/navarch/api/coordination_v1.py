"""coordination.k8s.io/v1 Lease: node heartbeats and leader election."""

from __future__ import annotations

from navarch.api.meta import TopLevel
from navarch.api.schema import Model, model, wire


@model(kubernetes_only=("strategy", "preferredHolder"))
class LeaseSpec(Model):
    holder_identity: str | None = wire()
    lease_duration_seconds: int | None = wire()
    acquire_time: str | None = wire()
    renew_time: str | None = wire()
    lease_transitions: int | None = wire()


@model()
class Lease(TopLevel):
    API_VERSION, KIND, RESOURCE = "coordination.k8s.io/v1", "Lease", "leases"

    spec: LeaseSpec | None = wire()
