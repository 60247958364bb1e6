"""Stopping a pod's containers as the kubelet does: the preStop hook, then SIGTERM,
then SIGKILL once the grace period is over (the hook's time counts against it); and
telling the API server when a deleted pod is gone from the node."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

from navarch.client.errors import Conflict, NotFound
from navarch.runtime import (
    ContainerState,
    ContainerStatus,
    RuntimeFault,
    SandboxState,
    SandboxStatus,
    labels,
)
from navarch.runtime import NotFound as RuntimeNotFound

if TYPE_CHECKING:
    from navarch.agent.agent import Agent

NORMAL, WARNING = "Normal", "Warning"


def termination_grace(pod: Any) -> float:
    """``terminationGracePeriodSeconds`` (Kubernetes' default 30)."""
    value = pod.spec.termination_grace_period_seconds
    return float(30 if value is None else value)


def deletion_grace(pod: Any) -> float:
    """The grace period of a pod being deleted: what the API server set, which may be
    shorter than the spec's (``kubectl delete --grace-period``)."""
    # Kubernetes-only on ObjectMeta (the API server sets it), so kept verbatim there.
    value = pod.metadata.unmodeled.get("deletionGracePeriodSeconds")
    return termination_grace(pod) if value is None else float(value)


async def stop_containers(
    agent: Agent,
    pod: Any,
    instances: list[ContainerStatus],
    sandboxes: list[SandboxStatus],
    grace: float,
    hooks: bool = False,
) -> None:
    """Stop every running instance (in parallel) and the sandboxes; with ``hooks`` each
    container's preStop hook runs first. ``pod`` is None when the API server no longer
    has it (no Events then)."""
    running = [i for i in instances if i.state == ContainerState.RUNNING]
    if pod is not None:
        for instance in running:
            name = instance.labels.get(labels.CONTAINER_NAME, instance.name)
            agent.event(pod, NORMAL, "Killing", f"Stopping container {name}", name)
    await asyncio.gather(*(_stop(agent, pod, i, grace, hooks) for i in running))
    for sandbox in sandboxes:
        if sandbox.state == SandboxState.READY:
            with contextlib.suppress(RuntimeNotFound):
                await agent.runtime.stop_sandbox(sandbox.id)


async def _stop(
    agent: Agent, pod: Any, instance: ContainerStatus, grace: float, hooks: bool
) -> None:
    started = time.monotonic()
    if hooks and pod is not None:
        await pre_stop(agent, pod, instance, grace)
    left = max(0.0, grace - (time.monotonic() - started))
    with contextlib.suppress(RuntimeNotFound):
        await agent.runtime.stop_container(instance.id, left)


async def pre_stop(agent: Agent, pod: Any, instance: ContainerStatus, grace: float) -> None:
    """Run the container's preStop hook (exec or sleep) within ``grace``; a failure is a
    FailedPreStopHook Event and the stop goes on."""
    name = instance.labels.get(labels.CONTAINER_NAME, instance.name)
    spec = next((c for c in pod.spec.containers or () if c.name == name), None)
    hook = spec.lifecycle.pre_stop if spec is not None and spec.lifecycle else None
    if hook is None or grace <= 0:
        return
    try:
        if hook.exec is not None:
            result = await agent.runtime.exec_sync(
                instance.id, list(hook.exec.command or ()), grace
            )
            ok, why = result.exit_code == 0, f"exited with {result.exit_code}"
        elif hook.sleep is not None:
            await asyncio.sleep(min(float(hook.sleep.seconds or 0), grace))
            ok, why = True, ""
        else:
            ok, why = False, "only exec and sleep preStop hooks are supported"
    except (TimeoutError, RuntimeFault) as exc:
        ok, why = False, str(exc) or type(exc).__name__
    if not ok:
        agent.event(pod, WARNING, "FailedPreStopHook", f"PreStopHook failed: {why}", name)


async def confirm_deletion(agent: Agent, pod: Any) -> None:
    """Tell the API server the pod's containers are gone: it may remove the object."""
    meta = pod.metadata
    # NotFound: already gone; Conflict: a new pod of the same name, not ours to remove.
    with contextlib.suppress(NotFound, Conflict):
        await agent.client.request(
            "DELETE",
            agent.client.pods.path(meta.namespace, meta.name),
            body={
                "kind": "DeleteOptions",
                "apiVersion": "v1",
                "gracePeriodSeconds": 0,
                "preconditions": {"uid": meta.uid},
            },
        )
