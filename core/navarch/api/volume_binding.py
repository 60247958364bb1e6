"""The rules shared by the PV controller, the scheduler's volume binding and the agent's
local-path clean-up: whether a volume fits a claim, which nodes a volume's node affinity
allows, and the annotations and finalizers they hand each other.

Kubernetes keeps these in pkg/controller/volume/persistentvolume/util and
pkg/volume/util; one module here so the three readers can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping

from navarch.api import selectors
from navarch.api.core_v1 import NodeSelectorTerm, Pod
from navarch.api.core_v1_storage import (
    FAILED,
    RELEASED,
    PersistentVolume,
    PersistentVolumeClaim,
    PersistentVolumeSpec,
)
from navarch.api.field_checks import validate_label_selector

# The scheduler's choice of node for a claim of a WaitForFirstConsumer class (its
# VolumeBinding plugin writes it when it binds the pod; the provisioner reads it).
SELECTED_NODE = "volume.kubernetes.io/selected-node"
# The PV controller's annotations (Kubernetes' names: kubectl and tools read them).
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
HOSTNAME_LABEL = "kubernetes.io/hostname"

# The built-in local-path provisioner (k3s's model).
LOCAL_PATH_PROVISIONER = "navarch.io/local-path"
LOCAL_PATH_CLASS = "local-path"
# Held on every volume the local-path provisioner makes until the volume's node has
# removed (policy Delete) or left (Retain) its directory: the hand-off between the PV
# controller, which deletes the PV object, and the agent, which owns the disk.
LOCAL_PATH_CLEANUP_FINALIZER = "navarch.io/local-path-cleanup"


def claim_class(claim: PersistentVolumeClaim) -> str:
    """The claim's class; "" is "no class" (only volumes without one match it)."""
    return (claim.spec.storage_class_name if claim.spec else None) or ""


def volume_class(pv: PersistentVolume) -> str:
    return (pv.spec.storage_class_name if pv.spec else None) or ""


def node_terms(pv: PersistentVolume) -> tuple[NodeSelectorTerm, ...]:
    affinity = pv.spec.node_affinity if pv.spec else None
    required = affinity.required if affinity else None
    return tuple((required.node_selector_terms if required else None) or ())


def term_allows(term: NodeSelectorTerm, labels: Mapping[str, str], node_name: str) -> bool:
    """One term: every expression holds (matchFields may name ``metadata.name``); an
    empty term matches nothing, as in Kubernetes."""
    expressions = term.match_expressions or ()
    fields = term.match_fields or ()
    if not expressions and not fields:
        return False
    for expression in expressions:
        requirement = selectors.Requirement(
            expression.key or "", expression.operator or "", tuple(expression.values or ())
        )
        if requirement.operator not in selectors.NODE_OPERATORS or not requirement.matches(labels):
            return False
    for field in fields:
        requirement = selectors.Requirement(
            field.key or "", field.operator or "", tuple(field.values or ())
        )
        if field.key != "metadata.name" or not requirement.matches({field.key: node_name}):
            return False
    return True


def node_allowed(pv: PersistentVolume, labels: Mapping[str, str], node_name: str) -> bool:
    """Whether a pod using ``pv`` may run on this node (no affinity: everywhere)."""
    terms = node_terms(pv)
    return not terms or any(term_allows(term, labels, node_name) for term in terms)


def pinned_node(pv: PersistentVolume) -> str | None:
    """The one node a local-path volume lives on (its ``kubernetes.io/hostname In [n]``
    term), as the provisioner wrote it; None for any other affinity."""
    terms = node_terms(pv)
    if len(terms) != 1:
        return None
    expressions = terms[0].match_expressions or ()
    for expression in expressions:
        if (
            expression.key == HOSTNAME_LABEL
            and expression.operator == selectors.IN
            and len(expression.values or ()) == 1
        ):
            return (expression.values or ("",))[0]
    return None


def claim_keys_of(pod: Pod) -> list[str]:
    """``namespace/name`` of every claim the pod's volumes name, in their order."""
    volumes = (pod.spec.volumes if pod.spec else None) or ()
    return [
        f"{pod.namespace}/{volume.persistent_volume_claim.claim_name}"
        for volume in volumes
        if volume.persistent_volume_claim is not None and volume.persistent_volume_claim.claim_name
    ]


def is_released_or_failed(pv: PersistentVolume) -> bool:
    return (pv.status.phase if pv.status else None) in (RELEASED, FAILED)


def _spec(pv: PersistentVolume) -> PersistentVolumeSpec:
    return pv.spec or PersistentVolumeSpec()


def fits(pv: PersistentVolume, claim: PersistentVolumeClaim) -> bool:
    """Whether ``pv`` satisfies ``claim`` by class, access modes, size, volume mode and
    label selector (Kubernetes' findMatchingVolume, without node or binding checks)."""
    spec, claim_spec = _spec(pv), claim.spec
    if claim_spec is None or volume_class(pv) != claim_class(claim):
        return False
    if not set(claim_spec.access_modes or ()) <= set(spec.access_modes or ()):
        return False
    if (spec.volume_mode or "Filesystem") != (claim_spec.volume_mode or "Filesystem"):
        return False
    wanted = claim.requested_storage()
    have = (spec.capacity or {}).get("storage")
    if wanted is None or have is None or have < wanted:
        return False
    if claim_spec.selector is not None:
        errs, selector = validate_label_selector(claim_spec.selector, "spec.selector")
        if errs or selector is None or not selector.matches(pv.labels):
            return False
    return True


def prebound_to(pv: PersistentVolume, claim: PersistentVolumeClaim) -> bool:
    """The volume's claimRef names this claim (and, when it has a uid, this very one)."""
    ref = _spec(pv).claim_ref
    if ref is None or ref.name != claim.name or (ref.namespace or "") != claim.namespace:
        return False
    uid = claim.metadata.uid if claim.metadata else None
    return not ref.uid or ref.uid == uid


def best_volume(
    volumes: list[PersistentVolume], claim: PersistentVolumeClaim
) -> PersistentVolume | None:
    """The volume to bind ``claim`` to: one pre-bound to it if it fits, else the
    smallest free one that fits (Kubernetes' choice, so big volumes stay for big claims).
    Volumes being deleted, released or failed are never chosen."""
    candidates = []
    for pv in volumes:
        if (pv.metadata and pv.metadata.deletion_timestamp) or is_released_or_failed(pv):
            continue
        ref = _spec(pv).claim_ref
        if ref is not None and not prebound_to(pv, claim):
            continue
        if not fits(pv, claim):
            continue
        if ref is not None:
            return pv
        candidates.append(pv)
    if not candidates:
        return None
    return min(candidates, key=lambda pv: ((pv.spec.capacity or {})["storage"].value, pv.name))  # type: ignore[union-attr]
