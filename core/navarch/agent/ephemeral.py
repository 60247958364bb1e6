"""Ephemeral containers (``kubectl debug POD --image=… --target=C``): containers added
to a running pod through ``pods/ephemeralcontainers``, which the agent runs in the
pod's sandbox beside the others, as the kubelet does:

* each is started **once**, as soon as the pod has a sandbox (init containers need
  not have finished), and never restarted — whatever its exit code, whatever the
  pod's restartPolicy — nor probed (it has no probes), nor counted in the pod's phase
  or readiness;
* with ``targetContainerName`` it joins that container's process namespace (the
  runtime's ``ContainerConfig.target_container_id``), so ``ps`` in it shows the
  target's processes; it waits for the target to run first (a runtime joins the
  namespace of a running process);
* it goes with the pod (the pod's stop stops every container of its sandbox);
* its status is reported in ``status.ephemeralContainerStatuses``, shaped as
  ``containerStatuses`` (waiting / running / terminated, ``ready`` always false),
  which ``kubectl debug`` watches for before it attaches.

"Once" survives an agent restart: a container whose instance the runtime still holds,
or whose status already says it ran (a ``containerID``, a ``terminated`` state),
is not started again — even when its instance went with an old sandbox."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from navarch.agent.apiobjects import ObjectUnreadable
from navarch.agent.podspec import EnvError, container_config, sandbox_config
from navarch.agent.status import PodView, Waiting, container_status
from navarch.agent.volumes.mounts import MountConfigError
from navarch.runtime import (
    ContainerState,
    ContainerStatus,
    CreateError,
    InvalidConfig,
    SandboxStatus,
    labels,
)

if TYPE_CHECKING:
    from navarch.agent.worker import PodWorker

NORMAL, WARNING = "Normal", "Warning"
STATUSES = "ephemeralContainerStatuses"
TARGET_RETRY_SECONDS = 1.0  # a target not running yet is looked at again this soon


async def start_ephemeral_containers(
    worker: PodWorker, pod: Any, sandbox: SandboxStatus, instances: list[ContainerStatus]
) -> None:
    """Start each of the pod's ephemeral containers that never ran."""
    for container in pod.spec.ephemeral_containers or ():
        if not _ever_ran(worker, pod, container.name, instances):
            await _start(worker, pod, sandbox, container, instances)


def _ever_ran(worker: PodWorker, pod: Any, name: str, instances: list[ContainerStatus]) -> bool:
    if any(i.labels.get(labels.CONTAINER_NAME) == name for i in instances):
        return True
    reported = (worker.written or {}).get(STATUSES)
    if reported is None and pod.status is not None:
        reported = pod.status.to_dict().get(STATUSES)
    for status in reported or ():
        if status.get("name") == name:
            return bool(status.get("containerID")) or "terminated" in (status.get("state") or {})
    return False


async def _start(
    worker: PodWorker,
    pod: Any,
    sandbox: SandboxStatus,
    container: Any,
    instances: list[ContainerStatus],
) -> None:
    agent, name = worker.agent, container.name
    target_id = ""
    if container.target_container_name:
        target = _running_in(instances, container.target_container_name, sandbox.id)
        if target is None:
            worker.waiting[name] = Waiting(
                "ContainerCreating",
                f"waiting for the target container {container.target_container_name} to run",
            )
            worker.wake_in(TARGET_RETRY_SECONDS)
            return
        target_id = target.id
    if not await worker.ensure_image(pod, container):
        return
    try:
        env, mounts = await worker.env_and_mounts(pod, container, sandbox)
    except (EnvError, MountConfigError, ObjectUnreadable) as exc:
        worker.waiting[name] = Waiting("CreateContainerConfigError", str(exc))
        agent.event(pod, WARNING, "Failed", f"Error: {exc}", name)
        worker.wake_in(agent.backoff.next(f"{worker.uid}/{name}/config"))
        return
    config = attrs.evolve(
        container_config(pod, container, agent.node_name, 0, env, mounts),
        target_container_id=target_id,
    )
    try:
        cid = await agent.runtime.create_container(
            sandbox.id, config, sandbox_config(pod, agent.node_name)
        )
    except (CreateError, InvalidConfig) as exc:
        agent.event(pod, WARNING, "Failed", f"Error: {exc.message}", name)
        worker.waiting[name] = Waiting("CreateContainerError", exc.message)
        worker.wake_in(agent.backoff.next(f"{worker.uid}/{name}/create"))
        return
    agent.event(pod, NORMAL, "Created", f"Created container {name}", name)
    worker.log.bind(container=name, target=container.target_container_name or "").info(
        "ephemeral container created"
    )
    # Started once: a start that fails leaves the instance exited, and it stays so.
    await worker.start(pod, cid, name)


def _running_in(
    instances: list[ContainerStatus], name: str, sandbox_id: str
) -> ContainerStatus | None:
    running = [
        i
        for i in instances
        if i.labels.get(labels.CONTAINER_NAME) == name
        and i.sandbox_id == sandbox_id
        and i.state == ContainerState.RUNNING
    ]
    return max(running, key=lambda i: i.attempt) if running else None


def with_ephemeral_statuses(status: dict[str, Any], view: PodView) -> dict[str, Any]:
    """``status`` (the pod's, as computed) with ``ephemeralContainerStatuses`` when the
    pod has ephemeral containers."""
    containers = view.pod.spec.ephemeral_containers or ()
    if not containers:
        return status
    before: Mapping[str, Any] = {s["name"]: s for s in view.before().get(STATUSES) or ()}
    statuses = []
    for container in containers:
        one = container_status(view, container, before=before.get(container.name))
        one["ready"] = False  # never probed, never part of the pod's readiness
        statuses.append(one)
    status[STATUSES] = statuses
    return status
