"""Which pods a Job owns (Kubernetes' ``PodControllerRefManager.ClaimPods`` as the Job
controller calls it): an orphan pod matching the Job's selector is adopted — its
controller reference and the tracking finalizer added, so it is counted like the
Job's own — and an owned pod whose labels no longer match is released (both
removed). Adoption happens only for a Job that still is, read from the API server
(one deleted meanwhile must not take pods), and never while it is being deleted.

With the generated selector (``batch.kubernetes.io/controller-uid=<uid>``) orphans are
rare: a pod whose owner reference was removed by hand. A ``manualSelector`` Job
(one made again after ``kubectl delete --cascade=orphan``) takes the old pods back.
"""

from __future__ import annotations

from typing import Any

from navarch.api.batch_v1 import TRACKING_FINALIZER, Job
from navarch.api.core_v1 import Pod
from navarch.api.field_checks import validate_label_selector
from navarch.api.selectors import Selector
from navarch.client.errors import NotFound
from navarch.controllers import claiming
from navarch.controllers import job_pods as pods_of
from navarch.controllers.owners import controller_of


def selector_of(job: Job) -> Selector | None:
    """The Job's selector; None when missing, invalid or empty (it adopts nothing)."""
    selector = job.spec.selector if job.spec else None
    if selector is None:
        return None
    errors, parsed = validate_label_selector(selector, "spec.selector")
    return None if errors or parsed is None or parsed.is_empty() else parsed


def orphans(job: Job, pods: list[Pod]) -> list[Pod]:
    """Pods of the Job's namespace it may adopt: no controller, matching, not going."""
    selector = selector_of(job)
    if selector is None:
        return []
    return [
        p
        for p in pods
        if controller_of(p) is None
        and not pods_of.deleting(p)
        and selector.matches(dict((p.metadata.labels if p.metadata else None) or {}))
    ]


def strays(job: Job, owned: list[Pod]) -> list[Pod]:
    """Owned pods whose labels the Job's selector no longer matches."""
    selector = selector_of(job)
    if selector is None:
        return []
    return [
        p
        for p in owned
        if not pods_of.deleting(p)
        and not selector.matches(dict((p.metadata.labels if p.metadata else None) or {}))
    ]


async def may_adopt(client: Any, job: Job) -> bool:
    try:
        fresh = await client.jobs.get(job.name, job.namespace)
    except NotFound:
        return False
    meta, cached = fresh.metadata, job.metadata
    return bool(meta and cached and meta.uid == cached.uid and not meta.deletion_timestamp)


async def adopt(client: Any, job: Job, pod: Pod) -> Pod:
    """Adopt the orphan ``pod``, adding the tracking finalizer it lacks in the same
    patch (so it is counted exactly once from then on)."""
    extra: list[dict[str, Any]] = []
    if not pods_of.has_tracking_finalizer(pod):
        finalizers = pod.metadata.finalizers if pod.metadata else None
        extra.append(
            {"op": "add", "path": "/metadata/finalizers/-", "value": TRACKING_FINALIZER}
            if finalizers
            else {"op": "add", "path": "/metadata/finalizers", "value": [TRACKING_FINALIZER]}
        )
    adopted: Pod = await claiming.adopt(client.pods, job, pod, extra)
    return adopted


async def release(client: Any, job: Job, pod: Pod) -> None:
    """Release ``pod`` and take away the tracking finalizer with the reference."""
    finalizers = list((pod.metadata.finalizers if pod.metadata else None) or ())
    extra: list[dict[str, Any]] = []
    if TRACKING_FINALIZER in finalizers:
        at = finalizers.index(TRACKING_FINALIZER)
        extra = [
            {"op": "test", "path": f"/metadata/finalizers/{at}", "value": TRACKING_FINALIZER},
            {"op": "remove", "path": f"/metadata/finalizers/{at}"},
        ]
    await claiming.release(client.pods, job, pod, extra)
