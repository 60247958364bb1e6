"""The ConfigMaps and Secrets a container's environment names (``env[].valueFrom``
``configMapKeyRef``/``secretKeyRef`` and ``envFrom``), read before the environment is
resolved: resolving stays a pure function of the pod and what was read
(:func:`navarch.agent.podspec.resolve_env`).

As in Kubernetes the environment is fixed when the container is created: a later
change of the ConfigMap reaches the next instance (a restart), never the running
one."""

from __future__ import annotations

from typing import Any

import attrs

from navarch.agent.apiobjects import (
    CONFIG_MAPS,
    SECRETS,
    ObjectReader,
    config_map_values,
    secret_values,
)


@attrs.define
class EnvSources:
    """What one container's environment references: object name -> its keys' values
    (None: the object does not exist). ``skipped``: messages of keys envFrom left out
    (not valid variable names), for the InvalidEnvironmentVariableNames Event."""

    config_maps: dict[str, dict[str, str] | None] = attrs.field(factory=dict)
    secrets: dict[str, dict[str, str] | None] = attrs.field(factory=dict)
    skipped: list[str] = attrs.field(factory=list)


async def read_env_sources(reader: ObjectReader, pod: Any, container: Any) -> EnvSources:
    namespace = pod.metadata.namespace
    config_maps: set[str] = set()
    secrets: set[str] = set()
    for source in container.env_from or ():
        if source.config_map_ref is not None:
            config_maps.add(source.config_map_ref.name or "")
        if source.secret_ref is not None:
            secrets.add(source.secret_ref.name or "")
    for var in container.env or ():
        value_from = var.value_from
        if value_from is None:
            continue
        if value_from.config_map_key_ref is not None:
            config_maps.add(value_from.config_map_key_ref.name or "")
        if value_from.secret_key_ref is not None:
            secrets.add(value_from.secret_key_ref.name or "")
    sources = EnvSources()
    for name in sorted(config_maps):
        found = await reader.find(CONFIG_MAPS, namespace, name)
        sources.config_maps[name] = None if found is None else _text(config_map_values(found))
    for name in sorted(secrets):
        found = await reader.find(SECRETS, namespace, name)
        sources.secrets[name] = None if found is None else _text(secret_values(found))
    return sources


def _text(values: dict[str, bytes]) -> dict[str, str]:
    # An environment is text; bytes that are not UTF-8 are replaced, never refused.
    return {k: v.decode("utf-8", errors="replace") for k, v in values.items()}
