"""What the ReplicaSet controller decides about pods, without any I/O: which pods
count (active), which are ready and available, which go first when there are too
many, the pod a template makes, and the status they add up to.

All functions read frozen model objects and never change them.
"""

from __future__ import annotations

import math
import time
from typing import Any

from navarch import api
from navarch.api.apps_v1 import ReplicaSet
from navarch.api.core_v1 import Pod
from navarch.api.field_checks import validate_label_selector
from navarch.api.selectors import Selector
from navarch.api.timefmt import parse_rfc3339
from navarch.controllers.owners import owner_reference

# The order Kubernetes deletes in (controller.ActivePods): lower goes first.
_PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}


def selector_of(rs: ReplicaSet) -> Selector | None:
    """The ReplicaSet's selector; None when it has none or it is invalid (matches nothing)."""
    selector = rs.spec.selector if rs.spec else None
    if selector is None:
        return None
    errors, parsed = validate_label_selector(selector, "spec.selector")
    return None if errors else parsed


def labels_of(pod: Pod) -> dict[str, str]:
    return dict((pod.metadata.labels if pod.metadata else None) or {})


def is_active(pod: Pod) -> bool:
    """Counted as a replica: not being deleted, not finished (Succeeded, Failed)."""
    phase = pod.status.phase if pod.status else None
    deleting = pod.metadata is not None and pod.metadata.deletion_timestamp
    return not deleting and phase not in ("Succeeded", "Failed")


def ready_since(pod: Pod) -> float | None:
    """When the pod became Ready (its Ready condition's lastTransitionTime); None
    when it is not Ready, ``-inf`` when Ready without a recorded time."""
    for condition in (pod.status.conditions if pod.status else None) or ():
        if condition.type == "Ready":
            if condition.status != "True":
                return None
            parsed = parse_rfc3339(condition.last_transition_time or "")
            return parsed if parsed is not None else -math.inf
    return None


def is_ready(pod: Pod) -> bool:
    return ready_since(pod) is not None


def available_in(pod: Pod, min_ready_seconds: int, now: float) -> float | None:
    """Seconds until the pod is available (Ready for ``min_ready_seconds``): 0 when it
    is, None when it is not Ready (or Ready at an unknown time with a minimum to wait)."""
    since = ready_since(pod)
    if since is None:
        return None
    if min_ready_seconds <= 0:
        return 0.0
    if since == -math.inf:
        return None
    return max(0.0, since + min_ready_seconds - now)


def _restarts(pod: Pod) -> int:
    statuses = (pod.status.container_statuses if pod.status else None) or ()
    return max((s.restart_count or 0 for s in statuses), default=0)


def _created(pod: Pod) -> float:
    parsed = parse_rfc3339((pod.metadata.creation_timestamp if pod.metadata else None) or "")
    return parsed if parsed is not None else -math.inf


def deletion_rank(pod: Pod) -> tuple[Any, ...]:
    """Sort key: the pods to delete first sort first. Kubernetes' order: unassigned
    before assigned; Pending before Unknown before Running; not ready before ready;
    ready for less time before more; more restarts before fewer; newer before older."""
    assigned = bool(pod.spec and pod.spec.node_name)
    phase = _PHASE_ORDER.get((pod.status.phase if pod.status else None) or "", 0)
    since = ready_since(pod)
    ready_for = (1, -since) if since is not None else (0, 0.0)
    return (assigned, phase, ready_for, -_restarts(pod), -_created(pod))


def pods_to_delete(pods: list[Pod], count: int) -> list[Pod]:
    return sorted(pods, key=deletion_rank)[:count]


def pod_from_template(rs: ReplicaSet) -> dict[str, Any]:
    """The pod the ReplicaSet's template describes, owned by the ReplicaSet: labels,
    annotations and finalizers copied, named ``<rs-name>-<random>`` by the API server."""
    template = rs.spec.template if rs.spec else None
    meta = template.metadata if template else None
    metadata: dict[str, Any] = {
        "generateName": f"{rs.name}-",
        "namespace": rs.namespace,
        "ownerReferences": [owner_reference(rs)],
    }
    for field, value in (
        ("labels", meta.labels if meta else None),
        ("annotations", meta.annotations if meta else None),
        ("finalizers", list(meta.finalizers) if meta and meta.finalizers else None),
    ):
        if value:
            metadata[field] = dict(value) if isinstance(value, dict) else value
    spec = api.dump(template.spec) if template and template.spec else {}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def fully_labeled(pod: Pod, template_labels: dict[str, str]) -> bool:
    labels = labels_of(pod)
    return all(labels.get(k) == v for k, v in template_labels.items())


def counts(rs: ReplicaSet, pods: list[Pod], now: float | None = None) -> dict[str, Any]:
    """``replicas``, ``fullyLabeledReplicas``, ``readyReplicas``, ``availableReplicas``
    of the ReplicaSet's active pods, and ``next_available``: seconds until a Ready pod
    not yet available becomes so (None when there is none)."""
    now = time.time() if now is None else now
    min_ready = (rs.spec.min_ready_seconds if rs.spec else None) or 0
    template = rs.spec.template if rs.spec else None
    template_labels = dict(
        (template.metadata.labels if template and template.metadata else None) or {}
    )
    ready = available = labeled = 0
    waits: list[float] = []
    for pod in pods:
        labeled += fully_labeled(pod, template_labels)
        left = available_in(pod, min_ready, now)
        if is_ready(pod):
            ready += 1
        if left == 0.0:
            available += 1
        elif left is not None:
            waits.append(left)
    return {
        "replicas": len(pods),
        "fullyLabeledReplicas": labeled,
        "readyReplicas": ready,
        "availableReplicas": available,
        "next_available": min(waits) if waits else None,
    }
