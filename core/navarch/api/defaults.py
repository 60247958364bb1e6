"""Defaults as Kubernetes sets them, applied to the wire form before decoding.

Kubernetes defaults an object while decoding it, so the defaulted object is what is
validated, stored and returned. Navarch does the same on the wire dict (which the
caller owns: the API server has just parsed it from the request body), which keeps
the model classes frozen and the rules readable as one table of ``setdefault``s.

Which rules a kind gets is its strategy's choice (``Strategy.default``, beside the kind
in :mod:`navarch.resources.core`); this module holds the rules, not a table of kinds.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from typing import Any

from navarch.api.imageref import DEFAULT_TAG, InvalidImageReference, parse_image_reference
from navarch.api.pod_kept import VOLUME_SOURCES
from navarch.api.quantity import Quantity, QuantityError

DEFAULT_NAMESPACE = "default"
DEFAULT_SCHEDULER = "default-scheduler"
DEFAULT_GRACE_SECONDS = 30
DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log"
DEFAULT_FILE_MODE = 0o644  # 420: configMap, secret, downwardAPI and projected volumes
DEFAULT_TOKEN_EXPIRATION_SECONDS = 3600


def apply_defaults(obj: dict[str, Any], *, namespaced: bool) -> dict[str, Any]:
    """Default what every top-level object has (its namespace) in ``obj``, in place, and
    return it. The kind's own defaults are its strategy's (``Strategy.default``, which
    calls the functions below for the core's kinds): nothing here tests a kind."""
    metadata = _child(obj, "metadata")
    if namespaced and not metadata.get("namespace"):
        metadata["namespace"] = DEFAULT_NAMESPACE
    return obj


def default_pod(obj: dict[str, Any]) -> None:
    spec = _child(obj, "spec")
    default_pod_spec(spec)
    _default_pod_only(spec)


def default_replica_set(obj: dict[str, Any]) -> None:
    spec = _child(obj, "spec")
    spec.setdefault("replicas", 1)
    _default_template(spec)


def default_deployment(obj: dict[str, Any]) -> None:
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


def default_namespace(obj: dict[str, Any]) -> None:
    _child(obj, "spec").setdefault("finalizers", ["kubernetes"])


def default_node(obj: dict[str, Any]) -> None:
    spec = obj.get("spec")
    if isinstance(spec, dict):  # SetDefaults_NodeSpec: either field fills the other
        cidrs = spec.get("podCIDRs")
        if spec.get("podCIDR") and not cidrs:
            spec["podCIDRs"] = [spec["podCIDR"]]
        elif isinstance(cidrs, list) and cidrs and not spec.get("podCIDR"):
            spec["podCIDR"] = cidrs[0]
    status = obj.get("status")
    if isinstance(status, dict):
        _round_resource_list(status, "capacity")
        if isinstance(status.get("capacity"), dict) and status.get("allocatable") is None:
            status["allocatable"] = dict(status["capacity"])
        _round_resource_list(status, "allocatable")


def _round_resource_list(parent: dict[str, Any], key: str) -> None:
    """Kubernetes rounds every quantity of a resource list up to thousandths ("100u" of
    CPU is "1m"); a value that does not parse is left for validation to report."""
    resources = parent.get(key)
    if not isinstance(resources, dict):
        return
    for name, raw in resources.items():
        if type(raw) is str:  # integers need no rounding
            rounded = _rounded_to_milli(raw)
            if rounded is not None:
                resources[name] = rounded


@functools.lru_cache(maxsize=4096)
def _rounded_to_milli(raw: str) -> str | None:
    """The text of ``raw`` rounded up to thousandths, or None when it needs no rounding
    (or is no quantity). Cached: the same few texts recur on every request."""
    try:
        quantity = Quantity.parse(raw)
    except QuantityError:
        return None
    milli = quantity.value * 1000
    if milli.denominator == 1:
        return None
    return Quantity.from_value(Fraction(math.ceil(milli), 1000)).text


def default_pod_spec(spec: dict[str, Any]) -> None:
    _round_resource_list(spec, "overhead")
    pod_resources = spec.get("resources")
    if isinstance(pod_resources, dict):
        _round_resource_list(pod_resources, "limits")
        _round_resource_list(pod_resources, "requests")
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS)
    spec.setdefault("schedulerName", DEFAULT_SCHEDULER)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in _items(spec, key):
            _default_container(container)
    for toleration in _items(spec, "tolerations"):
        if "operator" not in toleration:
            toleration["operator"] = "Equal"
    for volume in _items(spec, "volumes"):
        _default_volume(volume)


def _default_pod_only(spec: dict[str, Any]) -> None:
    """Kubernetes' defaults for a Pod that its workloads' pod templates do not get."""
    spec.setdefault("enableServiceLinks", True)
    host_network = spec.get("hostNetwork") is True
    for key in ("initContainers", "containers"):
        for container in _items(spec, key):
            resources = container.get("resources")
            if isinstance(resources, dict) and isinstance(resources.get("limits"), dict):
                # A container with limits but no requests requests its limits.
                requests = resources.setdefault("requests", {})
                if isinstance(requests, dict):
                    for name, limit in resources["limits"].items():
                        requests.setdefault(name, limit)
            for port in _items(container, "ports"):
                # With the host's network a container port is a host port.
                if host_network and not port.get("hostPort") and "containerPort" in port:
                    port["hostPort"] = port["containerPort"]


def _default_container(container: dict[str, Any]) -> None:
    resources = container.get("resources")
    if isinstance(resources, dict):
        _round_resource_list(resources, "limits")
        _round_resource_list(resources, "requests")
    if "imagePullPolicy" not in container and isinstance(container.get("image"), str):
        container["imagePullPolicy"] = image_pull_policy(container["image"])
    container.setdefault("terminationMessagePath", DEFAULT_TERMINATION_MESSAGE_PATH)
    container.setdefault("terminationMessagePolicy", "File")
    for port in _items(container, "ports"):
        port.setdefault("protocol", "TCP")
    for env in _items(container, "env"):
        value_from = env.get("valueFrom")
        if isinstance(value_from, dict):
            _default_field_ref(value_from)
    for probe_key in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = container.get(probe_key)
        if isinstance(probe, dict):
            probe.setdefault("timeoutSeconds", 1)
            probe.setdefault("periodSeconds", 10)
            probe.setdefault("successThreshold", 1)
            probe.setdefault("failureThreshold", 3)
            _default_http_get(probe)
    lifecycle = container.get("lifecycle")
    if isinstance(lifecycle, dict):
        for hook in ("postStart", "preStop"):
            handler = lifecycle.get(hook)
            if isinstance(handler, dict):
                _default_http_get(handler)


def _default_http_get(handler: dict[str, Any]) -> None:
    http_get = handler.get("httpGet")
    if isinstance(http_get, dict):
        http_get.setdefault("path", "/")
        http_get.setdefault("scheme", "HTTP")


def _default_field_ref(holder: dict[str, Any]) -> None:
    field_ref = holder.get("fieldRef")
    if isinstance(field_ref, dict):
        field_ref.setdefault("apiVersion", "v1")


def _default_volume(volume: dict[str, Any]) -> None:
    if not any(key in volume for key in VOLUME_SOURCES):
        volume["emptyDir"] = {}  # a volume with no source is an emptyDir
    for key in ("secret", "configMap", "downwardAPI", "projected"):
        source = volume.get(key)
        if isinstance(source, dict):
            source.setdefault("defaultMode", DEFAULT_FILE_MODE)
    host_path = volume.get("hostPath")
    if isinstance(host_path, dict):
        host_path.setdefault("type", "")
    for item in _items(_child_or_empty(volume, "downwardAPI"), "items"):
        _default_field_ref(item)
    for source in _items(_child_or_empty(volume, "projected"), "sources"):
        for item in _items(_child_or_empty(source, "downwardAPI"), "items"):
            _default_field_ref(item)
        token = source.get("serviceAccountToken")
        if isinstance(token, dict):
            token.setdefault("expirationSeconds", DEFAULT_TOKEN_EXPIRATION_SECONDS)


def _child_or_empty(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def image_pull_policy(image: str) -> str:
    """Kubernetes' default: ``Always`` when the tag is ``latest`` (named, or implied by
    neither a tag nor a digest), else ``IfNotPresent``. An image that does not parse
    gets ``IfNotPresent`` too: the agent reports it as InvalidImageName, never pulls."""
    try:
        reference = parse_image_reference(image)
    except InvalidImageReference:
        return "IfNotPresent"
    return "Always" if reference.tag_or_default == DEFAULT_TAG else "IfNotPresent"


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
