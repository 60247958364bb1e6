"""Storage object in-use protection (Kubernetes' pvc-protection and pv-protection
controllers): a deleted claim stays, Terminating, while a pod still uses it; a deleted
volume stays while it is bound to a claim. Each kind's strategy added its finalizer on
create (:mod:`navarch.resources.core.storage`); this loop removes it once the object is
being deleted and nothing uses it any more.

A pod uses a claim while it names it in a volume and has not finished (phase Succeeded
or Failed): the pod's containers may still write until then. The pods in the cache may
lag a pod just created, so before letting a claim go the pods of its namespace are
listed from the API server (Kubernetes' "live" check).
"""

from __future__ import annotations

from typing import Any

from navarch.api.core_v1 import Pod
from navarch.api.core_v1_storage import BOUND, PersistentVolume, PersistentVolumeClaim
from navarch.api.volume_binding import claim_keys_of
from navarch.client.errors import Conflict, NotFound
from navarch.controllers.base import QueueController
from navarch.controllers.context import ControllerContext
from navarch.resources.core.storage import PV_PROTECTION_FINALIZER, PVC_PROTECTION_FINALIZER

NAME = "volume-protection"
CLAIM, VOLUME = "claim:", "volume:"


def uses(pod: Pod, claim_key: str) -> bool:
    phase = pod.status.phase if pod.status else None
    return phase not in ("Succeeded", "Failed") and claim_key in claim_keys_of(pod)


def _finalizers(obj: Any) -> list[str]:
    return list((obj.metadata.finalizers if obj.metadata else None) or ())


def _deleting(obj: Any) -> bool:
    return bool(obj.metadata and obj.metadata.deletion_timestamp)


class VolumeProtection(QueueController):
    def __init__(self, context: ControllerContext):
        super().__init__(context)
        self.claims = context.informers.informer("persistentvolumeclaims")
        self.volumes = context.informers.informer("persistentvolumes")
        self.pods = context.informers.informer("pods")
        self.claims.add_handler(on_add=self._claim, on_update=lambda old, new: self._claim(new))
        self.volumes.add_handler(on_add=self._volume, on_update=lambda old, new: self._volume(new))
        # A pod finishing or going may free the claims it used.
        self.pods.add_handler(on_update=lambda old, new: self._pod(new), on_delete=self._pod)

    def _claim(self, claim: PersistentVolumeClaim) -> None:
        if _deleting(claim) and PVC_PROTECTION_FINALIZER in _finalizers(claim):
            self.queue.add(CLAIM + claim.key())

    def _volume(self, pv: PersistentVolume) -> None:
        if _deleting(pv) and PV_PROTECTION_FINALIZER in _finalizers(pv):
            self.queue.add(VOLUME + pv.name)

    def _pod(self, pod: Pod) -> None:
        for key in claim_keys_of(pod):
            claim = self.claims.get(key)
            if claim is not None:
                self._claim(claim)

    async def sync(self, key: str) -> float | None:
        if key.startswith(CLAIM):
            claim = self.claims.get(key.removeprefix(CLAIM))
            if claim is not None:
                await self._sync_claim(claim)
        else:
            pv = self.volumes.get(key.removeprefix(VOLUME))
            if pv is not None:
                await self._sync_volume(pv)
        return None

    async def _sync_claim(self, claim: PersistentVolumeClaim) -> None:
        if not _deleting(claim) or PVC_PROTECTION_FINALIZER not in _finalizers(claim):
            return
        key = claim.key()
        if any(uses(pod, key) for pod in self.pods.list()):
            return  # a pod's change or deletion brings the claim back
        listed = await self.client.pods.list(claim.namespace)
        if any(uses(pod, key) for pod in listed.items):
            return
        await self._release(self.client.persistentvolumeclaims, claim, PVC_PROTECTION_FINALIZER)

    async def _sync_volume(self, pv: PersistentVolume) -> None:
        if not _deleting(pv) or PV_PROTECTION_FINALIZER not in _finalizers(pv):
            return
        if (pv.status.phase if pv.status else None) == BOUND:
            return  # its claim's deletion releases it first
        await self._release(self.client.persistentvolumes, pv, PV_PROTECTION_FINALIZER)

    async def _release(self, resource: Any, obj: Any, finalizer: str) -> None:
        remaining = [f for f in _finalizers(obj) if f != finalizer]
        patch = {
            "metadata": {
                "resourceVersion": obj.metadata.resource_version,
                "finalizers": remaining or None,
            }
        }
        try:
            if obj.NAMESPACED:
                await resource.patch(obj.name, patch, obj.namespace)
            else:
                await resource.patch(obj.name, patch)
        except (NotFound, Conflict):
            return  # gone, or changed: the change brings it back
        self.log.bind(key=obj.key(), finalizer=finalizer).info("protection finalizer removed")
