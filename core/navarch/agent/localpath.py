"""The agent's half of the local-path provisioner: removing a volume's directory from
this node's disk once its PersistentVolume is deleted.

The hand-off (see :mod:`navarch.controllers.localpath`): the provisioner creates each
local-path volume with the finalizer ``navarch.io/local-path-cleanup``; when a volume
whose claim is gone is reclaimed with policy Delete, the PV controller *deletes* the
PV, which therefore stays, Terminating, with that finalizer. This loop, on the node the
volume's node affinity names, sees a local-path PV being deleted and

1. removes the directory when the policy is Delete (a Retain volume deleted by hand
   keeps its data: Kubernetes never deletes a retained volume's data),
2. then removes the finalizer with the PV's resourceVersion as precondition.

Nothing is deleted twice or lost: removing an absent directory is a no-op, so a crash
between 1 and 2 just repeats 1; the PV object goes only after its directory; an agent
that is down leaves the PV Terminating until it is back, when the first listing finds
it. Only a directory named ``<pv>_<namespace>_<claim>`` — the name the provisioner
gives it — below ``base_dir`` (when set), of a volume annotated as the provisioner's
(``pv.kubernetes.io/provisioned-by``), is removed, never anything a PV's path could
otherwise name.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import weakref
from pathlib import PurePosixPath
from typing import Any

from loguru import logger

from navarch.api.core_v1_storage import RECLAIM_DELETE, PersistentVolume
from navarch.api.volume_binding import (
    LOCAL_PATH_CLEANUP_FINALIZER,
    LOCAL_PATH_PROVISIONER,
    PROVISIONED_BY,
    pinned_node,
)
from navarch.client import Client
from navarch.client.errors import Conflict, NotFound
from navarch.client.informer import Informer

RESYNC_SECONDS = 30.0


def owned_directory(pv: PersistentVolume, base_dir: str | None) -> str | None:
    """The directory the provisioner made for ``pv``, or None when the PV's path is not
    one (a PV made by hand with the finalizer, a path outside ``base_dir``)."""
    annotations = (pv.metadata.annotations if pv.metadata else None) or {}
    if annotations.get(PROVISIONED_BY) != LOCAL_PATH_PROVISIONER:
        return None  # the provisioner annotates every volume it makes
    source = pv.spec.host_path if pv.spec else None
    ref = pv.spec.claim_ref if pv.spec else None
    if source is None or not source.path or ref is None:
        return None
    path = PurePosixPath(source.path)
    if not path.is_absolute() or ".." in path.parts:
        return None
    if path.name != f"{pv.name}_{ref.namespace}_{ref.name}":
        return None
    if base_dir is not None and path.parent != PurePosixPath(base_dir):
        return None
    return str(path)


def _terminating_here(pv: Any) -> str | None:
    """The node whose agent must finish ``pv``'s deletion now, if any."""
    meta = pv.metadata
    if meta and meta.deletion_timestamp and LOCAL_PATH_CLEANUP_FINALIZER in (meta.finalizers or ()):
        return pinned_node(pv)
    return None


class _SharedVolumes:
    """One watch of PersistentVolumes for every agent of a process (``--simulate``
    runs hundreds on one client: a watch each would hold a connection each), waking
    only the agent of the node a changed volume is pinned to."""

    def __init__(self, client: Client):
        self.informer = Informer(client.persistentvolumes)
        self.informer.add_handler(
            on_add=self._changed, on_update=lambda old, new: self._changed(new)
        )
        self.wakes: dict[str, asyncio.Event] = {}
        self.task: asyncio.Task[None] | None = None

    def _changed(self, pv: Any) -> None:
        node = _terminating_here(pv)
        wake = self.wakes.get(node) if node else None
        if wake is not None:
            wake.set()

    def join(self, node: str, wake: asyncio.Event) -> None:
        self.wakes[node] = wake
        if self.task is None:
            self.task = asyncio.create_task(self.informer.run(), name="volumes informer")

    def leave(self, node: str) -> bool:
        """Whether that was the last agent (the watch is then stopped)."""
        self.wakes.pop(node, None)
        if self.wakes or self.task is None:
            return False
        self.task.cancel()
        self.task = None
        return True


_SHARED: weakref.WeakKeyDictionary[Client, _SharedVolumes] = weakref.WeakKeyDictionary()


class LocalPathCleaner:
    """Finishes the deletion of this node's local-path volumes (``passes`` counts the
    looks it took, for tests waiting on proof)."""

    def __init__(self, client: Client, node_name: str, base_dir: str | None = None):
        self.client = client
        self.node_name = node_name
        self.base_dir = base_dir
        self.wake = asyncio.Event()
        self.passes = 0
        self.log = logger.bind(component="agent", node=node_name, loop="local-path")

    async def run(self) -> None:
        shared = _SHARED.get(self.client)
        if shared is None:
            shared = _SHARED[self.client] = _SharedVolumes(self.client)
        shared.join(self.node_name, self.wake)
        try:
            await shared.informer.wait_synced()
            while True:
                # cleared before looking, so a change during the pass wakes the next one
                self.wake.clear()
                for pv in shared.informer.list():
                    if _terminating_here(pv) != self.node_name:
                        continue
                    try:
                        await self.clean(pv)
                    except Exception as exc:  # one volume's trouble never stops the loop
                        # retried on the next pass: the PV keeps its finalizer meanwhile
                        self.log.bind(volume=pv.name, error=repr(exc)).warning(
                            "local-path clean-up failed; retrying"
                        )
                self.passes += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), RESYNC_SECONDS)
        finally:
            if shared.leave(self.node_name):
                _SHARED.pop(self.client, None)

    async def clean(self, pv: PersistentVolume) -> None:
        policy = pv.spec.persistent_volume_reclaim_policy if pv.spec else None
        directory = owned_directory(pv, self.base_dir)
        log = self.log.bind(volume=pv.name, path=directory, policy=policy)
        if policy == RECLAIM_DELETE:
            if directory is None:
                log.warning("not a directory the local-path provisioner made: left in place")
            else:
                await asyncio.to_thread(_remove, directory)
                log.info("volume directory removed")
        meta = pv.metadata
        remaining = [
            f
            for f in (meta.finalizers if meta else None) or ()
            if f != LOCAL_PATH_CLEANUP_FINALIZER
        ]
        patch = {
            "metadata": {
                "resourceVersion": meta.resource_version if meta else None,
                "finalizers": remaining or None,
            }
        }
        try:
            await self.client.persistentvolumes.patch(pv.name, patch)
        except (NotFound, Conflict):
            return  # gone, or changed: the change brings it back here
        log.info("local-path finalizer removed")


def _remove(directory: str) -> None:
    """Remove the tree (symbolic links inside are removed, never followed); one
    already gone is what was wanted."""
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(directory)
