"""One pass of a StatefulSet towards its spec, as Kubernetes' defaultStatefulSetControl
(updateStatefulSet) does it, given the set's pods and its current and update revisions:

1. each ordinal in range, lowest first: a pod that ended (Failed, Succeeded) is
   deleted, to be made again under the same name by a later pass; a missing pod is
   made, its claims first (an existing claim is reused: the same name, the same
   data); a pod whose identity labels drifted gets them back; a claim's owner
   references follow the retention policy. With ``OrderedReady`` the pass stops at
   the first pod it made, or that is not yet Running and Ready (and available for
   ``minReadySeconds``), or terminating; ``Parallel`` goes on over every ordinal;
2. the pods out of range (scaled away), highest ordinal first: their claims get the
   owner references ``whenScaled`` asks for, then the pods are deleted, with
   ``OrderedReady`` one at a time once all the pods in range are healthy;
3. with ``RollingUpdate``, the pods at or above ``partition`` still on an old
   revision are deleted, highest ordinal first (a later pass makes each from the
   update revision), while fewer than ``maxUnavailable`` (1 by default) of the set's
   pods are unavailable, so each waits for the ones before it to be healthy again;
   ``OnDelete`` leaves that to the user: a pod is made from the update revision
   only once someone deleted it.

A pod is made from the current revision below the partition, from the update revision
otherwise (newVersionedStatefulSetPod). The status counts what the pass saw.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import attrs

from navarch.api.apps_v1 import StatefulSet
from navarch.api.core_v1 import Pod
from navarch.api.meta import TopLevel
from navarch.client.client import JSON_PATCH, MERGE_PATCH, Client
from navarch.client.errors import AlreadyExists, ApiException, Conflict, NotFound
from navarch.client.events import EventRecorder
from navarch.controllers import statefulset_pods as sp
from navarch.controllers.deployment_rolling import scaled_value


@attrs.frozen
class Revision:
    """A revision the pass makes pods from: its name (the pods' controller-revision-hash
    label) and its pod template (wire form)."""

    name: str
    template: dict[str, Any]


@attrs.define
class Pass:
    """What one pass needs: the set, its pods, the claims of its namespace by name (a
    cache), and its two revisions. ``stop`` tells the controller to look again soon
    (a claim is still being deleted, a create raced the cache)."""

    sts: StatefulSet
    pods: list[Pod]
    claims: Callable[[str], TopLevel | None]
    current: Revision
    update: Revision
    client: Client
    recorder: EventRecorder
    log: Any
    now: float = attrs.field(factory=time.time)
    retry_soon: bool = False


class Blocked(Exception):
    """The pass waits here (OrderedReady): nothing wrong, nothing more to do now."""


async def run(work: Pass) -> dict[str, Any]:
    """Act on the set once; the status the pass saw (wire form, without the revisions'
    and generation's fields, which the caller adds)."""
    sts = work.sts
    start, count = sp.start_ordinal(sts), sp.replicas_of(sts)
    slots: dict[int, Pod] = {}
    condemned: list[Pod] = []
    for pod in work.pods:
        ordinal = sp.ordinal_of(pod)
        if sp.in_range(sts, ordinal):
            slots[ordinal] = pod
        else:
            condemned.append(pod)
    condemned.sort(key=sp.ordinal_of, reverse=True)
    ordered = (sts.spec.pod_management_policy if sts.spec else None) != "Parallel"
    deleting = bool(sts.metadata and sts.metadata.deletion_timestamp)
    if not deleting:
        try:
            await _for_all(
                [
                    partial(_replica, work, o, slots.get(o), ordered)
                    for o in range(start, start + count)
                ],
                ordered,
            )
            await _for_all(
                [partial(_fix_claims, work, p, in_range=False) for p in condemned], ordered
            )
            first_unhealthy = next(
                (
                    p
                    for p in [*(slots[o] for o in sorted(slots)), *condemned]
                    if not sp.is_healthy(p)
                ),
                None,
            )
            await _for_all(
                [partial(_condemned, work, p, first_unhealthy, ordered) for p in condemned],
                ordered,
            )
            if _strategy(sts) == "RollingUpdate":
                await _roll(work, slots)
        except Blocked:
            pass
    return _count(work, [*slots.values(), *condemned])


async def _for_all(steps: list[Callable[[], Awaitable[None]]], ordered: bool) -> None:
    """In order, stopping at the first that blocks or fails; or (Parallel) all at once,
    the first failure raised after every step ran (runForAll)."""
    if ordered:
        for step in steps:
            await step()
        return
    results = await asyncio.gather(*(step() for step in steps), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, Exception | Blocked):
            raise result
    failures = [r for r in results if isinstance(r, Exception) and not isinstance(r, Blocked)]
    if failures:
        raise failures[0]


def _strategy(sts: StatefulSet) -> str:
    strategy = sts.spec.update_strategy if sts.spec else None
    return (strategy.type if strategy else None) or "RollingUpdate"


def _partition(sts: StatefulSet) -> int:
    strategy = sts.spec.update_strategy if sts.spec else None
    rolling = strategy.rolling_update if strategy else None
    return (rolling.partition if rolling else None) or 0


def _min_ready(sts: StatefulSet) -> int:
    return (sts.spec.min_ready_seconds if sts.spec else None) or 0


def _revision_for(work: Pass, ordinal: int) -> Revision:
    """The current revision below the partition (RollingUpdate), the update one
    otherwise (newVersionedStatefulSetPod)."""
    sts = work.sts
    if _strategy(sts) == "RollingUpdate" and ordinal < sp.start_ordinal(sts) + _partition(sts):
        return work.current
    return work.update


# --- the ordinals in range ---------------------------------------------------------------


async def _replica(work: Pass, ordinal: int, pod: Pod | None, ordered: bool) -> None:
    sts = work.sts
    if pod is not None and sp.is_finished(pod):
        if not sp.is_terminating(pod):
            await _delete_pod(work, pod, "it ended")
        raise Blocked  # made again once it is gone
    if pod is None:
        await _create(work, ordinal)
        if ordered:
            raise Blocked
        return
    if sp.phase_of(pod) == "Pending":
        await _create_claims(work, ordinal, pod)  # one deleted meanwhile is made again
    if sp.is_terminating(pod) and ordered:
        raise Blocked
    if ordered and not sp.is_running_and_available(pod, _min_ready(sts), work.now):
        raise Blocked
    if not sp.identity_matches(sts, pod):
        await _patch_pod(work, pod, {"metadata": {"labels": sp.identity_labels(pod)}})
    if not sp.storage_matches(sts, pod):
        # a pod's volumes cannot change once made; its claims at least are made
        await _create_claims(work, ordinal, pod)
    await _fix_claims(work, pod, in_range=True)


async def _create(work: Pass, ordinal: int) -> None:
    sts = work.sts
    if not await _create_claims(work, ordinal, None):
        work.retry_soon = True
        raise Blocked
    revision = _revision_for(work, ordinal)
    body = sp.new_pod(sts, revision.template, ordinal, revision.name)
    name = body["metadata"]["name"]
    try:
        await work.client.pods.create(body, sts.namespace)
    except AlreadyExists:
        work.retry_soon = True  # made by an earlier pass, not yet in the cache
        raise Blocked from None
    except ApiException as exc:
        await _event(
            work,
            "Warning",
            "FailedCreate",
            f"create Pod {name} in StatefulSet {sts.name} failed error: {exc}",
        )
        raise
    work.log.bind(pod=name, revision=revision.name).info("created pod")
    await _event(
        work,
        "Normal",
        "SuccessfulCreate",
        f"create Pod {name} in StatefulSet {sts.name} successful",
    )


async def _create_claims(work: Pass, ordinal: int, pod: Pod | None) -> bool:
    """Make the ordinal's missing claims; False when one cannot be used yet (being
    deleted, or stale: left by a scaled-away pod for the garbage collector)."""
    sts = work.sts
    pod_uid = pod.metadata.uid if pod is not None and pod.metadata else None
    usable = True
    for claim in sp.claims_for(sts, ordinal).values():
        name = claim["metadata"]["name"]
        existing = work.claims(name)
        if existing is not None:
            if (existing.metadata and existing.metadata.deletion_timestamp) or sp.claim_is_stale(
                existing, pod_uid
            ):
                usable = False
            continue
        try:
            await work.client.persistentvolumeclaims.create(claim, sts.namespace)
        except AlreadyExists:
            continue  # made by an earlier pass; the cache is a step behind
        except ApiException as exc:
            await _event(
                work,
                "Warning",
                "FailedCreate",
                f"create Claim {name} for Pod {sp.pod_name(sts, ordinal)} in StatefulSet "
                f"{sts.name} failed error: {exc}",
            )
            raise
        work.log.bind(claim=name).info("created claim")
        await _event(
            work,
            "Normal",
            "SuccessfulCreate",
            f"create Claim {name} Pod {sp.pod_name(sts, ordinal)} in StatefulSet {sts.name} "
            "success",
        )
    return usable


async def _fix_claims(work: Pass, pod: Pod, *, in_range: bool) -> None:
    """Give the pod's claims the owner references the retention policy asks for."""
    sts = work.sts
    for template in sp.claim_templates(sts):
        name = sp.claim_name(sts, template["metadata"]["name"], sp.ordinal_of(pod))
        claim = work.claims(name)
        if claim is None or sp.claim_owners_match(claim, sts, pod, in_range=in_range):
            continue
        refs = sp.claim_owner_references(claim, sts, pod, in_range=in_range)
        patch = [
            {
                "op": "test",
                "path": "/metadata/uid",
                "value": claim.metadata.uid if claim.metadata else None,
            },
            {"op": "add", "path": "/metadata/ownerReferences", "value": refs},
        ]
        try:
            await work.client.persistentvolumeclaims.patch(
                name, patch, sts.namespace, patch_type=JSON_PATCH
            )
        except NotFound:
            continue
        work.log.bind(claim=name, pod=pod.name, in_range=in_range).info(
            "claim's owner references follow the retention policy"
        )


# --- scaled away -----------------------------------------------------------------------------


async def _condemned(work: Pass, pod: Pod, first_unhealthy: Pod | None, ordered: bool) -> None:
    if sp.is_terminating(pod):
        if ordered:
            raise Blocked
        return
    if (
        ordered
        and pod is not first_unhealthy
        and not sp.is_running_and_available(pod, _min_ready(work.sts), work.now)
    ):
        raise Blocked
    await _delete_pod(work, pod, "scaled down")
    if ordered:
        raise Blocked  # one at a time


# --- rolling update --------------------------------------------------------------------------


async def _roll(work: Pass, slots: dict[int, Pod]) -> None:
    """Delete pods still on an old revision, highest ordinal first and none below the
    partition, while fewer than ``maxUnavailable`` (1 by default; a percentage of the
    replicas rounded up) of the set's pods are unavailable: missing, not Running and
    Ready, terminating, or not yet available for ``minReadySeconds``
    (updateStatefulSetAfterInvariantEstablished)."""
    sts = work.sts
    count = sp.replicas_of(sts)
    unavailable = count - len(slots)
    for pod in slots.values():
        if not sp.is_healthy(pod) or not sp.is_running_and_available(
            pod, _min_ready(sts), work.now
        ):
            unavailable += 1
    allowed = _max_unavailable(sts, count) - unavailable
    lowest = sp.start_ordinal(sts) + _partition(sts)
    for ordinal in sorted(slots, reverse=True):
        if allowed <= 0 or ordinal < lowest:
            return
        pod = slots[ordinal]
        if sp.revision_of(pod) != work.update.name and not sp.is_terminating(pod):
            await _delete_pod(work, pod, "rolling update")
            allowed -= 1


def _max_unavailable(sts: StatefulSet, replicas: int) -> int:
    strategy = sts.spec.update_strategy if sts.spec else None
    rolling = strategy.rolling_update if strategy else None
    value = rolling.max_unavailable if rolling else None
    if value is None:
        return 1
    return max(1, scaled_value(value, replicas, round_up=True))


# --- calls ---------------------------------------------------------------------------------


async def _delete_pod(work: Pass, pod: Pod, why: str) -> None:
    sts = work.sts
    try:
        await work.client.pods.delete(
            pod.name, pod.namespace, uid=pod.metadata.uid if pod.metadata else None
        )
    except (NotFound, Conflict):
        return  # gone already, or another pod holds the name now
    except ApiException as exc:
        await _event(
            work,
            "Warning",
            "FailedDelete",
            f"delete Pod {pod.name} in StatefulSet {sts.name} failed error: {exc}",
        )
        raise
    work.log.bind(pod=pod.name, reason=why).info("deleted pod")
    await _event(
        work,
        "Normal",
        "SuccessfulDelete",
        f"delete Pod {pod.name} in StatefulSet {sts.name} successful",
    )


async def _patch_pod(work: Pass, pod: Pod, patch: dict[str, Any]) -> None:
    try:
        await work.client.pods.patch(pod.name, patch, pod.namespace, patch_type=MERGE_PATCH)
    except NotFound:
        return
    work.log.bind(pod=pod.name).info("restored the pod's identity labels")


async def _event(work: Pass, type_: str, reason: str, message: str) -> None:
    await work.recorder.record(work.sts, type_, reason, message)


# --- status ------------------------------------------------------------------------------------


def _count(work: Pass, pods: list[Pod]) -> dict[str, Any]:
    """computeReplicaStatus over the pods the pass saw (before its own changes)."""
    min_ready = _min_ready(work.sts)
    status = {
        "replicas": 0,
        "readyReplicas": 0,
        "availableReplicas": 0,
        "currentReplicas": 0,
        "updatedReplicas": 0,
    }
    for pod in pods:
        if sp.is_created(pod):
            status["replicas"] += 1
        if sp.is_running_and_ready(pod):
            status["readyReplicas"] += 1
            if sp.is_running_and_available(pod, min_ready, work.now):
                status["availableReplicas"] += 1
        if sp.is_created(pod) and not sp.is_terminating(pod):
            revision = sp.revision_of(pod)
            status["currentReplicas"] += revision == work.current.name
            status["updatedReplicas"] += revision == work.update.name
    return status
