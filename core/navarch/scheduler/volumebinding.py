"""volume-binding: Kubernetes' VolumeBinding plugin — a pod goes only where its
PersistentVolumeClaims' volumes can be used.

Filter (turned off by a profile that maps ``volume-binding`` to 0), per claim the pod's
volumes name, with Kubernetes' reasons:

* a claim that does not exist: every node, ``persistentvolumeclaim "x" not found``
  (and ``... is being deleted`` for one going);
* a claim bound to a volume: only nodes the volume's node affinity allows (``node(s)
  had volume node affinity conflict``; a local-path volume lives on one node);
* an unbound claim of a WaitForFirstConsumer class: a node is fine where a free volume
  that fits the claim may be used, or anywhere when the class has a provisioner (the
  local-path provisioner makes the volume on whichever node is chosen); otherwise
  ``node(s) didn't find available persistent volumes to bind``;
* an unbound claim of an Immediate class (the PV controller binds it on its own):
  ``pod has unbound immediate PersistentVolumeClaims`` until it is bound.

PreBind (inside ``navarch_bind``, returning None so the binding itself proceeds): each
unbound WaitForFirstConsumer claim of the pod is annotated
``volume.kubernetes.io/selected-node: <node>``, which the PV controller and the
provisioner act on. Unlike Kubernetes, the pod is bound at once rather than after its
volumes are: the agent waits for the claims to be Bound before it starts the pod.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

import attrs

from navarch import hookimpl
from navarch.api.core_v1 import Pod
from navarch.api.core_v1_storage import PersistentVolumeClaim
from navarch.api.storage_v1 import BINDING_WAIT_FOR_FIRST_CONSUMER
from navarch.api.volume_binding import (
    SELECTED_NODE,
    best_volume,
    claim_class,
    claim_keys_of,
    node_allowed,
)
from navarch.client.errors import NotFound
from navarch.scheduler.framework import CycleState
from navarch.scheduler.nodeinfo import NodeInfo

VOLUME_BINDING = "volume-binding"
NODE_CONFLICT = "node(s) had volume node affinity conflict"
BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
PV_MISSING = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"


@attrs.frozen
class PodVolumes:
    """What one pod's claims ask of a node, worked out once per cycle: ``everywhere``
    rejects every node with that reason; ``bound`` are the claims' volumes whose node
    affinity must hold; ``delayed`` the WaitForFirstConsumer claims no provisioner
    serves (a free fitting volume must be usable on the node); ``to_select`` the
    claims the scheduler annotates with its node."""

    everywhere: str | None = None
    bound: tuple[Any, ...] = ()
    delayed: tuple[PersistentVolumeClaim, ...] = ()
    to_select: tuple[PersistentVolumeClaim, ...] = ()

    @classmethod
    def of(cls, pod: Pod, state: CycleState) -> PodVolumes:
        cached = state.read(VOLUME_BINDING)
        if cached is not None:
            return cached
        result = cls._work_out(pod, state)
        state.write(VOLUME_BINDING, result)
        return result

    @classmethod
    def _work_out(cls, pod: Pod, state: CycleState) -> PodVolumes:
        keys = claim_keys_of(pod)
        cluster = state.cluster
        if not keys or cluster is None:
            return cls()
        claims = cluster.informer("persistentvolumeclaims")
        volumes = cluster.informer("persistentvolumes")
        classes = cluster.informer("storageclasses")
        bound, delayed, to_select = [], [], []
        for key in keys:
            claim = claims.get(key)
            name = key.partition("/")[2]
            if claim is None:
                return cls(everywhere=f'persistentvolumeclaim "{name}" not found')
            if claim.metadata and claim.metadata.deletion_timestamp:
                return cls(everywhere=f'persistentvolumeclaim "{name}" is being deleted')
            volume_name = claim.spec.volume_name if claim.spec else None
            if volume_name:
                pv = volumes.get(volume_name)
                if pv is None:
                    return cls(everywhere=PV_MISSING)
                bound.append(pv)
                continue
            storage_class = classes.get(claim_class(claim)) if claim_class(claim) else None
            if (
                storage_class is None
                or storage_class.volume_binding_mode != BINDING_WAIT_FOR_FIRST_CONSUMER
            ):
                return cls(everywhere=UNBOUND_IMMEDIATE)
            to_select.append(claim)
            if not storage_class.provisioner or storage_class.provisioner == (
                "kubernetes.io/no-provisioner"
            ):
                delayed.append(claim)
        return cls(None, tuple(bound), tuple(delayed), tuple(to_select))

    def reason(self, info: NodeInfo, free_volumes: list[Any]) -> str | None:
        if self.everywhere:
            return self.everywhere
        labels = info.labels
        if any(not node_allowed(pv, labels, info.name) for pv in self.bound):
            return NODE_CONFLICT
        if self.delayed:
            usable = [pv for pv in free_volumes if node_allowed(pv, labels, info.name)]
            for claim in self.delayed:
                pv = best_volume(usable, claim)
                if pv is None:
                    return BIND_CONFLICT
                usable.remove(pv)  # two claims of one pod never take the same volume
        return None


@hookimpl
def navarch_filter(
    pod: Pod, nodes: Sequence[NodeInfo], state: CycleState
) -> Mapping[str, str] | None:
    if not state.runs_filter(VOLUME_BINDING):
        return None
    wants = PodVolumes.of(pod, state)
    if not (wants.everywhere or wants.bound or wants.delayed):
        return None
    free: list[Any] = []
    if wants.delayed and state.cluster is not None:
        free = state.cluster.informer("persistentvolumes").list()
    rejected = {}
    for info in nodes:
        reason = wants.reason(info, free)
        if reason:
            rejected[info.name] = reason
    return rejected


@hookimpl(tryfirst=True)  # PreBind: before any plugin that binds
def navarch_bind(pod: Pod, node_name: str, state: CycleState) -> Awaitable[None] | None:
    """PreBind: tell the PV controller and the provisioner which node was chosen. None
    at once for a pod with nothing to select (so a plain pluggy call goes on to the
    binders); otherwise work that resolves to None (``call_first`` then goes on)."""
    if state is None or state.cluster is None:
        return None  # called outside a scheduling cycle: no claims known to select
    wants = PodVolumes.of(pod, state)
    if not wants.to_select:
        return None
    return _select_node(state.cluster.client, wants.to_select, node_name)


async def _select_node(
    client: Any, claims: Sequence[PersistentVolumeClaim], node_name: str
) -> None:
    for claim in claims:
        annotations = (claim.metadata.annotations if claim.metadata else None) or {}
        if annotations.get(SELECTED_NODE) == node_name:
            continue
        try:
            await client.persistentvolumeclaims.patch(
                claim.name,
                {"metadata": {"annotations": {SELECTED_NODE: node_name}}},
                claim.namespace,
            )
        except NotFound:
            continue  # gone: the pod's volume waits on the agent, which says why
