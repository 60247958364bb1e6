"""The files of configMap, secret, downwardAPI and projected volumes: what the atomic
writer is handed, built as the kubelet's volume plugins build it (their MakePayload
and CollectData), with their messages."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from navarch.agent.apiobjects import (
    CONFIG_MAPS,
    SECRETS,
    ObjectMissing,
    ObjectReader,
    ObjectUnreadable,
    config_map_values,
    secret_values,
)
from navarch.agent.podspec import EnvError, field_value, resource_value
from navarch.agent.volumes.atomicwriter import FileProjection

DEFAULT_MODE = 0o644  # the API server defaults defaultMode to 420


class PayloadUnavailable(Exception):
    """The set cannot be built now (a missing ConfigMap or key that is not optional):
    the message is the kubelet's, e.g. ``configmap "x" not found``."""


def key_payload(
    values: Mapping[str, bytes],
    items: Any,
    default_mode: int,
    optional: bool,
    missing_key: str,
) -> dict[str, FileProjection]:
    """Every key as a file named after it, or only ``items`` (key -> path, mode)."""
    if not items:
        return {key: FileProjection(data, default_mode) for key, data in values.items()}
    payload = {}
    for item in items:
        if item.key not in values:
            if optional:
                continue
            raise PayloadUnavailable(f"{missing_key}: {item.key}")
        mode = item.mode if item.mode is not None else default_mode
        payload[item.path] = FileProjection(values[item.key], mode)
    return payload


async def config_map_payload(
    reader: ObjectReader, namespace: str, source: Any, default_mode: int | None
) -> dict[str, FileProjection]:
    optional = bool(source.optional)
    try:
        found = await reader.get(CONFIG_MAPS, namespace, source.name or "")
    except ObjectMissing as exc:
        if optional:
            return {}
        raise PayloadUnavailable(str(exc)) from exc
    return key_payload(
        config_map_values(found),
        source.items,
        _mode(default_mode),
        optional,
        "configmap references non-existent config key",
    )


async def secret_payload(
    reader: ObjectReader, namespace: str, name: str, source: Any, default_mode: int | None
) -> dict[str, FileProjection]:
    optional = bool(source.optional)
    try:
        found = await reader.get(SECRETS, namespace, name)
    except ObjectMissing as exc:
        if optional:
            return {}
        raise PayloadUnavailable(str(exc)) from exc
    return key_payload(
        secret_values(found),
        source.items,
        _mode(default_mode),
        optional,
        "references non-existent secret key",
    )


def downward_api_payload(
    pod: Any, items: Any, default_mode: int | None, allocatable: Mapping[str, str]
) -> dict[str, FileProjection]:
    """The pod's own fields and its containers' resources, one file each."""
    payload = {}
    for item in items or ():
        mode = item.mode if item.mode is not None else _mode(default_mode)
        try:
            if item.field_ref is not None:
                text = volume_field(pod, item.field_ref.field_path or "")
            elif item.resource_field_ref is not None:
                ref = item.resource_field_ref
                container = _container(pod, ref.container_name)
                if container is None:
                    raise PayloadUnavailable(
                        f"downward API: no container {ref.container_name!r} in the pod"
                    )
                text = resource_value(container, ref, allocatable)
            else:
                continue
        except EnvError as exc:
            raise PayloadUnavailable(str(exc)) from exc
        payload[item.path] = FileProjection(text.encode(), mode)
    return payload


def volume_field(pod: Any, path: str) -> str:
    """A fieldRef in a volume: ``metadata.labels`` and ``metadata.annotations`` whole
    are written as Kubernetes' FormatMap (``key="value"`` lines, sorted)."""
    if path in ("metadata.labels", "metadata.annotations"):
        found = getattr(pod.metadata, path.split(".", 1)[1]) or {}
        return "\n".join(f"{k}={json.dumps(found[k], ensure_ascii=False)}" for k in sorted(found))
    return field_value(pod, path, host_ip="", pod_ip="")


async def projected_payload(
    reader: ObjectReader, pod: Any, source: Any, allocatable: Mapping[str, str]
) -> dict[str, FileProjection]:
    """Every source's files in one set; the errors of all sources together (the
    kubelet aggregates them)."""
    namespace = pod.metadata.namespace
    default_mode = source.default_mode
    payload: dict[str, FileProjection] = {}
    errors: list[str] = []
    for projection in source.sources or ():
        try:
            if projection.config_map is not None:
                payload.update(
                    await config_map_payload(reader, namespace, projection.config_map, default_mode)
                )
            elif projection.secret is not None:
                secret = projection.secret
                payload.update(
                    await secret_payload(reader, namespace, secret.name or "", secret, default_mode)
                )
            elif projection.downward_api is not None:
                payload.update(
                    downward_api_payload(
                        pod, projection.downward_api.items, default_mode, allocatable
                    )
                )
            elif projection.service_account_token is not None:
                errors.append(
                    "serviceAccountToken projections are not supported yet (Navarch does not "
                    "issue tokens to pods' volumes); remove the source or mount a Secret"
                )
            elif projection.cluster_trust_bundle is not None:
                errors.append("clusterTrustBundle projections are not supported yet")
        except (PayloadUnavailable, ObjectUnreadable) as exc:
            errors.append(str(exc))
    if errors:
        raise PayloadUnavailable(", ".join(errors) if len(errors) > 1 else errors[0])
    return payload


def _mode(default_mode: int | None) -> int:
    return default_mode if default_mode is not None else DEFAULT_MODE


def _container(pod: Any, name: str | None) -> Any:
    for container in (*(pod.spec.containers or ()), *(pod.spec.init_containers or ())):
        if container.name == name:
            return container
    return None
