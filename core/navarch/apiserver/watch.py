"""Watch over HTTP: one JSON event a line, in revision order, resumable.

A watch is served from the shared fan-out (:mod:`~navarch.apiserver.watchcache`) when
its resourceVersion is still in the fan-out's buffer: the buffered events it missed are
streamed first at the client's pace, then live events from its queue. An older version
gets a store watch of its own, back-pressured (it waits for the client instead of
overflowing), whose first answer may still be 410 Gone.

Every watch ends when the server shuts down (:meth:`Watches.close_all`), when its
client goes away (checked every few seconds, so a gone client never holds a slot for
the 30 minutes a quiet resource may take to produce an event), at its timeout, or with
an ERROR event when it falls too far behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator
from typing import Any

import orjson
from aiohttp import web
from loguru import logger

from navarch.apiserver import codec, errors, httpio, printers
from navarch.apiserver.codec import check_revision
from navarch.apiserver.fieldselectors import FieldSelector
from navarch.apiserver.metrics import Metrics
from navarch.apiserver.requestinfo import RequestInfo
from navarch.apiserver.storage import Storage
from navarch.apiserver.watchcache import Subscription, WatchCache
from navarch.resources.spec import Resource

log = logger.bind(component="apiserver")
CLIENT_CHECK_SECONDS = 2.0  # how often an idle watch looks whether its client is still there
REPLAY_BATCH = 500  # lines written at once while replaying


class _Closed(Exception):
    """The server is shutting down."""


class Watches:
    def __init__(
        self,
        storage: Storage,
        metrics: Metrics,
        *,
        buffer: int,
        bookmark_seconds: float,
        max_seconds: int,
    ):
        self.storage = storage
        self.cache = WatchCache(storage.store)
        self.metrics = metrics
        self.buffer = buffer
        self.bookmark_seconds = bookmark_seconds
        self.max_seconds = max_seconds
        self.closing = asyncio.Event()

    def close_all(self) -> None:
        """End every open watch (each writes its last bytes and returns within a moment)."""
        self.closing.set()

    async def close(self) -> None:
        self.close_all()
        await self.cache.close()

    async def serve(
        self,
        request: web.Request,
        info: RequestInfo,
        labels: Any,
        fields: FieldSelector,
    ) -> web.StreamResponse:
        res = info.res
        assert res is not None
        if self.closing.is_set():
            raise errors.unavailable("the API server is shutting down")
        query = request.query
        # 0 (or absent) means the server's limit, as in Kubernetes
        timeout = httpio.int_query(query, "timeoutSeconds", 0) or self.max_seconds
        timeout = min(timeout, self.max_seconds)
        bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        namespace = info.namespace
        version = query.get("resourceVersion")
        tables = printers.TableRequest.of(request.headers.get("Accept"), query)

        # Without a version, the current objects come first, as ADDED events.
        initial: list[bytes] = []
        if version in (None, "", "0"):
            listed = await self.storage.list_raw(
                res, namespace, label_selector=labels, field_selector=fields
            )
            version = listed.metadata["resourceVersion"]
            initial = [b'{"type":"ADDED","object":%s}\n' % item for item in listed.items]
        start = check_revision(version) + 1

        queue: asyncio.Queue[Any] = asyncio.Queue(self.buffer)
        subscription = Subscription(queue, namespace, start, labels, fields)
        shared = await self.cache.subscribe(res, subscription)
        pump: asyncio.Task[None] | None = None
        if shared is None:
            events = self.storage.watch(
                res, namespace, start, label_selector=labels, field_selector=fields
            )
            first = asyncio.ensure_future(_next_or_none(events))
            done, _ = await asyncio.wait({first}, timeout=0.05)
            if first in done and (failure := first.exception()) is not None:
                await events.aclose()
                raise failure
            pump = asyncio.create_task(_pump_store_watch(first, events, queue))
            replay: list[bytes] = []
        else:
            replay = [
                line
                for line in (subscription.line_for(event) for event in shared[1])
                if line is not None
            ]
            if shared[1]:
                version = str(shared[1][-1].revision)

        content_type = tables.content_type if tables else "application/json"
        response = web.StreamResponse(headers={"Content-Type": content_type})
        response.enable_chunked_encoding()
        await response.prepare(request)
        # kubectl get -w asks for Tables: each event's object becomes a one-row Table.
        out = tables.watch_writer(response, res) if tables else response
        self.metrics.watches.labels(res.plural).inc()
        try:
            lines = initial + replay
            for offset in range(0, len(lines), REPLAY_BATCH):
                await out.write(b"".join(lines[offset : offset + REPLAY_BATCH]))
            await self._follow(request, out, res, subscription, version, timeout, bookmarks)
        except (ConnectionResetError, asyncio.CancelledError, _Closed):
            pass
        finally:
            if shared is not None:
                shared[0].unsubscribe(subscription)
            if pump is not None:
                pump.cancel()
                with contextlib.suppress(BaseException):
                    await pump
            self.metrics.watches.labels(res.plural).dec()
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response

    async def _follow(
        self,
        request: web.Request,
        response: web.StreamResponse | printers.TableWatchWriter,
        res: Resource,
        subscription: Subscription,
        last_revision: str,
        timeout: int,
        bookmarks: bool,
    ) -> None:
        queue = subscription.queue
        deadline = time.monotonic() + timeout
        next_bookmark = time.monotonic() + self.bookmark_seconds
        closing = asyncio.ensure_future(self.closing.wait())
        try:
            while (remaining := deadline - time.monotonic()) > 0:
                wait = min(remaining, CLIENT_CHECK_SECONDS)
                if bookmarks:
                    wait = max(0.0, min(wait, next_bookmark - time.monotonic()))
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait(
                    {getter, closing}, timeout=wait, return_when=asyncio.FIRST_COMPLETED
                )
                if getter not in done:
                    getter.cancel()
                    if closing in done:
                        raise _Closed()
                    if _client_gone(request):
                        return
                    if bookmarks and time.monotonic() >= next_bookmark:
                        # Idle and drained: everything up to what the fan-out offered
                        # this watcher has been written, matched or not.
                        seen = max(int(last_revision), subscription.seen_revision)
                        await response.write(_bookmark(res, str(seen)))
                        next_bookmark = time.monotonic() + self.bookmark_seconds
                    continue
                item = getter.result()
                # Write everything already waiting in one go: one TLS record, one syscall.
                batch: list[bytes] = []
                while isinstance(item, tuple):
                    last_revision, line = item
                    batch.append(line)
                    item = queue.get_nowait() if not queue.empty() else None
                if batch:
                    await response.write(b"".join(batch))
                if isinstance(item, BaseException):
                    error = (
                        item
                        if isinstance(item, errors.ApiError)
                        else errors.gone(
                            "the watcher was too slow to keep up; watch again from the last "
                            "resourceVersion received"
                        )
                    )
                    await response.write(
                        orjson.dumps({"type": "ERROR", "object": error.to_status()}) + b"\n"
                    )
                    return
        finally:
            closing.cancel()


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def _pump_store_watch(
    first: asyncio.Future[Any], events: AsyncGenerator[Any, None], queue: asyncio.Queue[Any]
) -> None:
    """Feed a request's own store watch into its queue, waiting while the queue is full
    (a store watch can be paused; the shared fan-out cannot)."""
    try:
        event = await first
        while event is not None:
            line = orjson.dumps({"type": event.type, "object": codec.ordered(event.obj)}) + b"\n"
            await queue.put((event.obj["metadata"]["resourceVersion"], line))
            event = await _next_or_none(events)
    except errors.ApiError as exc:
        await queue.put(exc)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.bind(error=repr(exc)).opt(exception=exc).error("watch failed")
        await queue.put(errors.internal("the watch failed; watch again"))
    finally:
        with contextlib.suppress(BaseException):
            await events.aclose()


async def _next_or_none(events: AsyncGenerator[Any, None]) -> Any | None:
    try:
        return await events.__anext__()
    except StopAsyncIteration:
        return None


def _bookmark(res: Resource, revision: str) -> bytes:
    return (
        orjson.dumps(
            {
                "type": "BOOKMARK",
                "object": {
                    "kind": res.kind,
                    "apiVersion": res.group_version,
                    "metadata": {"resourceVersion": revision},
                },
            }
        )
        + b"\n"
    )
