"""The API objects a pod refers to (ConfigMaps, Secrets, PersistentVolumeClaims and
their PersistentVolumes), read by name for one sync of the pod.

The kubelet's ``Get``-based managers are the model: the agent GETs each object a pod
names (the node's token may read exactly those: the Node authoriser) and never lists
all Secrets. One :class:`ObjectReader` lives for one pod sync, so a ConfigMap named by
three containers and a volume is read once per sync, and a changed one is seen by the
next sync (the update period of configMap and secret volumes is the pod resync).

Objects come back as wire dicts (``data``, ``binaryData``, ``spec`` …), whatever typed
model the client has for the kind."""

from __future__ import annotations

import base64
from typing import Any

import attrs

from navarch.client import Client
from navarch.client.errors import ApiException, NotFound

# (the path segment, the word Kubernetes' kubelet names it by in "... not found")
CONFIG_MAPS = ("configmaps", "configmap")
SECRETS = ("secrets", "secret")
CLAIMS = ("persistentvolumeclaims", "persistentvolumeclaim")
VOLUMES = ("persistentvolumes", "persistentvolume")


class ObjectMissing(LookupError):
    """The object does not exist; the message is the kubelet's (``configmap "x" not
    found``)."""


class ObjectUnreadable(Exception):
    """The API server did not give the object (refused, unavailable): the pod waits
    with this message and the agent asks again at the next sync."""


@attrs.define
class ObjectReader:
    client: Client
    _cache: dict[tuple[str, str, str], dict[str, Any] | None] = attrs.field(factory=dict)

    async def get(self, kind: tuple[str, str], namespace: str | None, name: str) -> dict[str, Any]:
        """The object; ObjectMissing when it does not exist, ObjectUnreadable when the
        API server did not answer with it."""
        plural, word = kind
        key = (plural, namespace or "", name)
        if key not in self._cache:
            try:
                self._cache[key] = await self._fetch(plural, namespace, name)
            except ApiException as exc:
                message = exc.status.get("message") or exc.reason
                raise ObjectUnreadable(f'cannot read {word} "{name}": {message}') from exc
        found = self._cache[key]
        if found is None:
            raise ObjectMissing(f'{word} "{name}" not found')
        return found

    def preload(
        self, kind: tuple[str, str], namespace: str | None, name: str, obj: dict[str, Any] | None
    ) -> None:
        """Hold ``obj`` (None: known missing) as if read: for the tests."""
        self._cache[(kind[0], namespace or "", name)] = obj

    async def find(
        self, kind: tuple[str, str], namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        try:
            return await self.get(kind, namespace, name)
        except ObjectMissing:
            return None

    async def _fetch(self, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        where = f"/namespaces/{namespace}" if namespace else ""
        try:
            found = await self.client.request("GET", f"/api/v1{where}/{plural}/{name}")
        except NotFound:
            return None
        return found if isinstance(found, dict) else None


def config_map_values(obj: dict[str, Any]) -> dict[str, bytes]:
    """A ConfigMap's keys: ``data`` as UTF-8 and ``binaryData`` decoded."""
    values = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
    values.update({k: _b64(v) for k, v in (obj.get("binaryData") or {}).items()})
    return values


def secret_values(obj: dict[str, Any]) -> dict[str, bytes]:
    """A Secret's keys: ``data`` is base64 on the wire (``stringData`` is never
    stored, the API server merged it into ``data``)."""
    return {k: _b64(v) for k, v in (obj.get("data") or {}).items()}


def _b64(value: Any) -> bytes:
    return base64.b64decode(str(value or ""))
