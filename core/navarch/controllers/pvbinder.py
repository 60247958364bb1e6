"""The PersistentVolume controller (Kubernetes' persistentvolume-binder): binds claims
to volumes, keeps both phases true, and reclaims a volume whose claim is gone.

A claim without a volume is bound to the best fitting one (a volume pre-bound to it by
``claimRef``, else the smallest free volume of its class, access modes, size and label
selector); a claim that names a volume (``spec.volumeName``) is bound to that one. A
claim of a WaitForFirstConsumer class is bound only once the scheduler has chosen its
node (``volume.kubernetes.io/selected-node``), and then only to a volume that node may
use; until then it waits, Pending. Binding writes the volume first (claimRef, phase
Bound), then the claim (volumeName, then phase Bound with the volume's capacity and
access modes), as Kubernetes does: a crash between two writes leaves a state the next
sync finishes.

Volume phases: Available (free, or pre-bound to a claim not yet made), Bound,
Released (its claim was deleted), Failed (its reclaim could not be done). A Released
volume is then reclaimed by its policy: Retain keeps it (an administrator decides),
Delete deletes the PV object — the local-path provisioner's volumes keep a finalizer
until their node removed the directory (:mod:`navarch.agent.localpath`); a Delete of
any other volume has no deleter here, so it is marked Failed saying so.

A claim with no class gets the default StorageClass once one exists (Kubernetes'
retroactive default class assignment).
"""

from __future__ import annotations

from typing import Any

from navarch.api.core_v1 import ObjectReference
from navarch.api.core_v1_storage import (
    AVAILABLE,
    BOUND,
    FAILED,
    LOST,
    PENDING,
    RECLAIM_DELETE,
    RECLAIM_RETAIN,
    RELEASED,
    PersistentVolume,
    PersistentVolumeClaim,
)
from navarch.api.storage_v1 import BINDING_WAIT_FOR_FIRST_CONSUMER, StorageClass
from navarch.api.timefmt import rfc3339
from navarch.api.volume_binding import (
    BIND_COMPLETED,
    BOUND_BY_CONTROLLER,
    HOSTNAME_LABEL,
    LOCAL_PATH_CLEANUP_FINALIZER,
    SELECTED_NODE,
    best_volume,
    claim_class,
    node_allowed,
    prebound_to,
)
from navarch.client.errors import Conflict, NotFound
from navarch.controllers.base import QueueController
from navarch.controllers.context import ControllerContext

NAME = "persistentvolume-binder"
CLAIM, VOLUME = "claim:", "volume:"


def _annotations(obj: Any) -> dict[str, str]:
    return dict((obj.metadata.annotations if obj.metadata else None) or {})


def _version(obj: Any) -> str | None:
    """The resourceVersion a patch names: applied only to that very version."""
    return obj.metadata.resource_version if obj.metadata else None


def _phase(obj: Any) -> str | None:
    return obj.status.phase if obj.status else None


class PersistentVolumeBinder(QueueController):
    def __init__(self, context: ControllerContext):
        super().__init__(context)
        self.claims = context.informers.informer("persistentvolumeclaims")
        self.volumes = context.informers.informer("persistentvolumes")
        self.classes = context.informers.informer("storageclasses")
        self.nodes = context.informers.informer("nodes")
        self.claims.add_handler(
            on_add=self._claim_changed,
            on_update=lambda old, new: self._claim_changed(new),
            on_delete=self._claim_deleted,
        )
        self.volumes.add_handler(
            on_add=self._volume_changed,
            on_update=lambda old, new: self._volume_changed(new),
            on_delete=self._volume_deleted,
        )
        # A new default class may give classless claims one; a new class may make
        # waiting claims bindable.
        self.classes.add_handler(
            on_add=lambda sc: self._all_claims(), on_update=lambda old, new: self._all_claims()
        )

    # --- handlers: changes to keys ------------------------------------------------------

    def _claim_changed(self, claim: PersistentVolumeClaim) -> None:
        self.queue.add(CLAIM + claim.key())
        volume = claim.spec.volume_name if claim.spec else None
        if volume:
            self.queue.add(VOLUME + volume)

    def _claim_deleted(self, claim: PersistentVolumeClaim) -> None:
        # its volume is Released now: sync every volume that names it
        for pv in self.volumes.list():
            ref = pv.spec.claim_ref if pv.spec else None
            if ref is not None and ref.name == claim.name and ref.namespace == claim.namespace:
                self.queue.add(VOLUME + pv.name)

    def _volume_changed(self, pv: PersistentVolume) -> None:
        self.queue.add(VOLUME + pv.name)
        ref = pv.spec.claim_ref if pv.spec else None
        if ref is not None and ref.name:
            self.queue.add(f"{CLAIM}{ref.namespace or ''}/{ref.name}")
        else:  # a free volume: claims waiting for one may fit now
            self._unbound_claims()

    def _volume_deleted(self, pv: PersistentVolume) -> None:
        ref = pv.spec.claim_ref if pv.spec else None
        if ref is not None and ref.name:
            self.queue.add(f"{CLAIM}{ref.namespace or ''}/{ref.name}")

    def _all_claims(self) -> None:
        for claim in self.claims.list():
            self.queue.add(CLAIM + claim.key())

    def _unbound_claims(self) -> None:
        for claim in self.claims.list():
            if not (claim.spec and claim.spec.volume_name):
                self.queue.add(CLAIM + claim.key())

    # --- sync -------------------------------------------------------------------------

    async def sync(self, key: str) -> float | None:
        if key.startswith(CLAIM):
            claim = self.claims.get(key.removeprefix(CLAIM))
            if claim is not None:
                await self.sync_claim(claim)
        elif key.startswith(VOLUME):
            pv = self.volumes.get(key.removeprefix(VOLUME))
            if pv is not None:
                await self.sync_volume(pv)
        return None

    def storage_class(self, name: str) -> StorageClass | None:
        return self.classes.get(name) if name else None

    def default_class(self) -> StorageClass | None:
        # Kubernetes picks the newest of several defaults; so do we (then by name).
        defaults = [sc for sc in self.classes.list() if sc.is_default]
        if not defaults:
            return None
        return max(defaults, key=lambda sc: (sc.metadata.creation_timestamp or "", sc.name))

    async def sync_claim(self, claim: PersistentVolumeClaim) -> None:
        if claim.metadata and claim.metadata.deletion_timestamp:
            return
        spec = claim.spec
        if spec is None:
            return
        if spec.storage_class_name is None and not spec.volume_name:
            default = self.default_class()
            if default is not None:
                await self.client.persistentvolumeclaims.patch(
                    claim.name, {"spec": {"storageClassName": default.name}}, claim.namespace
                )
                self.log.bind(claim=claim.key(), storage_class=default.name).info(
                    "default storage class assigned"
                )
                return  # the update brings the claim back with its class
        if spec.volume_name:
            await self._sync_bound_claim(claim, spec.volume_name)
            return
        await self._bind_unbound_claim(claim)

    async def _bind_unbound_claim(self, claim: PersistentVolumeClaim) -> None:
        storage_class = self.storage_class(claim_class(claim))
        candidates = self.volumes.list()
        delayed = (
            storage_class is not None
            and storage_class.volume_binding_mode == BINDING_WAIT_FOR_FIRST_CONSUMER
        )
        if delayed:
            node_name = _annotations(claim).get(SELECTED_NODE)
            if not node_name:
                await self._claim_pending(
                    claim,
                    "WaitForFirstConsumer",
                    "waiting for first consumer to be created before binding",
                )
                return
            node = self.nodes.get(node_name)
            # a node not in the cache yet still has its hostname label
            labels = node.labels if node is not None else {HOSTNAME_LABEL: node_name}
            candidates = [
                pv
                for pv in candidates
                if prebound_to(pv, claim) or node_allowed(pv, labels, node_name)
            ]
        pv = best_volume(candidates, claim)
        if pv is None:
            if storage_class is None and claim_class(claim):
                message = f'storageclass.storage.k8s.io "{claim_class(claim)}" not found'
            elif storage_class is None:
                message = (
                    "no persistent volumes available for this claim and no storage class is set"
                )
            else:
                message = (
                    f"waiting for a volume to be created by the {storage_class.provisioner!r} "
                    "provisioner"
                )
            await self._claim_pending(
                claim, "FailedBinding" if storage_class is None else "ExternalProvisioning", message
            )
            return
        await self._bind(pv, claim)

    async def _claim_pending(self, claim: PersistentVolumeClaim, reason: str, message: str) -> None:
        if _phase(claim) != PENDING:
            await self._claim_status(claim, PENDING, None)
        await self.context.recorder.record(
            claim, "Normal" if reason != "FailedBinding" else "Warning", reason, message
        )

    async def _sync_bound_claim(self, claim: PersistentVolumeClaim, volume_name: str) -> None:
        pv = self.volumes.get(volume_name)
        if pv is None:
            if _annotations(claim).get(BIND_COMPLETED) and _phase(claim) != LOST:
                await self._claim_status(claim, LOST, None)
                await self.context.recorder.record(
                    claim,
                    "Warning",
                    "ClaimLost",
                    "Bound claim has lost reference to PersistentVolume. Data on the "
                    "volume is lost!",
                )
            return  # a claim pre-bound to a volume not made yet waits, Pending
        ref = pv.spec.claim_ref if pv.spec else None
        if ref is None:
            await self._bind(pv, claim)  # pre-bound claim: take the free volume
            return
        if prebound_to(pv, claim):
            if not ref.uid or _phase(pv) != BOUND:
                pv = await self._bind_volume(pv, claim)
            await self._bind_claim(claim, pv)
            return
        # the volume is someone else's
        if _annotations(claim).get(BIND_COMPLETED) and _phase(claim) != LOST:
            await self._claim_status(claim, LOST, None)
            await self.context.recorder.record(
                claim,
                "Warning",
                "ClaimMisbound",
                "Two claims are bound to the same volume, this one is bound incorrectly",
            )

    async def _bind(self, pv: PersistentVolume, claim: PersistentVolumeClaim) -> None:
        pv = await self._bind_volume(pv, claim)
        await self._bind_claim(claim, pv)
        self.log.bind(claim=claim.key(), volume=pv.name).info("claim bound")

    async def _bind_volume(
        self, pv: PersistentVolume, claim: PersistentVolumeClaim
    ) -> PersistentVolume:
        """claimRef (with the claim's uid) on the volume, then its phase Bound."""
        meta = claim.metadata
        ref = pv.spec.claim_ref if pv.spec else None
        if ref is None or ref.uid != (meta.uid if meta else None):
            reference = ObjectReference(
                api_version="v1",
                kind="PersistentVolumeClaim",
                namespace=claim.namespace,
                name=claim.name,
                uid=meta.uid if meta else None,
                resource_version=meta.resource_version if meta else None,
            )
            patch: dict[str, Any] = {
                "metadata": {"resourceVersion": _version(pv)},
                "spec": {"claimRef": reference.to_dict()},
            }
            if ref is None:
                patch["metadata"]["annotations"] = {BOUND_BY_CONTROLLER: "yes"}
            pv = await self.client.persistentvolumes.patch(pv.name, patch)
        if _phase(pv) != BOUND:
            pv = await self._volume_status(pv, BOUND)
        return pv

    async def _bind_claim(self, claim: PersistentVolumeClaim, pv: PersistentVolume) -> None:
        annotations = _annotations(claim)
        if claim.spec is not None and (
            claim.spec.volume_name != pv.name or annotations.get(BIND_COMPLETED) != "yes"
        ):
            wanted = {BIND_COMPLETED: "yes"}
            if claim.spec.volume_name != pv.name:
                wanted[BOUND_BY_CONTROLLER] = "yes"
            patch = {
                "metadata": {
                    "resourceVersion": _version(claim),
                    "annotations": wanted,
                },
                "spec": {"volumeName": pv.name},
            }
            claim = await self.client.persistentvolumeclaims.patch(
                claim.name, patch, claim.namespace
            )
        spec = pv.spec
        capacity = {k: v.canonical() for k, v in ((spec.capacity if spec else None) or {}).items()}
        modes = list((spec.access_modes if spec else None) or ())
        status = claim.status
        have_capacity = {
            k: v.canonical() for k, v in ((status.capacity if status else None) or {}).items()
        }
        if (
            _phase(claim) != BOUND
            or have_capacity != capacity
            or list((status.access_modes if status else None) or ()) != modes
        ):
            await self._claim_status(claim, BOUND, {"capacity": capacity, "accessModes": modes})

    async def _claim_status(
        self, claim: PersistentVolumeClaim, phase: str, extra: dict[str, Any] | None
    ) -> None:
        status: dict[str, Any] = {"phase": phase}
        if extra is not None:
            status.update(extra)
        elif phase != BOUND:
            status.update({"capacity": None, "accessModes": None})
        await self.client.persistentvolumeclaims.patch(
            claim.name, {"status": status}, claim.namespace, subresource="status"
        )

    async def _volume_status(
        self, pv: PersistentVolume, phase: str, reason: str = "", message: str = ""
    ) -> PersistentVolume:
        status = {
            "phase": phase,
            "reason": reason or None,
            "message": message or None,
            "lastPhaseTransitionTime": rfc3339(),
        }
        updated: PersistentVolume = await self.client.persistentvolumes.patch(
            pv.name, {"status": status}, subresource="status"
        )
        self.log.bind(volume=pv.name, phase=phase).info("volume phase")
        return updated

    async def sync_volume(self, pv: PersistentVolume) -> None:
        spec = pv.spec
        if spec is None:
            return
        ref = spec.claim_ref
        if ref is None or not ref.uid:
            # free, or pre-bound to a claim not yet made (or not yet bound)
            phase = _phase(pv)
            stale = phase == PENDING if ref is not None else phase not in (AVAILABLE, FAILED)
            if stale and not (pv.metadata and pv.metadata.deletion_timestamp):
                await self._volume_status(pv, AVAILABLE)
            return
        claim = await self._claim(ref.namespace or "", ref.name or "")
        if claim is not None and claim.metadata and claim.metadata.uid == ref.uid:
            volume_name = claim.spec.volume_name if claim.spec else None
            if volume_name == pv.name:
                if _phase(pv) != BOUND:
                    await self._volume_status(pv, BOUND)
            elif volume_name:
                # the claim went to another volume: give this one back if we took it
                if _annotations(pv).get(BOUND_BY_CONTROLLER):
                    await self._unbind(pv)
            elif _phase(pv) != BOUND:
                self.queue.add(CLAIM + claim.key())  # the claim's sync finishes the bind
            return
        # The claim is gone (or is another claim of the same name): Released, reclaim.
        if _phase(pv) not in (RELEASED, FAILED):
            pv = await self._volume_status(pv, RELEASED)
        if _phase(pv) == RELEASED:
            await self._reclaim(pv)

    async def _claim(self, namespace: str, name: str) -> PersistentVolumeClaim | None:
        """The claim, from the cache or (not there yet: the cache may lag a new claim)
        from the API server; None only when the API server says it is gone."""
        claim = self.claims.get(f"{namespace}/{name}")
        if claim is not None:
            return claim
        try:
            found: PersistentVolumeClaim = await self.client.persistentvolumeclaims.get(
                name, namespace
            )
        except NotFound:
            return None
        return found

    async def _unbind(self, pv: PersistentVolume) -> None:
        annotations = {BOUND_BY_CONTROLLER: None}
        patch = {
            "metadata": {
                "resourceVersion": _version(pv),
                "annotations": annotations,
            },
            "spec": {"claimRef": None},
        }
        pv = await self.client.persistentvolumes.patch(pv.name, patch)
        await self._volume_status(pv, AVAILABLE)

    async def _reclaim(self, pv: PersistentVolume) -> None:
        policy = (pv.spec.persistent_volume_reclaim_policy if pv.spec else None) or RECLAIM_RETAIN
        if policy == RECLAIM_RETAIN or (pv.metadata and pv.metadata.deletion_timestamp):
            return
        if policy == RECLAIM_DELETE:
            finalizers = (pv.metadata.finalizers if pv.metadata else None) or ()
            if LOCAL_PATH_CLEANUP_FINALIZER not in finalizers:
                await self._reclaim_failed(
                    pv,
                    "VolumeFailedDelete",
                    f'error getting deleter volume plugin for volume "{pv.name}": no deletable '
                    "volume plugin matched",
                )
                return
            try:
                await self.client.persistentvolumes.delete(
                    pv.name, uid=pv.metadata.uid if pv.metadata else None
                )
            except (NotFound, Conflict):
                return
            self.log.bind(volume=pv.name).info(
                "released volume deleted; its node removes the directory"
            )
            return
        await self._reclaim_failed(
            pv,
            "VolumeFailedRecycle",
            "Recycle is deprecated and not supported; use Delete or Retain",
        )

    async def _reclaim_failed(self, pv: PersistentVolume, reason: str, message: str) -> None:
        """Phase Failed with the reason, and the Warning Event kubectl describe shows."""
        await self._volume_status(pv, FAILED, reason, message)
        await self.context.recorder.record(pv, "Warning", reason, message)
