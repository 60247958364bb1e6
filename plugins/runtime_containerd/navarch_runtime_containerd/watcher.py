"""The runtime's listener on containerd's task events: one subscription per runtime,
kept open for its life and opened again whenever containerd goes away and comes back.

Events sent while nobody listened are not replayed, so after every (re)subscription
``reconcile`` runs: the runtime looks at its tasks once, as a status poll would, and
the two ways of learning an exit meet in the same idempotent handler.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from loguru import logger

from navarch.runtime.errors import RuntimeFault
from navarch_runtime_containerd.events import TOPIC_EXIT, TOPIC_OOM, EventCalls, TaskEvent

# Wait between subscription attempts while containerd is away, doubling to the cap.
RETRY_FIRST = 0.2
RETRY_CAP = 5.0

Handler = Callable[[TaskEvent], Awaitable[None]]


class TaskEventWatcher:
    """Calls ``on_exit`` for each exit of a task's own process and ``on_oom`` for each
    out-of-memory kill, one event at a time, in order; ``reconcile`` after each
    subscription. A handler's failure is logged and the stream goes on."""

    def __init__(
        self,
        client: EventCalls,
        *,
        on_exit: Handler,
        on_oom: Handler,
        reconcile: Callable[[], Awaitable[None]],
    ):
        self._client = client
        self._handlers = {TOPIC_EXIT: on_exit, TOPIC_OOM: on_oom}
        self._reconcile = reconcile
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()
        self._log = logger.bind(containerd=client.address, namespace=client.namespace)

    def start(self) -> None:
        """Start listening (once; later calls do nothing)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="containerd-task-events")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        delay = RETRY_FIRST
        while True:
            try:
                await self._listen()
                self._log.info("containerd ended the event stream; subscribing again")
            except RuntimeFault as exc:
                self.subscribed.clear()
                self._log.bind(error=exc.message).debug("no event stream; retrying")
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_CAP)
                continue
            delay = RETRY_FIRST

    async def _listen(self) -> None:
        events = self._client.task_events()
        # containerd sends nothing to confirm a subscription, yet exits may happen
        # before it is in place: start reading, give the call a moment to reach the
        # server, then reconcile (twice-seen exits are harmless).
        first = asyncio.ensure_future(anext(events))
        try:
            await asyncio.wait({first}, timeout=0.05)
            self.subscribed.set()
            await self._safely(self._reconcile, "reconcile")
            event = await first
            while True:
                await self._dispatch(event)
                event = await anext(events)
        except StopAsyncIteration:
            return
        finally:
            self.subscribed.clear()
            if not first.done():
                first.cancel()
                await asyncio.wait({first})
            await events.aclose()

    async def _dispatch(self, event: TaskEvent) -> None:
        if event.topic == TOPIC_EXIT and event.exec_id:
            return  # an exec's exit: its caller waits on it directly
        handler = self._handlers[event.topic]
        await self._safely(lambda: handler(event), event.topic, container=event.container_id)

    async def _safely(self, call: Callable[[], Awaitable[None]], what: str, **fields: str) -> None:
        try:
            await call()
        except RuntimeFault as exc:
            self._log.bind(what=what, error=exc.message, **fields).warning(
                "handling a task event failed"
            )
