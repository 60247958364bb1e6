"""From a Pod's spec to what the runtime is asked for: the sandbox and each
container's config, with the labels that let a restarted agent adopt them."""

from __future__ import annotations

from typing import Any

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


def container_config(pod: Any, container: Any, node: str, attempt: int) -> ContainerConfig:
    meta = pod.metadata
    limits = (container.resources.limits if container.resources else None) or {}
    requests = (container.resources.requests if container.resources else None) or {}
    cpu_limit, memory_limit = limits.get("cpu"), limits.get("memory")
    cpu_request = requests.get("cpu")
    return ContainerConfig(
        name=container.name,
        image=container.image,
        command=tuple(container.command or ()),
        args=tuple(container.args or ()),
        env=tuple((e.name, e.value or "") for e in container.env or () if e.value_from is None),
        working_dir=container.working_dir or "",
        labels=labels.container_labels(
            node, meta.namespace, meta.name, meta.uid, container.name, attempt
        ),
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
