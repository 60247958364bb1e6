"""Navarch's runtime values to CRI messages and back: sandbox and container configs,
statuses, images. Times: CRI counts nanoseconds since the epoch (0: not yet),
Navarch seconds (None: not yet)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from navarch.runtime.cpu import CFS_PERIOD_US, cfs_quota, cpu_shares
from navarch.runtime.types import (
    ContainerConfig,
    ContainerState,
    ContainerStatus,
    ImageRef,
    Mount,
    MountPropagation,
    SandboxConfig,
    SandboxState,
    SandboxStatus,
)
from navarch_runtime_cri._proto import cri_subset_pb2 as pb

# Where the container's configured image name travels (CRI's status names the
# image by one of its tags, whichever the runtime picks); taken off on the way back,
# so annotations come back as given.
IMAGE_ANNOTATION = "navarch.io/cri-image"
# Whether the container has a terminal (its log's lines then end in CRLF, see logs.py).
TTY_ANNOTATION = "navarch.io/cri-tty"
_OWN_ANNOTATIONS = (IMAGE_ANNOTATION, TTY_ANNOTATION)
_CONTAINER_STATES = {
    pb.CONTAINER_CREATED: ContainerState.CREATED,
    pb.CONTAINER_RUNNING: ContainerState.RUNNING,
    pb.CONTAINER_EXITED: ContainerState.EXITED,
    pb.CONTAINER_UNKNOWN: ContainerState.UNKNOWN,
}


def seconds(nanoseconds: int) -> float | None:
    return nanoseconds / 1e9 if nanoseconds > 0 else None


def sandbox_log_directory(root: Path, namespace: str, name: str, uid: str) -> Path:
    """Where a pod's container logs go (the kubelet's /var/log/pods/NS_NAME_UID)."""
    return root / f"{namespace}_{name}_{uid}"


def container_log_path(name: str, attempt: int) -> str:
    """A container's log, relative to its sandbox's log directory (as the kubelet)."""
    return f"{name}/{attempt}.log"


def sandbox_config(config: SandboxConfig, log_root: Path) -> pb.PodSandboxConfig:
    network = pb.NODE if config.host_network else pb.POD
    return pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(
            name=config.name, uid=config.uid, namespace=config.namespace, attempt=config.attempt
        ),
        hostname="" if config.host_network else (config.hostname or config.name),
        log_directory=str(
            sandbox_log_directory(log_root, config.namespace, config.name, config.uid)
        ),
        port_mappings=[
            pb.PortMapping(
                protocol=port.protocol.upper(),
                container_port=port.container_port,
                host_port=port.host_port,
                host_ip=port.host_ip,
            )
            for port in config.ports
        ],
        labels=dict(config.labels),
        annotations=dict(config.annotations),
        linux=pb.LinuxPodSandboxConfig(
            security_context=pb.LinuxSandboxSecurityContext(
                namespace_options=pb.NamespaceOption(network=network, pid=pb.CONTAINER)
            )
        ),
    )


def container_config(config: ContainerConfig, sandbox: SandboxConfig) -> pb.ContainerConfig:
    resources = pb.LinuxContainerResources()
    if config.memory_limit_bytes is not None:
        resources.memory_limit_in_bytes = config.memory_limit_bytes
    if config.cpu_limit_millis is not None:
        resources.cpu_period = CFS_PERIOD_US
        resources.cpu_quota = cfs_quota(config.cpu_limit_millis)
    request = config.cpu_request_millis or config.cpu_limit_millis
    if request is not None:
        resources.cpu_shares = cpu_shares(request)
    network = pb.NODE if sandbox.host_network else pb.POD
    return pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name=config.name, attempt=config.attempt),
        image=pb.ImageSpec(image=config.image),
        command=list(config.command),
        args=list(config.args),
        working_dir=config.working_dir,
        envs=[pb.KeyValue(key=key, value=value) for key, value in config.env],
        mounts=[_mount(mount) for mount in config.mounts],
        labels=dict(config.labels),
        annotations={
            **config.annotations,
            IMAGE_ANNOTATION: config.image,
            **({TTY_ANNOTATION: "true"} if config.tty else {}),
        },
        log_path=container_log_path(config.name, config.attempt),
        stdin=config.stdin,
        stdin_once=config.stdin_once,
        tty=config.tty,
        linux=pb.LinuxContainerConfig(
            resources=resources,
            security_context=pb.LinuxContainerSecurityContext(
                namespace_options=_namespaces(network, config.target_container_id)
            ),
        ),
    )


_PROPAGATION = {
    MountPropagation.NONE: pb.PROPAGATION_PRIVATE,
    MountPropagation.HOST_TO_CONTAINER: pb.PROPAGATION_HOST_TO_CONTAINER,
    MountPropagation.BIDIRECTIONAL: pb.PROPAGATION_BIDIRECTIONAL,
}


def _mount(mount: Mount) -> pb.Mount:
    """A volume as the kubelet gives it to CRI (no SELinux relabelling: the agent
    labels nothing)."""
    return pb.Mount(
        container_path=mount.container_path,
        host_path=mount.host_path,
        readonly=mount.read_only,
        propagation=_PROPAGATION[mount.propagation],
    )


def _namespaces(network: pb.NamespaceMode, target_id: str) -> pb.NamespaceOption:
    """The container's namespaces: the pod's network, its own pid namespace — or, for
    an ephemeral container with a target, the target's (CRI's ``TARGET`` mode, which
    the kubelet sets for ``targetContainerName``)."""
    if target_id:
        return pb.NamespaceOption(network=network, pid=pb.TARGET, target_id=target_id)
    return pb.NamespaceOption(network=network, pid=pb.CONTAINER)


def _own_annotations(annotations: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in annotations.items() if key not in _OWN_ANNOTATIONS}


def container_status(status: pb.ContainerStatus, image_id: str) -> ContainerStatus:
    state = _CONTAINER_STATES.get(status.state, ContainerState.UNKNOWN)
    exited = state == ContainerState.EXITED
    started_at = seconds(status.started_at)
    finished_at = seconds(status.finished_at) if exited else None
    if started_at is not None and finished_at is not None:
        # containerd stamps the start once runc has returned, the exit when the
        # process ended: a process quicker than that "finishes before it starts"
        started_at = min(started_at, finished_at)
    return ContainerStatus(
        id=status.id,
        name=status.metadata.name,
        sandbox_id="",  # filled in by the caller: CRI's status does not carry it
        image=status.annotations.get(IMAGE_ANNOTATION, status.image.image),
        state=state,
        image_id=image_id,
        labels=dict(status.labels),
        annotations=_own_annotations(status.annotations),
        attempt=status.metadata.attempt,
        created_at=seconds(status.created_at),
        started_at=started_at,
        finished_at=finished_at,
        exit_code=status.exit_code if exited else None,
        reason=status.reason if exited else "",
        message=status.message,
    )


def is_loopback(ip: str) -> bool:
    return ip.startswith("127.") or ip == "::1"


def sandbox_status(status: pb.PodSandboxStatus, netns: str = "") -> SandboxStatus:
    host_network = status.linux.namespaces.options.network == pb.NODE
    ip = status.network.ip
    return SandboxStatus(
        id=status.id,
        state=SandboxState.READY if status.state == pb.SANDBOX_READY else SandboxState.NOT_READY,
        labels=dict(status.labels),
        annotations=dict(status.annotations),
        created_at=seconds(status.created_at),
        # a loopback-only pod network reports the pod's loopback: no pod IP
        ip="" if host_network or is_loopback(ip) else ip,
        host_network=host_network,
        netns_path="" if host_network else netns,
    )


def netns_path(info: Mapping[str, str]) -> str:
    """The pod's network namespace from a verbose PodSandboxStatus's ``info``: the
    runtime spec's network namespace path (containerd), else the sandbox process's
    (/proc/PID/ns/net); "" when the runtime tells neither."""
    try:
        verbose = json.loads(info.get("info", "{}"))
    except ValueError:
        return ""
    if not isinstance(verbose, dict):
        return ""
    spec = verbose.get("runtimeSpec") or {}
    for namespace in (spec.get("linux") or {}).get("namespaces") or []:
        if namespace.get("type") == "network" and namespace.get("path"):
            return str(namespace["path"])
    pid = verbose.get("pid")
    return f"/proc/{pid}/ns/net" if isinstance(pid, int) and pid > 0 else ""


def image_ref(image: pb.Image) -> ImageRef:
    return ImageRef(
        id=image.id,
        tags=tuple(image.repo_tags),
        digests=tuple(image.repo_digests),
        size=image.size,
    )
