"""Recording Events about objects as Kubernetes' client-side event recorder does (the
scheduler's FailedScheduling, the agent's Pulling/Started/BackOff, the controllers'
SuccessfulCreate, ScalingReplicaSet, NodeNotReady …).

The API server stores an Event as it is given: the times, the count and who reported
it are the recorder's job (client-go's ``tools/record``), so an Event without them
shows ``<unknown>`` in ``kubectl get events`` and ``kubectl describe pod``.

The same reason for the same pod is one Event, not one per attempt: an unschedulable pod
is tried again whenever the cluster changes, and a container in a crash loop restarts
for hours: either would otherwise leave hundreds of Events. The first time, the Event is
created with ``count: 1``; after that it is patched with ``count + 1``, the new
``lastTimestamp`` and the latest message (the message changes as nodes come and go; the
reason does not). Like client-go, the recorder remembers the Events it made in a bounded
LRU cache, so a restarted component starts a new Event rather than reading the old ones;
a pod's entries go when it is bound (the scheduler) or deleted.
"""

from __future__ import annotations

import asyncio
import time
import uuid
import weakref
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

import attrs
from loguru import logger

from navarch.api.meta import TopLevel
from navarch.api.names import dns1123_subdomain
from navarch.client.client import Client
from navarch.client.errors import ApiException, NotFound
from navarch.redaction import redact_text

# client-go's event cache size: enough for every pod a scheduler has trouble with at
# once; the least recent are forgotten (and get a fresh Event if they come back).
MAX_REMEMBERED_PODS = 4096


def rfc3339_now() -> str:
    """Now in UTC to the second, as Kubernetes writes Event times: 2026-11-28T00:18:25Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@attrs.define
class _Recorded:
    name: str
    count: int


@attrs.define
class EventRecorder:
    """Creates, then counts up, the core/v1 Events about objects (pods, ReplicaSets,
    nodes …) that one component reports. An Event about a cluster-scoped object (a
    Node) lives in namespace ``default``, as Kubernetes keeps it.

    ``component`` goes into ``source.component`` and ``reportingComponent`` (the
    scheduler's name, ``default-scheduler``; ``navarch-agent``); ``instance`` into
    ``reportingInstance`` (which copy of it: ``socket.gethostname()`` for the scheduler,
    the node's name for an agent, which is also ``source.host``).
    """

    client: Client
    component: str
    instance: str
    host: str = ""
    # object (namespace, uid) -> (type, reason) -> the Event recorded; least recent first.
    _recorded: OrderedDict[tuple[str, str], dict[tuple[str, str], _Recorded]] = attrs.field(
        factory=OrderedDict, init=False
    )
    # One writer at a time per Event: two records of one reason at once (a controller
    # creating pods in a batch) would otherwise both create it, or count up from the
    # same count. Held only while in use (weak values).
    _locks: weakref.WeakValueDictionary[tuple[Any, ...], asyncio.Lock] = attrs.field(
        factory=weakref.WeakValueDictionary, init=False
    )
    # Event -> [records not written yet, the latest message]
    _pending: dict[tuple[Any, ...], list[Any]] = attrs.field(factory=dict, init=False)

    async def record(
        self,
        pod: TopLevel,
        type_: str,
        reason: str,
        message: str,
        *,
        action: str = "",
        about: str = "",
    ) -> None:
        """Record that ``reason`` happened to ``pod`` (or any object; best effort: a
        failure is logged at DEBUG, never raised, since the decision it describes
        stands anyway). ``about`` tells apart Events of one reason about different
        parts of the pod (the agent's "Started" of each container).

        Records of one Event that arrive while it is being written are written
        together, as one count-up with the latest message (a ReplicaSet creating 500
        pods at once writes its SuccessfulCreate Event a few times, not 500)."""
        message = redact_text(message)  # an error quoted in a message may carry a token
        pod_key = (_namespace(pod), _identity(pod))
        lock_key = (*pod_key, type_, reason + about)
        pending = self._pending.setdefault(lock_key, [0, message])
        pending[0] += 1
        pending[1] = message
        lock = self._locks.get(lock_key)
        if lock is None:
            lock = self._locks[lock_key] = asyncio.Lock()
        try:
            async with lock:
                batch = self._pending.pop(lock_key, None)
                if batch is None:
                    return  # written with an earlier record's batch
                count, message = batch
                now = rfc3339_now()
                seen = self._recorded.get(pod_key, {}).get((type_, reason + about))
                if seen is None or not await self._count_up(pod, seen, message, now, count):
                    name = await self._create(pod, type_, reason, message, action, now, count)
                    recorded = self._recorded.setdefault(pod_key, {})
                    recorded[(type_, reason + about)] = _Recorded(name, count)
        except ApiException as exc:
            logger.bind(
                component=self.component, pod=pod.key(), reason=reason, error=str(exc)
            ).debug("could not record event")
            return
        self._recorded.move_to_end(pod_key)
        while len(self._recorded) > MAX_REMEMBERED_PODS:
            self._recorded.popitem(last=False)

    def forget(self, pod: TopLevel) -> None:
        """The object is bound or gone: its Events will not be counted up again."""
        self._recorded.pop((_namespace(pod), _identity(pod)), None)

    def remembers(self, pod: TopLevel) -> bool:
        """Whether Events of the object are remembered (to be counted up)."""
        return (_namespace(pod), _identity(pod)) in self._recorded

    async def _count_up(
        self, pod: TopLevel, seen: _Recorded, message: str, now: str, count: int = 1
    ) -> bool:
        """Patch the existing Event; False when it is gone (deleted or expired)."""
        patch = {"count": seen.count + count, "lastTimestamp": now, "message": message}
        try:
            await self.client.events.patch(seen.name, patch, _namespace(pod))
        except NotFound:
            return False
        seen.count += count
        return True

    async def _create(
        self,
        pod: TopLevel,
        type_: str,
        reason: str,
        message: str,
        action: str,
        now: str,
        count: int = 1,
    ) -> str:
        name = event_name(pod.name, time.time_ns())
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": _namespace(pod)},
            "involvedObject": {
                "apiVersion": pod.API_VERSION,
                "kind": pod.KIND,
                "name": pod.name,
                **({"namespace": pod.namespace} if pod.namespace else {}),
                "uid": pod.metadata.uid if pod.metadata else None,
            },
            "reason": reason,
            "message": message,
            "type": type_,
            **({"action": action} if action else {}),
            "source": {"component": self.component, **({"host": self.host} if self.host else {})},
            "reportingComponent": self.component,
            "reportingInstance": self.instance,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": count,
        }
        await self.client.events.create(event, namespace=_namespace(pod))
        return name


def event_name(object_name: str, unix_nano: int) -> str:
    """An Event's name as client-go's recorder makes it (``GenerateEventName``): the
    object's name, ``.``, the time in hex nanoseconds. When that is not a valid name —
    an object named with 253 characters, the most a name may have, leaves no room for
    the suffix (kubernetes/kubernetes#127594) — a random UUID instead, so such an
    object still gets its Events."""
    name = f"{object_name}.{unix_nano:x}"
    return name if not dns1123_subdomain(name) else str(uuid.uuid4())


def _namespace(obj: TopLevel) -> str:
    return obj.namespace or "default"


def _identity(pod: TopLevel) -> str:
    """A pod recreated under the same name is another pod: it gets Events of its own."""
    uid = pod.metadata.uid if pod.metadata else None
    return uid or pod.name
