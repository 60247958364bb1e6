"""What a pod's status is computed from, gathered for one status write: the runtime's
instances by container (newest first), where its probes go, and what they found."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from navarch.agent.probes import Target
from navarch.agent.status import PodView, Waiting
from navarch.runtime import ContainerState, ContainerStatus, SandboxStatus, labels

if TYPE_CHECKING:
    from navarch.agent.agent import Agent


def by_container(instances: list[ContainerStatus]) -> dict[str, list[ContainerStatus]]:
    """Instances by container name, newest attempt first."""
    grouped: dict[str, list[ContainerStatus]] = defaultdict(list)
    for instance in instances:
        grouped[instance.labels.get(labels.CONTAINER_NAME, instance.name)].append(instance)
    for group in grouped.values():
        group.sort(key=lambda i: i.attempt, reverse=True)
    return grouped


def pod_view(
    agent: Agent,
    uid: str,
    pod: Any,
    sandbox: SandboxStatus | None,
    instances: list[ContainerStatus],
    *,
    waiting: Mapping[str, Waiting],
    previous: Mapping[str, Any],
    terminal: bool = False,
    failure: tuple[str, str] | None = None,
    pod_ips: tuple[str, ...] = (),
) -> PodView:
    """The view of ``pod``; on the way, the probes of running instances are started
    (and those of instances gone, stopped) — unless the pod is ending (``terminal``).
    ``pod_ips``: what the network plugin gave the sandbox (its first is the pod's IP
    when the runtime reports none)."""
    grouped = by_container(instances)
    host_network = bool(pod.spec.host_network)
    pod_ips = () if host_network or sandbox is None else pod_ips
    pod_ip = agent.node_ip if host_network else (sandbox.ip if sandbox else "")
    if not pod_ip and pod_ips:
        pod_ip = pod_ips[0]
    netns_path = "" if host_network or sandbox is None else sandbox.netns_path
    reachable = host_network or bool(netns_path) or bool(pod_ip)
    target = Target(pod_ip or "127.0.0.1", netns_path, reachable)
    for container in () if terminal else pod.spec.containers or ():
        group = grouped.get(container.name) or []
        newest = group[0] if group and group[0].state == ContainerState.RUNNING else None
        agent.probes.sync(
            uid,
            container,
            newest.id if newest else None,
            target,
            newest.started_at if newest else None,
        )
    names = [c.name for c in pod.spec.containers or ()]
    names += [c.name for c in pod.spec.init_containers or ()]
    return PodView(
        pod=pod,
        runtime_name=agent.runtime_name,
        instances=grouped,
        waiting=waiting,
        ready={n: agent.probes.ready(uid, n) for n in names},
        started={n: agent.probes.started(uid, n) for n in names},
        host_ip=agent.node_ip,
        pod_ip=pod_ip,
        pod_ips=pod_ips if pod_ip in pod_ips else (),
        now=time.time(),
        previous=previous,
        terminal=terminal,
        failure=failure,
    )
