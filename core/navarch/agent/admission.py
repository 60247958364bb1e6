"""Admission of a pod bound to this node, before anything of it runs (the kubelet's
predicate admit handler, its resource part).

The pod's requests must fit the node's allocatable beside the pods admitted before
it: pods first, then cpu, then memory, the first that does not fit naming the
reason. A pod that does not fit is rejected once and for all — phase Failed, reason
``OutOf<resource>``, message ``Pod was rejected: Node didn't have enough resource:
cpu, requested: 1000000, used: 500, capacity: 4000`` and a Warning Event — instead of
being started and refused by the kernel or retried forever. The scheduler filters the
same way (the same :class:`~navarch.scheduler.nodeinfo.PodRequest`); this catches pods
bound directly (``spec.nodeName``) and anything the scheduler's view missed.

Pods are decided in creation order, as the kubelet admits them: deciding one first
decides every undecided pod created before it, so the outcome does not depend on
which worker happened to sync first. A pod that already started (this agent restarted
under it) is admitted without a check: it was admitted then, and counts as used.
Worked example, a node of 4 CPUs: ``a`` (3 CPUs, older) and ``b`` (2 CPUs) arrive
together; whichever worker syncs first, ``a`` is admitted and ``b`` rejected with
``used: 3000``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
from loguru import logger

from navarch.agent.status import TERMINAL_PHASES
from navarch.api.quantity import Quantity
from navarch.runtime import ContainerStatus, SandboxStatus
from navarch.scheduler.nodeinfo import PodRequest

if TYPE_CHECKING:
    from navarch.agent.worker import PodWorker

REJECTED_PREFIX = "Pod was rejected: "


@attrs.frozen
class Admission:
    """The decision on one pod; ``reason`` and ``message`` say why it was rejected."""

    admitted: bool
    reason: str = ""
    message: str = ""


ADMITTED = Admission(True)


async def admit(
    worker: PodWorker, sandboxes: list[SandboxStatus], instances: list[ContainerStatus]
) -> bool:
    """Whether the worker's pod may run. A rejected pod's status is written (and
    written again on later syncs until it sticks); nothing of it is started."""
    decision = decide(worker, started=bool(sandboxes or instances))
    if decision.admitted:
        return True
    await worker.write_status(
        worker.pod,
        None,
        instances,
        terminal=True,
        failure=(decision.reason, REJECTED_PREFIX + decision.message),
    )
    return False


def decide(worker: PodWorker, *, started: bool = False) -> Admission:
    """The worker's decision, made now if it was not yet (with every undecided pod
    created before it, in creation order). ``started``: the runtime already has
    something of this pod."""
    if worker.admission is not None:
        return worker.admission
    agent = worker.agent
    workers = [w for w in agent.workers.values() if w.pod is not None]
    if worker not in workers:
        workers.append(worker)
    mine = _order(worker.pod)
    earlier = sorted((w for w in workers if w.admission is None), key=lambda w: _order(w.pod))
    for candidate in earlier:
        if _order(candidate.pod) > mine:
            break
        if (candidate is worker and started) or _started(candidate):
            candidate.admission = ADMITTED
            continue
        admitted = [
            PodRequest.of(w.pod)
            for w in workers
            if w.admission is not None and w.admission.admitted and not _finished(w)
        ]
        candidate.admission = fits(PodRequest.of(candidate.pod), admitted, agent.identity.capacity)
        if not candidate.admission.admitted:
            _rejected(candidate, candidate.admission)
    decision = worker.admission
    assert decision is not None  # the worker is among the undecided it went through
    return decision


def fits(
    request: PodRequest, admitted: Iterable[PodRequest], allocatable: Mapping[str, str]
) -> Admission:
    """Kubernetes' fitsRequest in the kubelet's words: the first resource short."""
    others = list(admitted)
    capacity_pods = _quantity(allocatable, "pods").ceil()
    if len(others) + 1 > capacity_pods:
        return _short("pods", 1, len(others), capacity_pods)
    used_cpu = sum(o.cpu for o in others)
    capacity_cpu = _quantity(allocatable, "cpu").milli()
    if request.cpu > 0 and request.cpu > capacity_cpu - used_cpu:
        return _short("cpu", request.cpu, used_cpu, capacity_cpu)
    used_memory = sum(o.memory for o in others)
    capacity_memory = _quantity(allocatable, "memory").ceil()
    if request.memory > 0 and request.memory > capacity_memory - used_memory:
        return _short("memory", request.memory, used_memory, capacity_memory)
    return ADMITTED


def _short(resource: str, requested: int, used: int, capacity: int) -> Admission:
    message = (
        f"Node didn't have enough resource: {resource}, requested: {requested}, "
        f"used: {used}, capacity: {capacity}"
    )
    return Admission(False, f"OutOf{resource}", message)


def _quantity(allocatable: Mapping[str, str], name: str) -> Quantity:
    return Quantity.parse(str(allocatable.get(name, "0")))


def _order(pod: Any) -> tuple[str, str]:
    return (pod.metadata.creation_timestamp or "", pod.metadata.uid or "")


def _phase(worker: PodWorker) -> str | None:
    written = (worker.written or {}).get("phase")
    status = worker.pod.status if worker.pod is not None else None
    return written or (status.phase if status is not None else None)


def _finished(worker: PodWorker) -> bool:
    return worker.pod is None or _phase(worker) in TERMINAL_PHASES


def _started(worker: PodWorker) -> bool:
    status = worker.pod.status
    started = (worker.written or {}).get("startTime") or (status and status.start_time)
    return bool(started) and not _finished(worker)


def _rejected(worker: PodWorker, decision: Admission) -> None:
    pod = worker.pod
    logger.bind(
        component="agent",
        node=worker.agent.node_name,
        pod=worker.key,
        reason=decision.reason,
        detail=decision.message,
    ).warning("pod rejected at admission")
    worker.agent.event(pod, "Warning", decision.reason, decision.message)
