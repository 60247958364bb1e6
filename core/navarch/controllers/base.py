"""The shape of a level-triggered controller: informer handlers turn changes into
keys on a work queue; workers take one key at a time, read the current state from
the caches, converge, and write status. A failed sync is retried with the key's
back-off; one bad object never stops the loop; a key is never synced by two
workers at once (the queue sees to that).

    class Mine(QueueController):
        def __init__(self, context):
            super().__init__(context)
            context.informers.informer("widgets").add_handler(
                on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                on_delete=self.enqueue)

        async def sync(self, key: str) -> float | None:
            ...   # None: done; a number: look again in that many seconds
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from navarch.client.errors import ApiException
from navarch.controllers.context import ControllerContext
from navarch.controllers.workqueue import QueueShutDown


class QueueController:
    """Subclasses implement :meth:`sync`; ``workers`` syncs run at once."""

    workers: int = 2

    def __init__(self, context: ControllerContext):
        self.context = context
        self.client = context.client
        self.log = context.log
        self.queue = context.queue()

    def enqueue(self, obj: Any) -> None:
        """Queue the object's key (an informer handler)."""
        self.queue.add(obj.key())

    async def sync(self, key: str) -> float | None:
        raise NotImplementedError

    async def run(self) -> None:
        """Sync keys until cancelled. The controller manager calls ``run()`` again on
        the same controller after it failed, so the queue outlives a run: it is never
        shut down here (a shut-down queue drops every ``add``, and the informer
        handlers that fill it stay registered across runs), and a key whose sync a
        stop interrupted is queued again for the next run."""
        await self.context.informers.wait_synced()
        self.log.info("started")
        workers = [
            asyncio.create_task(self._work(), name=f"{self.context.name}-{n}")
            for n in range(self.workers)
        ]
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
            for worker in workers:
                with contextlib.suppress(asyncio.CancelledError, QueueShutDown):
                    await worker

    async def _work(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except QueueShutDown:
                return
            try:
                again = await self.sync(key)
            except asyncio.CancelledError:
                self.queue.add(key)  # unfinished: the next run syncs it (done() requeues it)
                raise
            except Exception as exc:  # one bad object never stops the loop
                failures = self.queue.failures(key)
                log = self.log.bind(key=key, failures=failures + 1, error=str(exc))
                if isinstance(exc, ApiException):
                    log.info("sync failed; retrying")
                else:
                    log.opt(exception=exc).error("sync failed; retrying")
                self.queue.add_rate_limited(key)
            else:
                self.queue.forget(key)
                if again is not None:
                    self.queue.add_after(key, again)
            finally:
                self.queue.done(key)
