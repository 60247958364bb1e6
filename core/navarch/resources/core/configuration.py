"""ConfigMaps and Secrets (core/v1): how the API server serves them."""

from __future__ import annotations

from navarch.resources.spec import Resource

RESOURCES: tuple[Resource, ...] = ()
