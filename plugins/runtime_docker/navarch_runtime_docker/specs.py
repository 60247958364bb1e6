"""What the runtime asks the engine for: ``POST /containers/create`` bodies for a pod's
sandbox and its containers, as dockershim built them.

The sandbox of a pod with a network of its own is a pause container holding the
network namespace (``none``: only loopback; or a docker network) and a shareable IPC
namespace; each container joins both with ``container:<sandbox id>``, so the pod's
containers reach each other on localhost and share the sandbox's hostname.

A hostNetwork pod has no namespace to hold: its sandbox is a *record*, a container
created and never started (its labels are the sandbox's, ``docker ps -a`` shows it),
and each container uses ``host`` networking itself, as containerd's runtime does. One
start per pod less: starts are what dockerd spends its time on. A stopped record is
renamed with :data:`STOPPED_SUFFIX` (an engine object's labels cannot change).

A container's volumes (``ContainerConfig.mounts``) are ``HostConfig.Mounts`` of type
``bind`` rather than dockershim's ``Binds`` strings: the engine refuses a bind whose
source is missing (``Binds`` would create it as a directory, and a runtime never
creates what is at a host path), and binds a file onto a file path.

Besides the agent's labels (stored verbatim), every object carries a few of our own
under :data:`INTERNAL` (what it is, its sandbox, its attempt, its annotations);
they are stripped from every status, so labels come back exactly as given.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from typing import Any

from navarch.runtime import ContainerConfig, InvalidConfig, SandboxConfig
from navarch.runtime.cpu import cpu_shares
from navarch.runtime.types import Mount, MountPropagation

INTERNAL = "navarch.docker/"
KIND = INTERNAL + "kind"
SANDBOX_ID = INTERNAL + "sandbox-id"
ATTEMPT = INTERNAL + "attempt"
NAME = INTERNAL + "name"
ANNOTATIONS = INTERNAL + "annotations"
HOST_NETWORK = INTERNAL + "host-network"
RECORD = INTERNAL + "record"  # "true": a sandbox that is a record, never started
STOPPED_SUFFIX = "_stopped"  # the name of a record once stop_sandbox stopped it
SANDBOX, CONTAINER = "sandbox", "container"

_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]")


def user_labels(labels: Mapping[str, str] | None) -> dict[str, str]:
    return {k: v for k, v in (labels or {}).items() if not k.startswith(INTERNAL)}


def annotations_of(labels: Mapping[str, str] | None) -> dict[str, str]:
    try:
        value = json.loads((labels or {}).get(ANNOTATIONS, "{}"))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _name(*parts: str) -> str:
    """A readable, unique container name (``docker ps`` shows it): the pod's names and
    a random suffix, since the agent may create the same attempt again after a crash."""
    joined = "_".join(_NAME_UNSAFE.sub("-", part) for part in parts if part)
    return f"navarch_{joined}_{secrets.token_hex(4)}"


def sandbox_body(config: SandboxConfig, image: str, pod_network: str) -> tuple[str, dict]:
    network = "host" if config.host_network else pod_network
    if config.ports and any(p.host_port for p in config.ports) and network == "none":
        raise InvalidConfig(
            "hostPort needs a pod network, and runtime.options.pod_network is 'none' "
            "(loopback only): use hostNetwork, or set pod_network to a docker network"
        )
    labels = {
        **config.labels,
        KIND: SANDBOX,
        ATTEMPT: str(config.attempt),
        ANNOTATIONS: json.dumps(dict(config.annotations), sort_keys=True),
        HOST_NETWORK: "true" if config.host_network else "false",
    }
    name = _name("POD", config.name, config.namespace, config.uid[:8], str(config.attempt))
    if config.host_network:
        # A record: never started, so it needs no network (none: were someone to start
        # it by hand, it would touch nothing of the host's).
        labels[RECORD] = "true"
        record_config = {"NetworkMode": "none", "RestartPolicy": {"Name": "no"}}
        return name, {"Image": image, "Labels": labels, "HostConfig": record_config}
    host_config: dict[str, Any] = {
        "NetworkMode": network,
        # Containers join it with IpcMode container:<id>, which needs "shareable".
        "IpcMode": "shareable",
        "RestartPolicy": {"Name": "no"},
    }
    body: dict[str, Any] = {"Image": image, "Labels": labels, "HostConfig": host_config}
    # Kubernetes' default: a pod's hostname is its name (at most 63 characters).
    body["Hostname"] = (config.hostname or config.name)[:63]
    if network not in ("none", "host"):
        exposed: dict[str, dict] = {}
        bindings: dict[str, list[dict[str, str]]] = {}
        for port in config.ports:
            key = f"{port.container_port}/{port.protocol.lower()}"
            exposed[key] = {}
            if port.host_port:
                bindings.setdefault(key, []).append(
                    {"HostIp": port.host_ip, "HostPort": str(port.host_port)}
                )
        body["ExposedPorts"] = exposed
        host_config["PortBindings"] = bindings
    return name, body


# Kubernetes' mountPropagation -> the engine's BindOptions.Propagation (dockershim's).
PROPAGATION = {
    MountPropagation.NONE: "rprivate",
    MountPropagation.HOST_TO_CONTAINER: "rslave",
    MountPropagation.BIDIRECTIONAL: "rshared",
}


def bind_mount(mount: Mount) -> dict[str, Any]:
    """One ``HostConfig.Mounts`` entry: a recursive bind of the host path."""
    return {
        "Type": "bind",
        "Source": mount.host_path,
        "Target": mount.container_path,
        "ReadOnly": mount.read_only,
        "BindOptions": {"Propagation": PROPAGATION[mount.propagation]},
    }


def is_record(labels: Mapping[str, str] | None) -> bool:
    return (labels or {}).get(RECORD) == "true"


def container_body(
    sandbox_id: str,
    config: ContainerConfig,
    sandbox: SandboxConfig,
    log_driver: str,
    *,
    in_record: bool = False,
) -> tuple[str, dict]:
    """``in_record``: the sandbox is a record (hostNetwork), there is no namespace to
    join: the host's network, and an IPC namespace of the container's own."""
    labels = {
        **config.labels,
        KIND: CONTAINER,
        SANDBOX_ID: sandbox_id,
        ATTEMPT: str(config.attempt),
        NAME: config.name,
        ANNOTATIONS: json.dumps(dict(config.annotations), sort_keys=True),
    }
    host_config: dict[str, Any] = {
        "NetworkMode": "host" if in_record else f"container:{sandbox_id}",
        "IpcMode": "private" if in_record else f"container:{sandbox_id}",
        "RestartPolicy": {"Name": "no"},
        "LogConfig": {"Type": log_driver, "Config": {}},
    }
    if config.mounts:
        host_config["Mounts"] = [bind_mount(mount) for mount in config.mounts]
    if config.target_container_id:
        # An ephemeral container with a target joins the target's pid namespace.
        host_config["PidMode"] = f"container:{config.target_container_id}"
    if config.cpu_limit_millis is not None:
        host_config["NanoCpus"] = config.cpu_limit_millis * 1_000_000
    # Kubernetes: shares follow the request, or the limit when only that is given.
    request = config.cpu_request_millis
    if request is None:
        request = config.cpu_limit_millis
    if request is not None:
        host_config["CpuShares"] = cpu_shares(request)
    if config.memory_limit_bytes is not None:
        host_config["Memory"] = config.memory_limit_bytes
        # No swap beyond the limit, as the kubelet sets it.
        host_config["MemorySwap"] = config.memory_limit_bytes
    body: dict[str, Any] = {
        "Image": config.image,
        "Env": [f"{key}={value}" for key, value in config.env],
        "Labels": labels,
        "HostConfig": host_config,
        "Tty": config.tty,
        "OpenStdin": config.stdin,
        "StdinOnce": config.stdin_once,
        "AttachStdin": False,
        "AttachStdout": False,
        "AttachStderr": False,
    }
    # command replaces the entrypoint and then the image's cmd is dropped too (the
    # engine does that when Entrypoint is set), args replace only the cmd: Kubernetes'
    # rules exactly.
    if config.command:
        body["Entrypoint"] = list(config.command)
    if config.args:
        body["Cmd"] = list(config.args)
    if config.working_dir:
        body["WorkingDir"] = config.working_dir
    name = _name(config.name, sandbox.name, sandbox.namespace, sandbox.uid[:8], str(config.attempt))
    return name, body
