"""Defaults as Kubernetes sets them, applied to the wire form before decoding.

Kubernetes defaults an object while decoding it, so the defaulted object is what is
validated, stored and returned. Navarch does the same on the wire dict (which the
caller owns: the API server has just parsed it from the request body), which keeps
the model classes frozen and the rules readable as one table of ``setdefault``s.
"""

from __future__ import annotations

from typing import Any

DEFAULT_NAMESPACE = "default"
DEFAULT_SCHEDULER = "default-scheduler"
DEFAULT_GRACE_SECONDS = 30


def apply_defaults(obj: dict[str, Any], *, namespaced: bool) -> dict[str, Any]:
    """Default ``obj`` (a top-level object of any served kind) in place and return it."""
    metadata = _child(obj, "metadata")
    if namespaced and not metadata.get("namespace"):
        metadata["namespace"] = DEFAULT_NAMESPACE
    kind = obj.get("kind")
    if kind == "Pod":
        default_pod_spec(_child(obj, "spec"))
    elif kind == "ReplicaSet":
        spec = _child(obj, "spec")
        spec.setdefault("replicas", 1)
        _default_template(spec)
    elif kind == "Deployment":
        spec = _child(obj, "spec")
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = _child(spec, "strategy")
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = _child(strategy, "rollingUpdate")
            rolling.setdefault("maxUnavailable", "25%")
            rolling.setdefault("maxSurge", "25%")
        _default_template(spec)
    elif kind == "Namespace":
        _child(obj, "spec").setdefault("finalizers", ["kubernetes"])
    return obj


def default_pod_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS)
    spec.setdefault("schedulerName", DEFAULT_SCHEDULER)
    for container in _items(spec, "containers"):
        if "imagePullPolicy" not in container and isinstance(container.get("image"), str):
            container["imagePullPolicy"] = image_pull_policy(container["image"])
        for port in _items(container, "ports"):
            port.setdefault("protocol", "TCP")
    for toleration in _items(spec, "tolerations"):
        if "operator" not in toleration:
            toleration["operator"] = "Equal"


def image_pull_policy(image: str) -> str:
    """``Always`` for ``:latest`` or no tag, else ``IfNotPresent`` (digests included).

    The tag is what follows the last ':' after the last '/', so a registry port
    ("127.0.0.1:5000/app") is not mistaken for a tag.
    """
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "Always"
    return "Always" if last.rsplit(":", 1)[1] == "latest" else "IfNotPresent"


def _default_template(spec: dict[str, Any]) -> None:
    template = _child(spec, "template")
    default_pod_spec(_child(template, "spec"))


def _child(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """The mapping at ``parent[key]``, created when absent. A value of the wrong type is
    left for validation to report rather than replaced."""
    value = parent.get(key)
    if value is None:
        value = parent[key] = {}
    return value if isinstance(value, dict) else {}


def _items(parent: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = parent.get(key)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]
