"""Name resolution inside a pod: its DNS configuration and host aliases."""

from __future__ import annotations

from navarch.api.schema import Model, model, wire


@model()
class PodDNSConfigOption(Model):
    name: str | None = wire()
    value: str | None = wire()


@model()
class PodDNSConfig(Model):
    nameservers: tuple[str, ...] | None = wire()
    searches: tuple[str, ...] | None = wire()
    options: tuple[PodDNSConfigOption, ...] | None = wire()


@model()
class HostAlias(Model):
    ip: str | None = wire()
    hostnames: tuple[str, ...] | None = wire()
