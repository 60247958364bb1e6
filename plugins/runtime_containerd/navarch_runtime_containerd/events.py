"""containerd's events: the stream of what happens to tasks, read for the two events a
runtime cannot learn as well by asking: a process's exit (at once, rather than at the
next status poll) and an out-of-memory kill (containerd's task status has no such
field; the shim publishes ``/tasks/oom`` when the container's cgroup counts one).

A subscription names topics and the namespace in containerd's filter syntax (each
filter a conjunction, the filters alternatives); the stream runs until cancelled or
until containerd goes away, when iterating raises :class:`~navarch.runtime.errors.
Unavailable` and the caller subscribes again (and reconciles: events sent while
nobody listened are not replayed).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import attrs
import grpc

from navarch_runtime_containerd import convert
from navarch_runtime_containerd._proto import containerd_subset_pb2 as pb
from navarch_runtime_containerd.connection import ContainerdConnection

TOPIC_EXIT = "/tasks/exit"
TOPIC_OOM = "/tasks/oom"
_SUBSCRIBE = "/containerd.services.events.v1.Events/Subscribe"
# An event stream stays open: no deadline.
_FOREVER = 10 * 365 * 86400.0


@attrs.frozen
class TaskEvent:
    """An exit (``topic`` TOPIC_EXIT: ``exec_id`` "" for the task's own process) or an
    out-of-memory kill (TOPIC_OOM) in container ``container_id``."""

    topic: str
    container_id: str
    exec_id: str = ""
    exit_status: int = 0
    exited_at: float | None = None


class EventCalls(ContainerdConnection):
    """The Events service."""

    async def task_events(self) -> AsyncGenerator[TaskEvent, None]:
        """Exits and OOM kills in this client's namespace, as they happen."""
        namespace = f"namespace=={self.namespace}"
        filters = [f'{namespace},topic=="{topic}"' for topic in (TOPIC_EXIT, TOPIC_OOM)]
        request = pb.SubscribeRequest(filters=filters)
        call = self._channel_for().unary_stream(
            _SUBSCRIBE,
            request_serializer=pb.SubscribeRequest.SerializeToString,
            response_deserializer=pb.Envelope.FromString,
        )(request, timeout=_FOREVER, metadata=self._metadata())
        try:
            async for envelope in call:
                event = _task_event(envelope)
                if event is not None:
                    yield event
        except grpc.aio.AioRpcError as exc:
            raise self._error(exc, "events.Subscribe", "events", self.namespace) from None
        finally:
            call.cancel()


def _task_event(envelope: Any) -> TaskEvent | None:
    if envelope.topic == TOPIC_EXIT:
        raw = pb.TaskExitEvent.FromString(envelope.event.value)
        exec_id = "" if raw.id == raw.container_id else raw.id
        return TaskEvent(
            TOPIC_EXIT,
            raw.container_id,
            exec_id,
            int(raw.exit_status),
            convert.seconds(raw.exited_at),
        )
    if envelope.topic == TOPIC_OOM:
        return TaskEvent(TOPIC_OOM, pb.TaskOOMEvent.FromString(envelope.event.value).container_id)
    return None
