"""Which container instance a logs, exec or attach request means: the pod's newest
incarnation on this node, the container named (or the pod's only one), and its newest
instance — or, for ``logs --previous``, the one the agent's reported status names as
its last end (the kubelet reads ``lastState``, not the runtime's order)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from navarch.apiserver import errors
from navarch.runtime import ContainerStatus, Runtime, RuntimeFault, labels

# The pod status the agent last reported, by pod uid (None: nothing reported yet).
Reported = Callable[[str], Mapping[str, Any] | None]


async def find_container(
    runtime: Runtime,
    node: str,
    namespace: str,
    pod: str,
    container: str,
    *,
    previous: bool = False,
    reported: Reported | None = None,
) -> ContainerStatus:
    """The pod's container instance on this node: the newest (highest restart count in
    the pod's newest incarnation), or with ``previous`` the one its reported status
    names as ``lastState.terminated`` (the kubelet's rule: while a crashed container
    waits out its back-off, that is the newest instance), else the one before the
    newest when the agent has reported nothing of the pod yet."""
    wanted = {
        labels.NODE: node,
        labels.POD_NAMESPACE: namespace,
        labels.POD_NAME: pod,
        labels.KIND: labels.CONTAINER,
    }
    try:
        found = await runtime.list_containers(labels=wanted)
    except RuntimeFault as exc:
        raise errors.unavailable(f"the container runtime does not answer: {exc.message}") from None
    if not found:
        # The API server proxies only pods bound to this node: none of its containers
        # here yet means they are still being created (kubelet's words).
        subject = f'container "{container}" in pod "{pod}"' if container else f'pod "{pod}"'
        raise errors.bad_request(
            f"{subject} is waiting to start: no container of pod {namespace}/{pod} has "
            f"been created on node {node} yet"
        )
    # A pod deleted and created again under the same name: only its newest incarnation.
    newest = max(found, key=lambda c: (c.created_at or 0.0, _attempt(c)))
    uid = newest.labels.get(labels.POD_UID)
    found = [c for c in found if c.labels.get(labels.POD_UID) == uid]
    names = sorted({c.labels.get(labels.CONTAINER_NAME, "") for c in found})
    if not container:
        if len(names) != 1:
            raise errors.bad_request(
                f"a container name must be specified for pod {pod}, "
                f"choose one of: [{' '.join(names)}]"
            )
        container = names[0]
    instances = sorted(
        (c for c in found if c.labels.get(labels.CONTAINER_NAME) == container),
        key=lambda c: (_attempt(c), c.created_at or 0.0),
        reverse=True,
    )
    if not instances:
        raise errors.bad_request(
            f'container "{container}" in pod "{pod}" is waiting to start '
            f"(no instance on node {node}; its containers: {', '.join(names)})"
        )
    if previous:
        status = reported(uid) if reported is not None and uid else None
        if status is not None:
            last = _last_terminated_id(status, container)
            chosen = next((c for c in instances if c.id == last), None)
        else:
            chosen = instances[1] if len(instances) > 1 else None
        if chosen is None:
            raise errors.bad_request(
                f'previous terminated container "{container}" in pod "{pod}" not found'
            )
        return chosen
    return instances[0]


def _last_terminated_id(status: Mapping[str, Any], container: str) -> str:
    """The runtime's id of the instance ``status`` reports as ``container``'s last end."""
    for kind in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for entry in status.get(kind) or ():
            if entry.get("name") == container:
                terminated = (entry.get("lastState") or {}).get("terminated") or {}
                return str(terminated.get("containerID") or "").partition("://")[2]
    return ""


def _attempt(status: ContainerStatus) -> int:
    try:
        return int(status.labels.get(labels.RESTART_COUNT, status.attempt))
    except ValueError:
        return status.attempt
