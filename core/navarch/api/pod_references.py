"""The API objects a pod names: the Secrets, ConfigMaps and PersistentVolumeClaims its
containers and volumes take (Kubernetes' ``VisitPodSecretNames`` /
``VisitPodConfigmapNames`` and the claims of its volumes). The Node authoriser grants a
node exactly these (:mod:`navarch.apiserver.nodegraph`); all live in the pod's own
namespace.

Read from the wire dict (a pod as stored or watched), so a field the object model
keeps verbatim (a rare volume source's ``secretRef``) counts as well.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

SECRETS, CONFIG_MAPS, CLAIMS = "secrets", "configmaps", "persistentvolumeclaims"
# (plural, name)
Reference = tuple[str, str]
# (plural, whatever the field holds): kept only when it is a non-empty string
_Candidate = tuple[str, Any]

# Volume sources that name a Secret for their driver's credentials, and the field.
_SECRET_REF_SOURCES = ("cephfs", "cinder", "flexVolume", "iscsi", "rbd", "scaleIO", "storageos")


def pod_references(pod: Mapping[str, Any]) -> frozenset[Reference]:
    """Every (plural, name) ``pod`` names, in its namespace."""
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return frozenset()
    pod_name = _dict(pod.get("metadata")).get("name") or ""
    candidates: list[_Candidate] = [*_from_containers(spec)]
    candidates += [(SECRETS, name) for name in _names(spec.get("imagePullSecrets"), "name")]
    for volume in _dicts(spec.get("volumes")):
        candidates += _from_volume(volume, pod_name)
    # a name of another type (in a field kept verbatim) names nothing, and is unhashable
    return frozenset(
        (plural, name) for plural, name in candidates if isinstance(name, str) and name
    )


def _from_containers(spec: dict[str, Any]) -> Iterator[_Candidate]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for container in _dicts(spec.get(field)):
            for env in _dicts(container.get("env")):
                source = _dict(env.get("valueFrom"))
                yield SECRETS, _dict(source.get("secretKeyRef")).get("name")
                yield CONFIG_MAPS, _dict(source.get("configMapKeyRef")).get("name")
            for env_from in _dicts(container.get("envFrom")):
                yield SECRETS, _dict(env_from.get("secretRef")).get("name")
                yield CONFIG_MAPS, _dict(env_from.get("configMapRef")).get("name")


def _from_volume(volume: dict[str, Any], pod_name: str) -> Iterator[_Candidate]:
    yield SECRETS, _dict(volume.get("secret")).get("secretName")
    yield CONFIG_MAPS, _dict(volume.get("configMap")).get("name")
    for source in _dicts(_dict(volume.get("projected")).get("sources")):
        yield SECRETS, _dict(source.get("secret")).get("name")
        yield CONFIG_MAPS, _dict(source.get("configMap")).get("name")
    yield CLAIMS, _dict(volume.get("persistentVolumeClaim")).get("claimName")
    if isinstance(volume.get("ephemeral"), dict) and volume.get("name"):
        yield CLAIMS, f"{pod_name}-{volume['name']}"  # the claim the ephemeral volume gets
    yield SECRETS, _dict(_dict(volume.get("csi")).get("nodePublishSecretRef")).get("name")
    yield SECRETS, _dict(volume.get("azureFile")).get("secretName")
    for plugin in _SECRET_REF_SOURCES:
        yield SECRETS, _dict(_dict(volume.get(plugin)).get("secretRef")).get("name")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _names(value: Any, field: str) -> list[str]:
    return [item[field] for item in _dicts(value) if isinstance(item.get(field), str)]
