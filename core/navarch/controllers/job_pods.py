"""What the Job controller reads from and writes into pods, without any I/O: which
pods are active, terminating or finished, a pod's completion index, and the pod a
Job's template makes (owned, with the tracking finalizer, and for an Indexed Job its
index as annotation, label, ``JOB_COMPLETION_INDEX`` and hostname ``<job>-<index>``).
"""

from __future__ import annotations

from typing import Any

from navarch import api
from navarch.api.batch_v1 import (
    COMPLETION_INDEX_ANNOTATION,
    COMPLETION_INDEX_ENV,
    TRACKING_FINALIZER,
    Job,
)
from navarch.api.core_v1 import Pod
from navarch.controllers.owners import owner_reference

TERMINAL = ("Succeeded", "Failed")


def phase(pod: Pod) -> str:
    return (pod.status.phase if pod.status else None) or ""


def deleting(pod: Pod) -> bool:
    return bool(pod.metadata and pod.metadata.deletion_timestamp)


def is_active(pod: Pod) -> bool:
    """Counted in ``status.active``: neither finished nor being deleted."""
    return not deleting(pod) and phase(pod) not in TERMINAL


def is_terminating(pod: Pod) -> bool:
    """Counted in ``status.terminating``: being deleted, not finished yet."""
    return deleting(pod) and phase(pod) not in TERMINAL


def has_tracking_finalizer(pod: Pod) -> bool:
    return TRACKING_FINALIZER in ((pod.metadata.finalizers if pod.metadata else None) or ())


def uid_of(pod: Pod) -> str:
    return (pod.metadata.uid if pod.metadata else None) or ""


def is_ready(pod: Pod) -> bool:
    return any(
        c.type == "Ready" and c.status == "True"
        for c in (pod.status.conditions if pod.status else None) or ()
    )


def restarts(pod: Pod) -> int:
    statuses = (pod.status.container_statuses if pod.status else None) or ()
    return sum(s.restart_count or 0 for s in statuses)


def completion_index(pod: Pod, completions: int) -> int | None:
    """The pod's index (its annotation), None when missing, malformed or out of range."""
    raw = ((pod.metadata.annotations if pod.metadata else None) or {}).get(
        COMPLETION_INDEX_ANNOTATION
    )
    if raw is None or not raw.isdigit():
        return None
    index = int(raw)
    return index if index < completions else None


def pod_from_template(job: Job, index: int | None) -> dict[str, Any]:
    """The pod body for one more pod of ``job`` (``index``: an Indexed Job's)."""
    template = job.spec.template if job.spec else None
    meta = template.metadata if template else None
    labels = dict((meta.labels if meta else None) or {})
    annotations = dict((meta.annotations if meta else None) or {})
    finalizers = [*((meta.finalizers if meta else None) or ()), TRACKING_FINALIZER]
    spec = api.dump(template.spec) if template and template.spec else {}
    generate_name = f"{job.name}-"
    if index is not None:
        annotations[COMPLETION_INDEX_ANNOTATION] = str(index)
        labels[COMPLETION_INDEX_ANNOTATION] = str(index)
        generate_name = f"{job.name}-{index}-"
        if not spec.get("hostname"):
            spec["hostname"] = f"{job.name}-{index}"
        for key in ("initContainers", "containers"):
            for container in spec.get(key) or []:
                _add_index_env(container)
    metadata: dict[str, Any] = {
        "generateName": generate_name,
        "namespace": job.namespace,
        "labels": labels,
        "ownerReferences": [owner_reference(job)],
        "finalizers": finalizers,
    }
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def _add_index_env(container: dict[str, Any]) -> None:
    env = container.setdefault("env", [])
    if any(var.get("name") == COMPLETION_INDEX_ENV for var in env):
        return
    # read from the annotation, as Kubernetes does: one source of truth for the index
    path = f"metadata.annotations['{COMPLETION_INDEX_ANNOTATION}']"
    env.insert(
        0,
        {
            "name": COMPLETION_INDEX_ENV,
            "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}},
        },
    )


def format_indexes(indexes: set[int]) -> str:
    """Kubernetes' interval form: ``{1, 3, 4, 5, 7}`` -> ``"1,3-5,7"``."""
    out: list[str] = []
    ordered = sorted(indexes)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(out)


def parse_indexes(text: str | None, completions: int) -> set[int]:
    """The indexes of ``"1,3-5,7"`` below ``completions`` (malformed parts skipped)."""
    found: set[int] = set()
    for part in (text or "").split(","):
        first, _, last = part.strip().partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            continue
        low, high = int(first), int(last or first)
        found.update(range(low, min(high, completions - 1) + 1))
    return found
