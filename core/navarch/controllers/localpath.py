"""The built-in local-path provisioner (k3s's model): a claim of a class whose
provisioner is ``navarch.io/local-path`` gets a volume that is a directory on one node.

For a claim of a WaitForFirstConsumer class (the default ``local-path`` class) the node
is the one the scheduler chose for the claim's first pod (the claim's
``volume.kubernetes.io/selected-node`` annotation); for an Immediate class the
provisioner chooses, at once, the Ready node holding the fewest local-path volumes. It
creates the PersistentVolume ``pvc-<claim uid>``:

* ``hostPath: {path: <base_dir>/<pv>_<namespace>_<claim>, type: DirectoryOrCreate}``
  (the agent creates the directory when the first pod mounts it),
* node affinity ``kubernetes.io/hostname In [<node>]`` (the scheduler keeps every later
  pod of the claim on that node),
* the claim's request as capacity, its access modes, the class's reclaim policy,
* ``claimRef`` naming the claim with its uid, so the PV controller binds exactly that
  claim to it (:mod:`navarch.controllers.pvbinder`),
* the finalizer ``navarch.io/local-path-cleanup``, which the node's agent removes once
  it has removed the directory (Delete) or left it (Retain): the PV object never goes
  before its data, and an agent that is down finishes the job when it is back
  (:mod:`navarch.agent.localpath`).

The name is the claim's uid, so a provisioner restarted mid-way, or two of them, make
one volume (the second create is AlreadyExists). The ``local-path`` StorageClass (the
default class, as k3s ships it) is created at start when missing; an administrator's
changes to it are left alone.
"""

from __future__ import annotations

from typing import Any

import attrs

from navarch.api.core_v1_storage import PersistentVolumeClaim
from navarch.api.storage_v1 import (
    BINDING_WAIT_FOR_FIRST_CONSUMER,
    DEFAULT_CLASS_ANNOTATION,
    StorageClass,
)
from navarch.api.volume_binding import (
    HOSTNAME_LABEL,
    LOCAL_PATH_CLASS,
    LOCAL_PATH_CLEANUP_FINALIZER,
    LOCAL_PATH_PROVISIONER,
    PROVISIONED_BY,
    SELECTED_NODE,
    claim_class,
    pinned_node,
)
from navarch.client.errors import AlreadyExists
from navarch.controllers.base import QueueController
from navarch.controllers.context import ControllerContext

NAME = "local-path-provisioner"
DEFAULT_BASE_DIR = "/var/lib/navarch/storage"


@attrs.frozen(kw_only=True)
class LocalPathOptions:
    base_dir: str = attrs.field(
        default=DEFAULT_BASE_DIR,
        metadata={
            "help": "The directory on the nodes under which local-path volumes are made "
            "(each volume's path is fixed in its PV: a change affects new volumes only)."
        },
    )
    default_class: bool = attrs.field(
        default=True,
        metadata={"help": "Create the local-path StorageClass, marked default, when missing."},
    )


def local_path_class() -> dict[str, Any]:
    """The class k3s ships: WaitForFirstConsumer, Delete, the cluster's default."""
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": LOCAL_PATH_CLASS,
            "annotations": {DEFAULT_CLASS_ANNOTATION: "true"},
        },
        "provisioner": LOCAL_PATH_PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": BINDING_WAIT_FOR_FIRST_CONSUMER,
    }


def volume_name(claim: PersistentVolumeClaim) -> str:
    return f"pvc-{claim.metadata.uid}"  # type: ignore[union-attr]


def volume_for(
    claim: PersistentVolumeClaim, storage_class: StorageClass, node: str, base_dir: str
) -> dict[str, Any]:
    """The PersistentVolume the provisioner makes for ``claim`` on ``node``."""
    name = volume_name(claim)
    meta = claim.metadata
    spec = claim.spec
    storage = claim.requested_storage()
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": name,
            "annotations": {PROVISIONED_BY: LOCAL_PATH_PROVISIONER},
            "finalizers": [LOCAL_PATH_CLEANUP_FINALIZER],
        },
        "spec": {
            "capacity": {"storage": storage.canonical() if storage else "0"},
            "accessModes": list((spec.access_modes if spec else None) or ()),
            "persistentVolumeReclaimPolicy": storage_class.reclaim_policy or "Delete",
            "storageClassName": storage_class.name,
            "volumeMode": "Filesystem",
            "hostPath": {
                "path": f"{base_dir.rstrip('/')}/{name}_{claim.namespace}_{claim.name}",
                "type": "DirectoryOrCreate",
            },
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": HOSTNAME_LABEL, "operator": "In", "values": [node]}
                            ]
                        }
                    ]
                }
            },
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": claim.namespace,
                "name": claim.name,
                "uid": meta.uid if meta else None,
                "resourceVersion": meta.resource_version if meta else None,
            },
        },
    }


def _ready(node: Any) -> bool:
    conditions = (node.status.conditions if node.status else None) or ()
    return any(c.type == "Ready" and c.status == "True" for c in conditions) and not (
        node.spec and node.spec.unschedulable
    )


class LocalPathProvisioner(QueueController):
    def __init__(self, context: ControllerContext):
        super().__init__(context)
        self.options: LocalPathOptions = context.options or LocalPathOptions()
        self.claims = context.informers.informer("persistentvolumeclaims")
        self.volumes = context.informers.informer("persistentvolumes")
        self.classes = context.informers.informer("storageclasses")
        self.nodes = context.informers.informer("nodes")
        self.claims.add_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new))
        self.classes.add_handler(
            on_add=lambda sc: self._all_claims(), on_update=lambda old, new: self._all_claims()
        )
        # An Immediate claim waiting for a Ready node.
        self.nodes.add_handler(on_add=lambda node: self._all_claims(), on_update=self._node_updated)

    def _all_claims(self) -> None:
        for claim in self.claims.list():
            self.enqueue(claim)

    def _node_updated(self, old: Any, new: Any) -> None:
        if _ready(new) and not _ready(old):
            self._all_claims()

    async def run(self) -> None:
        if self.options.default_class:
            await self.ensure_class()
        await super().run()

    async def ensure_class(self) -> None:
        try:
            await self.client.storageclasses.create(local_path_class())
        except AlreadyExists:
            return
        self.log.bind(storage_class=LOCAL_PATH_CLASS).info("default storage class created")

    async def sync(self, key: str) -> float | None:
        claim = self.claims.get(key)
        if claim is None or claim.spec is None or claim.spec.volume_name:
            return None
        if claim.metadata and claim.metadata.deletion_timestamp:
            return None
        storage_class = self.classes.get(claim_class(claim)) if claim_class(claim) else None
        if storage_class is None or storage_class.provisioner != LOCAL_PATH_PROVISIONER:
            return None
        if self.volumes.get(volume_name(claim)) is not None:
            return None  # made already; the binder binds it
        annotations = (claim.metadata.annotations if claim.metadata else None) or {}
        if storage_class.volume_binding_mode == BINDING_WAIT_FOR_FIRST_CONSUMER:
            node = annotations.get(SELECTED_NODE)
            if not node:
                return None  # the scheduler has not chosen yet
        else:
            node = self._least_used_node()
            if node is None:
                self.log.bind(claim=key).info("no Ready node to provision on yet")
                return None
        body = volume_for(claim, storage_class, node, self.options.base_dir)
        try:
            await self.client.persistentvolumes.create(body)
        except AlreadyExists:
            return None
        self.log.bind(claim=key, volume=body["metadata"]["name"], node=node).info(
            "volume provisioned"
        )
        await self.context.recorder.record(
            claim,
            "Normal",
            "ProvisioningSucceeded",
            f"Successfully provisioned volume {body['metadata']['name']}",
        )
        return None

    def _least_used_node(self) -> str | None:
        ready = sorted(node.name for node in self.nodes.list() if _ready(node))
        if not ready:
            return None
        used = dict.fromkeys(ready, 0)
        for pv in self.volumes.list():
            node = pinned_node(pv)
            if node in used:
                used[node] += 1
        return min(ready, key=lambda name: (used[name], name))
