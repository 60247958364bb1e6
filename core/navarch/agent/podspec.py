"""From a Pod's spec to what the runtime is asked for: the sandbox and each
container's config, with the labels that let a restarted agent adopt them."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import orjson

from navarch.api.quantity import Quantity
from navarch.runtime import ContainerConfig, PortMapping, SandboxConfig, labels


def pod_key(pod: Any) -> str:
    return f"{pod.metadata.namespace}/{pod.metadata.name}"


def sandbox_config(pod: Any, node: str, attempt: int = 0) -> SandboxConfig:
    meta, spec = pod.metadata, pod.spec
    ports = tuple(p for c in spec.containers or () for p in _ports(c))
    return SandboxConfig(
        name=meta.name,
        namespace=meta.namespace,
        uid=meta.uid,
        attempt=attempt,
        host_network=bool(spec.host_network),
        hostname=_hostname(pod),
        labels=labels.sandbox_labels(node, meta.namespace, meta.name, meta.uid),
        annotations=dict(meta.annotations or {}),
        ports=ports,
    )


def container_config(
    pod: Any,
    container: Any,
    node: str,
    attempt: int,
    env: tuple[tuple[str, str], ...] | None = None,
) -> ContainerConfig:
    """``env``: the resolved environment (:func:`resolve_env`); command and args get
    their ``$(NAME)`` references expanded from it, as Kubernetes does."""
    meta = pod.metadata
    limits = (container.resources.limits if container.resources else None) or {}
    requests = (container.resources.requests if container.resources else None) or {}
    cpu_limit, memory_limit = limits.get("cpu"), limits.get("memory")
    cpu_request = requests.get("cpu")
    resolved = (
        env if env is not None else tuple((e.name, e.value or "") for e in container.env or ())
    )
    values = dict(resolved)
    return ContainerConfig(
        name=container.name,
        image=container.image,
        command=tuple(expand(part, values) for part in container.command or ()),
        args=tuple(expand(part, values) for part in container.args or ()),
        env=resolved,
        working_dir=container.working_dir or "",
        labels={
            **labels.container_labels(
                node, meta.namespace, meta.name, meta.uid, container.name, attempt
            ),
            labels.CONTAINER_HASH: container_hash(container),
        },
        annotations=dict(meta.annotations or {}),
        ports=_ports(container),
        cpu_limit_millis=cpu_limit.milli() if cpu_limit is not None else None,
        cpu_request_millis=cpu_request.milli() if cpu_request is not None else None,
        memory_limit_bytes=memory_limit.ceil() if memory_limit is not None else None,
        stdin=bool(container.stdin),
        stdin_once=bool(container.stdin_once),
        tty=bool(container.tty),
        attempt=attempt,
    )


def container_hash(container: Any) -> str:
    """A digest of the container's definition, kept on each instance: when the pod's
    spec changes it (an image update), the running instance no longer matches."""
    encoded = orjson.dumps(container.to_dict(), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(encoded).hexdigest()[:16]


def _ports(container: Any) -> tuple[PortMapping, ...]:
    return tuple(
        PortMapping(
            container_port=p.container_port,
            protocol=p.protocol or "TCP",
            host_port=p.host_port or 0,
            host_ip=p.host_ip or "",
        )
        for p in container.ports or ()
    )


def _hostname(pod: Any) -> str:
    # Kubernetes: spec.hostname when given, else the pod's name (at most 63 characters).
    return (pod.spec.hostname or pod.metadata.name)[:63]


class EnvError(ValueError):
    """An env var the agent cannot fill in (``CreateContainerConfigError``)."""


_VARIABLE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")


def expand(text: str, values: Mapping[str, str]) -> str:
    """Kubernetes' ``$(NAME)`` references: replaced when NAME is defined, left as they
    are otherwise; ``$$`` is a literal ``$``."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "$"
        return values.get(name, match.group(0))

    return _VARIABLE.sub(one, text)


def resolve_env(
    pod: Any, container: Any, *, host_ip: str, pod_ip: str, allocatable: Mapping[str, str]
) -> tuple[tuple[str, str], ...]:
    """The container's environment in order: literal values (with ``$(NAME)`` of
    earlier ones expanded) and the downward API (``fieldRef``, ``resourceFieldRef``).
    ConfigMaps and Secrets are not served yet: such a reference is an EnvError."""
    resolved: dict[str, str] = {}
    for var in container.env or ():
        source = var.value_from
        if source is None:
            resolved[var.name] = expand(var.value or "", resolved)
        elif source.field_ref is not None:
            resolved[var.name] = _field(pod, source.field_ref.field_path or "", host_ip, pod_ip)
        elif source.resource_field_ref is not None:
            resolved[var.name] = _resource(container, source.resource_field_ref, allocatable)
        else:
            kind = "secret" if source.secret_key_ref is not None else "configmap"
            raise EnvError(
                f"env {var.name}: {kind} references are not supported yet (Navarch does not "
                f"serve ConfigMaps or Secrets); set the value in the pod spec instead"
            )
    return tuple(resolved.items())


def _field(pod: Any, path: str, host_ip: str, pod_ip: str) -> str:
    meta = pod.metadata
    simple = {
        "metadata.name": meta.name,
        "metadata.namespace": meta.namespace,
        "metadata.uid": meta.uid,
        "spec.nodeName": pod.spec.node_name,
        "spec.serviceAccountName": pod.spec.service_account_name or "default",
        "status.hostIP": host_ip,
        "status.hostIPs": host_ip,
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
    }
    if path in simple:
        return str(simple[path] or "")
    subscript = _SUBSCRIPT.match(path)
    if subscript is not None:
        found = getattr(meta, subscript.group(1)) or {}
        return str(found.get(subscript.group(2), ""))
    raise EnvError(f"fieldRef {path!r} is not supported")


def _resource(container: Any, ref: Any, allocatable: Mapping[str, str]) -> str:
    kind, _, resource = (ref.resource or "").partition(".")
    if kind not in ("limits", "requests") or resource not in ("cpu", "memory"):
        raise EnvError(f"resourceFieldRef {ref.resource!r} is not supported")
    resources = container.resources
    values = (getattr(resources, kind) if resources else None) or {}
    # Kubernetes: an unset limit is the node's allocatable; an unset request is 0.
    quantity = values.get(resource)
    if quantity is None:
        if kind == "requests":
            return "0"
        quantity = Quantity.parse(allocatable.get(resource, "0"))
    divisor = ref.divisor or Quantity.parse("1")
    return str(math.ceil(Fraction(quantity.value) / Fraction(divisor.value)))
