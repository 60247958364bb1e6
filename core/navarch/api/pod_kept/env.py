"""Where a container's environment comes from: ``env[].valueFrom`` (the pod's own
fields, its resources, ConfigMap and Secret keys, files) and ``envFrom``.
"""

from __future__ import annotations

from navarch.api.quantity import Quantity
from navarch.api.schema import Model, model, wire


@model()
class ObjectFieldSelector(Model):
    api_version: str | None = wire()
    field_path: str | None = wire()


@model()
class ResourceFieldSelector(Model):
    container_name: str | None = wire()
    resource: str | None = wire()
    divisor: Quantity | None = wire()


@model()
class KeySelector(Model):
    """ConfigMapKeySelector and SecretKeySelector: the same three fields."""

    name: str | None = wire()
    key: str | None = wire()
    optional: bool | None = wire()


@model()
class FileKeySelector(Model):
    volume_name: str | None = wire()
    path: str | None = wire()
    key: str | None = wire()
    optional: bool | None = wire()


@model()
class EnvVarSource(Model):
    field_ref: ObjectFieldSelector | None = wire()
    resource_field_ref: ResourceFieldSelector | None = wire()
    config_map_key_ref: KeySelector | None = wire()
    secret_key_ref: KeySelector | None = wire()
    file_key_ref: FileKeySelector | None = wire()


@model()
class EnvSourceRef(Model):
    """ConfigMapEnvSource and SecretEnvSource."""

    name: str | None = wire()
    optional: bool | None = wire()


@model()
class EnvFromSource(Model):
    prefix: str | None = wire()
    config_map_ref: EnvSourceRef | None = wire()
    secret_ref: EnvSourceRef | None = wire()
