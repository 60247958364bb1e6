"""Control loops that still run inside the API server process, behind one interface.

They are controllers in all but location: each reads and writes only through the
generic storage, idempotently, so two API servers on one etcd running them at once do
no harm (a compare-and-swap decides), and they move to the controller manager when it
arrives without changing what they do.

* :class:`NamespaceFinalizer` empties a namespace marked for deletion, then removes its
  ``kubernetes`` finalizer, which lets the namespace go.
* :class:`PodGraceExpiry` removes pods whose grace period ended without their agent
  confirming that they stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Protocol

from loguru import logger

from navarch.apiserver import errors
from navarch.apiserver.objects import Obj, WriteContext, seconds_until
from navarch.apiserver.resources import BY_PATH, RESOURCES, Resource
from navarch.apiserver.storage import Storage
from navarch.apiserver.strategy import NAMESPACE_FINALIZER

log = logger.bind(component="apiserver")
NAMESPACES = BY_PATH[("", "v1", "namespaces")]
PODS = BY_PATH[("", "v1", "pods")]


class ControlLoop(Protocol):
    name: str

    async def run(self) -> None:
        """Run until cancelled; never return on an error (log it and go on)."""


class NamespaceFinalizer:
    name = "namespace-finalizer"

    def __init__(self, storage: Storage, interval: float = 1.0):
        self.storage = storage
        self.interval = interval

    async def run(self) -> None:
        while True:
            try:
                listed = await self.storage.list(NAMESPACES, "")
                for ns in listed["items"]:
                    if ns["metadata"].get("deletionTimestamp"):
                        await self.finalize(ns["metadata"]["name"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let the loop die
                log.bind(loop=self.name, error=repr(exc)).warning("namespace sweep failed")
            await asyncio.sleep(self.interval)

    async def finalize(self, namespace: str) -> bool:
        """Delete what is in ``namespace``; once it is empty, let the namespace go.
        Returns whether the namespace was released."""
        left = 0
        for res in RESOURCES:
            if not res.namespaced:
                continue
            listed = await self.storage.delete_collection(
                res, namespace, {"gracePeriodSeconds": 0} if res is not PODS else {}, None, None
            )
            left += len(listed["items"])
        if left:
            return False  # pods on nodes are stopping; look again on the next round

        def release(obj: Obj) -> Obj:
            spec = obj.setdefault("spec", {})
            spec["finalizers"] = [
                f for f in spec.get("finalizers") or [] if f != NAMESPACE_FINALIZER
            ]
            return obj

        try:
            await self.storage.guaranteed_update(
                NAMESPACES, "", namespace, release, WriteContext(subresource="finalize")
            )
        except errors.ApiError as exc:
            if exc.reason != "NotFound":
                raise
        log.bind(namespace=namespace).info("namespace emptied and released")
        return True


class PodGraceExpiry:
    name = "pod-grace-expiry"

    def __init__(self, storage: Storage, interval: float = 1.0):
        self.storage = storage
        self.interval = interval
        # (namespace, pod) -> (uid, monotonic deadline). The uid makes sure a pod created
        # later under the same name is never taken for the one whose time ran out.
        self.due: dict[tuple[str, str], tuple[str, float]] = {}
        storage.deletion_listeners.append(self._deleting)

    def _deleting(self, res: Resource, obj: Obj, removed: bool) -> None:
        if res is not PODS:
            return
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta.get("name", ""))
        if removed:
            self.due.pop(key, None)
        elif meta.get("deletionGracePeriodSeconds"):
            left = seconds_until(meta.get("deletionTimestamp", ""))
            self.due[key] = (meta.get("uid", ""), time.monotonic() + left)

    async def find_terminating(self) -> None:
        """Pick up pods already terminating (marked before this server started)."""
        listed = await self.storage.list(PODS, "")
        for item in listed["items"]:
            if item["metadata"].get("deletionTimestamp"):
                self._deleting(PODS, item, removed=False)

    async def run(self) -> None:
        await self.find_terminating()
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.expire()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let the sweeper die
                log.bind(loop=self.name, error=repr(exc)).warning("terminating-pod sweep failed")

    async def expire(self) -> int:
        now = time.monotonic()
        due = [(key, uid) for key, (uid, deadline) in self.due.items() if deadline <= now]
        for (namespace, name), uid in due:
            self.due.pop((namespace, name), None)
            options = {"gracePeriodSeconds": 0, "preconditions": {"uid": uid}}
            try:
                await self.storage.delete(PODS, namespace, name, options)
                log.bind(pod=f"{namespace}/{name}").info("grace period over: pod deleted")
            except errors.ApiError as exc:
                if exc.reason not in ("NotFound", "Conflict"):  # gone, or another pod now
                    log.bind(pod=f"{namespace}/{name}", error=exc.message).warning(
                        "could not expire pod"
                    )
        return len(due)


class LoopRunner:
    """Starts the loops as tasks and stops them."""

    def __init__(self, loops: list[ControlLoop]):
        self.loops = loops
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(loop.run(), name=loop.name) for loop in self.loops]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
