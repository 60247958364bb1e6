"""Resource claims (dynamic resource allocation) of the pod and its containers, and a
container's resize policies.
"""

from __future__ import annotations

from navarch.api.schema import Model, model, wire


@model()
class ContainerResizePolicy(Model):
    resource_name: str | None = wire()
    restart_policy: str | None = wire()


@model()
class ResourceClaim(Model):
    name: str | None = wire()
    request: str | None = wire()


@model()
class PodResourceClaim(Model):
    name: str | None = wire()
    resource_claim_name: str | None = wire()
    resource_claim_template_name: str | None = wire()
