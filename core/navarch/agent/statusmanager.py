"""The agent's status manager (the kubelet's ``pkg/kubelet/status``): the one place
that writes the pod statuses this agent reports.

Pod workers :meth:`~StatusManager.set` the status they computed and go on; writers
in the background write it to the API server, coalesced (ten changes before a
writer gets to a pod: one write, of the latest), under one token bucket for the
whole agent, retried on conflict with a fresh copy of the pod.

*Merging.* A write starts from the API server's copy of the status, not from the
agent's: the conditions the agent owns (:data:`OWNED_CONDITIONS`) are the agent's,
every other condition (PodScheduled from the scheduler, DisruptionTarget, a
readiness gate's …) is the server's, and fields the agent never sets stay as they
are. The write carries the copy's resourceVersion, so a writer racing it conflicts
and the merge is done again on what it wrote.

*Reconciling.* Other writers change the status behind the agent's back. The
node-lifecycle controller marks every pod of a silent node Ready=False; when the
node comes back (a network blip, an agent paused by SIGSTOP), nothing the agent
computes has changed, so comparing with its own last write finds nothing to do and
the pods stay not Ready for ever. So the manager also compares the server's copy
with what the server answered to its last write, looking only at what the agent
writes — worked example:

* the agent wrote Ready=True; the server answered rv 10 with Ready=True;
* the node-lifecycle controller patches Ready=False: rv 14 reaches the agent's watch;
* ``reconcile`` sees rv 14 > 10 and Ready differs from the answer: the pod is queued;
* the write merges Ready=True (its transition time now: it did change) onto rv 14.

An echo of an older write (rv below the last answer) is never a difference, and a
change to fields the agent does not write is none either. Besides the watch's
updates, every pod is looked at again every ``reconcile_seconds`` against the
informer's copy (the kubelet's syncBatch), for an update the watch never delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from loguru import logger

from navarch.api.timefmt import rfc3339
from navarch.client import Client
from navarch.client.errors import ApiException, Conflict, NotFound
from navarch.controllers.workqueue import TokenBucket, WorkQueue

# The kubelet's own conditions (kubeletOwnsCondition); PodScheduled is the scheduler's.
OWNED_CONDITIONS = frozenset({"Initialized", "Ready", "ContainersReady"})
CONFLICT_RETRIES = 5
WRITERS = 4


@attrs.define
class _Entry:
    """One pod's status as the agent wants it, and what became of its writes."""

    namespace: str
    name: str
    status: dict[str, Any]
    # The server's answer to the last write (the pod as written): what the server's
    # copy holds as long as nobody else writes.
    answered: Any | None = None
    dirty: bool = True
    lock: asyncio.Lock = attrs.field(factory=asyncio.Lock)


class StatusConflict(Exception):
    """Every attempt to write a pod's status conflicted with another writer."""


@attrs.define(eq=False)
class StatusManager:
    client: Client
    # The informer's copy of a pod by ``namespace/name`` (None: not bound here).
    cached: Callable[[str], Any | None]
    node_name: str = ""
    writes_per_second: float = 50.0  # the kubelet's kubeAPIQPS / kubeAPIBurst defaults
    write_burst: int = 100
    reconcile_seconds: float = 10.0
    _entries: dict[str, _Entry] = attrs.field(factory=dict)
    _queue: WorkQueue = attrs.field(init=False)
    _bucket: TokenBucket = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        # Retries back off per pod (from 0.2 s); the token bucket paces every write.
        self._queue = WorkQueue("pod-status", base_delay=0.2, max_delay=30.0)
        self._bucket = TokenBucket(self.writes_per_second, self.write_burst)

    @property
    def log(self) -> Any:
        return logger.bind(component="agent", node=self.node_name)

    # --- what the workers call ------------------------------------------------------

    def get(self, uid: str) -> dict[str, Any] | None:
        """The status the agent last set for the pod (fresher than the watch's copy)."""
        entry = self._entries.get(uid)
        return entry.status if entry is not None else None

    def set(self, pod: Any, status: dict[str, Any]) -> None:
        """The pod's status is now ``status``: written soon, unless nothing changed."""
        uid = pod.metadata.uid
        entry = self._entries.get(uid)
        if entry is not None and entry.status == status:
            return  # coalesced: one write per change, not per sync
        if entry is None:
            entry = _Entry(pod.metadata.namespace, pod.metadata.name, status)
            self._entries[uid] = entry
        entry.status, entry.dirty = status, True
        self._queue.add(uid)

    def reconcile(self, pod: Any) -> None:
        """The server's copy of the pod changed: queue a write if it no longer shows
        what the agent wrote (another writer changed it)."""
        uid = pod.metadata.uid
        entry = self._entries.get(uid)
        if entry is None or entry.dirty or entry.answered is None:
            return  # nothing written yet, or a write is queued anyway
        if _version(pod) <= _version(entry.answered):
            return  # our own write coming back, or an older one
        answered = _status_of(entry.answered)
        if _owned(_status_of(pod), entry.status) != _owned(answered, entry.status):
            self.log.bind(pod=f"{entry.namespace}/{entry.name}").info(
                "pod status changed by another writer; writing the agent's again"
            )
            entry.dirty = True
            self._queue.add(uid)

    async def flush(self, uid: str) -> None:
        """Write the pod's status now if it is not written yet (before the pod's
        deletion is confirmed: its final status must be on the object first)."""
        entry = self._entries.get(uid)
        if entry is not None and entry.dirty:
            with contextlib.suppress(ApiException, StatusConflict):
                await self._write(uid)

    def forget(self, uid: str) -> None:
        """The pod's worker is done: nothing more is written for it."""
        self._entries.pop(uid, None)
        self._queue.forget(uid)

    def holds(self, uid: str) -> bool:
        return uid in self._entries

    # --- the writers ----------------------------------------------------------------

    async def run(self) -> None:
        """Write queued statuses and look at every pod again now and then, until
        cancelled."""
        tasks = [asyncio.create_task(self._writer()) for _ in range(WRITERS)]
        tasks.append(asyncio.create_task(self._reconcile_loop()))
        try:
            await asyncio.gather(*tasks)
        finally:
            self._queue.shut_down()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _writer(self) -> None:
        while True:
            uid = await self._queue.get()
            try:
                await self._write(uid)
            except (ApiException, StatusConflict) as exc:
                self.log.bind(uid=uid, error=str(exc)).warning(
                    "pod status write failed; will retry"
                )
                self._queue.add_rate_limited(uid)
            except Exception as exc:  # one pod's bug must not stop the writer
                self.log.bind(uid=uid, error=repr(exc)).opt(exception=exc).error(
                    "pod status write failed"
                )
                self._queue.add_rate_limited(uid)
            else:
                self._queue.forget(uid)
            finally:
                self._queue.done(uid)

    async def _reconcile_loop(self) -> None:
        while True:
            await asyncio.sleep(self.reconcile_seconds)
            for entry in list(self._entries.values()):
                pod = self.cached(f"{entry.namespace}/{entry.name}")
                if pod is not None and pod.metadata.uid in self._entries:
                    self.reconcile(pod)

    async def _write(self, uid: str) -> None:
        entry = self._entries.get(uid)
        if entry is None:
            return
        async with entry.lock:
            if not entry.dirty:
                return
            pod = self._base(uid, entry)
            for _ in range(CONFLICT_RETRIES):
                if pod is None:
                    try:
                        pod = await self.client.pods.get(entry.name, entry.namespace)
                    except NotFound:
                        return  # deleted meanwhile; the watch will say so
                if pod.metadata.uid != uid:
                    return  # another pod of the same name: not ours to write
                desired = entry.status
                server = _status_of(pod)
                merged = merge(server, desired)
                _keep_transitions(desired, merged)
                if _owned(merged, desired) == _owned(server, desired):
                    self._answered(entry, desired, pod)
                    return  # the server already shows it
                await asyncio.sleep(self._bucket.reserve())
                body = {
                    "metadata": {"resourceVersion": pod.metadata.resource_version},
                    "status": merged,
                }
                try:
                    written = await self.client.pods.patch(
                        entry.name, body, entry.namespace, subresource="status"
                    )
                except Conflict:
                    pod = None  # someone wrote meanwhile: merge again onto theirs
                    continue
                except NotFound:
                    return
                self._answered(entry, desired, written)
                self.log.bind(
                    pod=f"{entry.namespace}/{entry.name}", phase=merged.get("phase")
                ).debug("pod status written")
                return
            raise StatusConflict(f"{CONFLICT_RETRIES} conflicts in a row")

    def _answered(self, entry: _Entry, desired: dict[str, Any], pod: Any) -> None:
        entry.answered = pod
        # Set again while the write was under way: stays dirty for the next write.
        entry.dirty = entry.status is not desired

    def _base(self, uid: str, entry: _Entry) -> Any | None:
        """The freshest copy of the pod known without asking: the informer's, or the
        answer to the agent's last write when that is newer (its watch event not here
        yet). None: ask the server."""
        cached = self.cached(f"{entry.namespace}/{entry.name}")
        if cached is not None and cached.metadata.uid != uid:
            cached = None
        known = [p for p in (cached, entry.answered) if p is not None]
        return max(known, key=_version) if known else None


def merge(server: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The status to write: the server's, with every field the agent sets taken from
    ``desired``; of the conditions, those the agent owns are its own (a changed one
    transitions now), the others stay the server's."""
    merged = {**server, **desired}
    theirs = {c.get("type"): c for c in server.get("conditions") or ()}
    conditions = []
    for condition in desired.get("conditions") or ():
        kind = condition.get("type")
        if kind not in OWNED_CONDITIONS:
            conditions.append(dict(theirs.get(kind) or condition))
            continue
        other = theirs.get(kind)
        if other is not None and other.get("status") != condition.get("status"):
            condition = {**condition, "lastTransitionTime": rfc3339()}
        conditions.append(dict(condition))
    mentioned = {c.get("type") for c in conditions}
    conditions += [dict(c) for kind, c in theirs.items() if kind not in mentioned]
    merged["conditions"] = conditions
    return merged


def _keep_transitions(desired: dict[str, Any], merged: Mapping[str, Any]) -> None:
    """A condition the merge found changed on the server transitions now: the
    agent's copy keeps that time, so later statuses computed from it carry it too."""
    written = {c.get("type"): c for c in merged.get("conditions") or ()}
    for condition in desired.get("conditions") or ():
        kind = condition.get("type")
        if kind in OWNED_CONDITIONS and kind in written:
            since = written[kind].get("lastTransitionTime")
            if since:
                condition["lastTransitionTime"] = since


def _owned(status: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> dict[str, Any]:
    """What of ``status`` the agent writes: the fields ``desired`` has, and of the
    conditions the owned ones (type and status: a transition time the server
    reformatted is no difference)."""
    status = status or {}
    owned = {k: status.get(k) for k in desired if k != "conditions"}
    owned["conditions"] = sorted(
        (c.get("type"), c.get("status"), c.get("reason") or "")
        for c in status.get("conditions") or ()
        if c.get("type") in OWNED_CONDITIONS
    )
    return owned


def _status_of(pod: Any) -> dict[str, Any]:
    status = pod.status
    return status.to_dict() if status is not None else {}


def _version(pod: Any) -> int:
    try:
        return int(pod.metadata.resource_version or -1)
    except ValueError:
        return -1
