"""A StatefulSet's pods and claims as Kubernetes' stateful_set_utils.go decides them,
without any I/O: the stable identity of each (``<set>-<ordinal>``, its hostname and
subdomain, its labels), the claim per ordinal and template, the pod a revision's
template makes for an ordinal, which pods are healthy, and which claim owner
references the retention policy asks for.

    web-0                     the pod of ordinal 0 of StatefulSet "web"
    www-web-0                 its claim from volumeClaimTemplates[name=www]
    labels                    statefulset.kubernetes.io/pod-name: web-0
                              apps.kubernetes.io/pod-index: "0"
                              controller-revision-hash: web-7b9f8c6d5 (the revision's name)

All functions read frozen model objects and never change them.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from navarch import api
from navarch.api.apps_v1 import StatefulSet
from navarch.api.core_v1 import Pod
from navarch.api.meta import TopLevel
from navarch.controllers.history import HASH_LABEL
from navarch.controllers.owners import owner_reference
from navarch.controllers.replicaset_pods import available_in, is_ready, labels_of

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
RETAIN, DELETE = "Retain", "Delete"

_ORDINAL = re.compile(r"^(.*)-([0-9]+)$")


# --- identity --------------------------------------------------------------------------


def parent_and_ordinal(name: str) -> tuple[str, int]:
    """``("web", 3)`` for ``web-3``; ``("", -1)`` for a name of no StatefulSet pod."""
    match = _ORDINAL.match(name or "")
    if match is None:
        return "", -1
    return match.group(1), int(match.group(2))


def ordinal_of(pod: Pod) -> int:
    return parent_and_ordinal(pod.name or "")[1]


def start_ordinal(sts: StatefulSet) -> int:
    ordinals = sts.spec.ordinals if sts.spec else None
    return (ordinals.start if ordinals else None) or 0


def replicas_of(sts: StatefulSet) -> int:
    replicas = sts.spec.replicas if sts.spec else None
    return 1 if replicas is None else replicas


def in_range(sts: StatefulSet, ordinal: int) -> bool:
    """Whether ``ordinal`` is one the set wants now (``start <= ordinal < start+replicas``)."""
    start = start_ordinal(sts)
    return start <= ordinal < start + replicas_of(sts)


def pod_name(sts: StatefulSet, ordinal: int) -> str:
    return f"{sts.name}-{ordinal}"


def is_member(sts: StatefulSet, pod: Pod) -> bool:
    """Whether the pod's name makes it one of the set's (isMemberOf)."""
    parent, ordinal = parent_and_ordinal(pod.name or "")
    return ordinal >= 0 and parent == sts.name


def revision_of(pod: Pod) -> str:
    """The name of the revision the pod was made from (its controller-revision-hash)."""
    return labels_of(pod).get(HASH_LABEL, "")


def identity_matches(sts: StatefulSet, pod: Pod) -> bool:
    parent, ordinal = parent_and_ordinal(pod.name or "")
    return (
        ordinal >= 0
        and parent == sts.name
        and pod.namespace == sts.namespace
        and labels_of(pod).get(POD_NAME_LABEL) == pod.name
        and labels_of(pod).get(POD_INDEX_LABEL) == str(ordinal)
    )


def identity_labels(pod: Pod) -> dict[str, str]:
    """The labels the pod's identity needs (what ``identity_matches`` checks)."""
    return {POD_NAME_LABEL: pod.name or "", POD_INDEX_LABEL: str(ordinal_of(pod))}


# --- claims ----------------------------------------------------------------------------


def claim_templates(sts: StatefulSet) -> list[dict[str, Any]]:
    """The volume claim templates (wire form), those without a name left out (validation
    refuses them)."""
    templates = (sts.spec.volume_claim_templates if sts.spec else None) or ()
    return [api.dump(t) for t in templates if t.metadata and t.metadata.name]


def claim_name(sts: StatefulSet, template_name: str, ordinal: int) -> str:
    """``<template>-<set>-<ordinal>`` (getPersistentVolumeClaimName)."""
    return f"{template_name}-{pod_name(sts, ordinal)}"


def claims_for(sts: StatefulSet, ordinal: int) -> dict[str, dict[str, Any]]:
    """The claim of each template for ``ordinal``, by template name (the pod's volume
    name): the template's copy named for the ordinal, in the set's namespace, labelled
    with the set's selector's matchLabels too, its owner references the retention
    policy's for a pod in range (the set's with ``whenDeleted: Delete``)."""
    match_labels = dict(
        (sts.spec.selector.match_labels if sts.spec and sts.spec.selector else None) or {}
    )
    claims = {}
    for template in claim_templates(sts):
        claim = copy.deepcopy(template)
        name = claim["metadata"]["name"]
        metadata = dict(claim.get("metadata") or {})
        metadata["name"] = claim_name(sts, name, ordinal)
        metadata["namespace"] = sts.namespace
        metadata["labels"] = {**(metadata.get("labels") or {}), **match_labels}
        refs = wanted_claim_owners(sts, None, in_range=True)
        if refs:
            metadata["ownerReferences"] = refs
        claim["metadata"] = metadata
        claim.setdefault("apiVersion", "v1")
        claim.setdefault("kind", "PersistentVolumeClaim")
        claim.pop("status", None)
        claims[name] = claim
    return claims


def retention_policy(sts: StatefulSet) -> tuple[str, str]:
    """(whenDeleted, whenScaled), Retain when unset."""
    policy = sts.spec.persistent_volume_claim_retention_policy if sts.spec else None
    when_deleted = (policy.when_deleted if policy else None) or RETAIN
    when_scaled = (policy.when_scaled if policy else None) or RETAIN
    return when_deleted, when_scaled


def wanted_claim_owners(
    sts: StatefulSet, pod: TopLevel | None, *, in_range: bool
) -> list[dict[str, Any]]:
    """The owner references a claim of the set needs for its policy
    (updateClaimOwnerRefForSetAndPod): the set as controller while ``whenDeleted`` is
    Delete and the pod is in range; the pod (not as controller) once it is scaled away
    with ``whenScaled: Delete``, so that the garbage collector removes the claim
    with the pod. The pod reference needs the pod's uid: None gives none."""
    when_deleted, when_scaled = retention_policy(sts)
    refs: list[dict[str, Any]] = []
    scaled_away = not in_range
    if when_deleted == DELETE and not (scaled_away and when_scaled == DELETE):
        refs.append(owner_reference(sts))
    if scaled_away and when_scaled == DELETE and _uid(pod):
        assert pod is not None
        refs.append(owner_reference(pod, controller=False, block_owner_deletion=False))
    return refs


def claim_owners_match(
    claim: TopLevel, sts: StatefulSet, pod: TopLevel | None, *, in_range: bool
) -> bool:
    """Whether the claim's references to the set and to the pod are what the policy
    asks for (other owners are left alone)."""
    ours = {uid for uid in (_uid(sts), _uid(pod)) if uid}
    have = {
        (ref.uid, bool(ref.controller))
        for ref in (claim.metadata.owner_references if claim.metadata else None) or ()
        if ref.uid in ours
    }
    wanted = {
        (ref["uid"], bool(ref["controller"]))
        for ref in wanted_claim_owners(sts, pod, in_range=in_range)
    }
    return have == wanted


def claim_owner_references(
    claim: TopLevel, sts: StatefulSet, pod: TopLevel | None, *, in_range: bool
) -> list[dict[str, Any]]:
    """The claim's owner references with those to the set and the pod made the policy's."""
    ours = {uid for uid in (_uid(sts), _uid(pod)) if uid}
    kept = [
        api.dump(ref)
        for ref in (claim.metadata.owner_references if claim.metadata else None) or ()
        if ref.uid not in ours
    ]
    return kept + wanted_claim_owners(sts, pod, in_range=in_range)


def claim_is_stale(claim: TopLevel, pod_uid: str | None) -> bool:
    """A claim left by a scaled-away pod (it names a pod as owner, not this one) that
    the garbage collector is about to delete: no new pod may use it
    (PodClaimIsStale)."""
    for ref in (claim.metadata.owner_references if claim.metadata else None) or ():
        if ref.kind == "Pod" and ref.uid != pod_uid:
            return True
    return False


def _uid(obj: TopLevel | None) -> str | None:
    return obj.metadata.uid if obj is not None and obj.metadata is not None else None


# --- pods ------------------------------------------------------------------------------


def new_pod(
    sts: StatefulSet, template: dict[str, Any], ordinal: int, revision: str
) -> dict[str, Any]:
    """The pod of ``ordinal`` made from ``template`` (a revision's, wire form): named
    ``<set>-<ordinal>``, hostname its name and subdomain the set's serviceName, its
    identity and revision labels, a volume per claim template pointing at the
    ordinal's claim (replacing a template volume of the same name), owned by the set."""
    name = pod_name(sts, ordinal)
    meta = template.get("metadata") or {}
    labels = {
        **(meta.get("labels") or {}),
        POD_NAME_LABEL: name,
        POD_INDEX_LABEL: str(ordinal),
        HASH_LABEL: revision,
    }
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": sts.namespace,
        "labels": labels,
        "ownerReferences": [owner_reference(sts)],
    }
    if meta.get("annotations"):
        metadata["annotations"] = dict(meta["annotations"])
    if meta.get("finalizers"):
        metadata["finalizers"] = list(meta["finalizers"])
    spec = copy.deepcopy(template.get("spec") or {})
    spec["hostname"] = name
    service = sts.spec.service_name if sts.spec else None
    if service:
        spec["subdomain"] = service
    claims = claims_for(sts, ordinal)
    volumes = [
        {"name": volume, "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}}
        for volume, claim in claims.items()
    ]
    volumes += [v for v in spec.get("volumes") or [] if v.get("name") not in claims]
    if volumes:
        spec["volumes"] = volumes
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def storage_matches(sts: StatefulSet, pod: Pod) -> bool:
    """Whether each claim template has its volume on the pod, naming the ordinal's claim."""
    ordinal = ordinal_of(pod)
    if ordinal < 0:
        return False
    volumes = {v.name: v for v in (pod.spec.volumes if pod.spec else None) or ()}
    for template in claim_templates(sts):
        name = template["metadata"]["name"]
        volume = volumes.get(name)
        source = volume.persistent_volume_claim if volume is not None else None
        if source is None or source.claim_name != claim_name(sts, name, ordinal):
            return False
    return True


def phase_of(pod: Pod) -> str:
    return (pod.status.phase if pod.status else None) or ""


def is_created(pod: Pod | None) -> bool:
    """Made and seen by the API server (a phase set: Pending at least)."""
    return pod is not None and bool(phase_of(pod))


def is_terminating(pod: Pod) -> bool:
    return bool(pod.metadata and pod.metadata.deletion_timestamp)


def is_finished(pod: Pod) -> bool:
    """Failed or Succeeded: a StatefulSet pod that ended is deleted and made again."""
    return phase_of(pod) in ("Failed", "Succeeded")


def is_running_and_ready(pod: Pod) -> bool:
    return phase_of(pod) == "Running" and is_ready(pod)


def is_running_and_available(pod: Pod, min_ready_seconds: int, now: float) -> bool:
    return phase_of(pod) == "Running" and available_in(pod, min_ready_seconds, now) == 0.0


def is_healthy(pod: Pod) -> bool:
    return is_running_and_ready(pod) and not is_terminating(pod)
