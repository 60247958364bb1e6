"""How much memory the lists being served may hold at once, and sending a list so that
it arrives whole or visibly broken (issue 29).

A list is read from the store at one revision and held until its last byte is written
(:class:`ListResponse`): eight unpaginated lists of 143 MB held over 1 GB of bodies at
once (4.8 GB resident, four copies each), and a failure while a body was being written
was invisible: the status line and Content-Length were out, aiohttp drops a
ConnectionError after its handler returned, and nothing was logged.

:class:`ListBudget` is the bytes of list bodies in flight, each list reserving what it
read page by page. A list that would overdraw it, while another list is being served,
gets 429 with Retry-After before anything is sent (Kubernetes' priority and fairness
answers the same when its seats are taken); a list alone may use more than the budget,
so every list can be served, one at a time. Clients that page (limit/continue, as
kubectl, navctl and informers do) reserve one page at a time.
"""

from __future__ import annotations

import asyncio

import attrs
from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from loguru import logger

from navarch.apiserver import errors
from navarch.apiserver.objects import RawList

log = logger.bind(component="apiserver")
RETRY_AFTER_SECONDS = 1
WRITE_BYTES = 1 << 20  # a list body is written in pieces of about this size


@attrs.define
class ListBudget:
    limit: int
    in_flight: int = 0  # bytes reserved by the lists being read or written
    lists: int = 0  # lists holding a reservation

    def reservation(self) -> Reservation:
        return Reservation(self)


@attrs.define
class Reservation:
    """One list's share of the budget: grown as pages are read, released once."""

    budget: ListBudget
    held: int = 0
    counted: bool = False

    def take(self, size: int) -> None:
        """Reserve ``size`` more bytes; 429 if that overdraws the budget while other
        lists hold some of it (nothing reserved by this list is kept then)."""
        budget = self.budget
        if not self.counted:
            self.counted = True
            budget.lists += 1
        others = budget.lists > 1
        if others and budget.in_flight + size > budget.limit:
            log.bind(
                reserved=self.held + size, in_flight=budget.in_flight, limit=budget.limit
            ).warning("list refused: the list budget is spent (429)")
            self.release()
            raise errors.ApiError(
                429,
                "TooManyRequests",
                f"too many large lists are being served ({budget.in_flight} bytes of "
                f"api.max_list_bytes_in_flight={budget.limit}); retry after a moment, or "
                "page the list with limit and continue",
                details={"retryAfterSeconds": RETRY_AFTER_SECONDS},
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        self.held += size
        budget.in_flight += size

    def release(self) -> None:
        self.budget.in_flight -= self.held
        self.held = 0
        if self.counted:
            self.counted = False
            self.budget.lists -= 1


class ListResponse(web.StreamResponse):
    """A list body written from its items in pieces of about WRITE_BYTES, with its
    Content-Length, so that no copy of the whole body is made; the reservation is
    released once the body is written or has failed. A failure after the status line
    is logged, and the connection closed short of Content-Length: the client sees a
    broken body (IncompleteRead), never a shorter list that parses."""

    def __init__(self, listed: RawList, reservation: Reservation, path: str):
        super().__init__(headers={"Content-Type": "application/json"})
        self.listed = listed
        self.reservation = reservation
        self.path = path
        self._head, self._tail = listed.framing()
        items = listed.items
        self.content_length = (
            len(self._head) + len(self._tail) + sum(map(len, items)) + max(0, len(items) - 1)
        )

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        try:
            return await super().prepare(request)
        except BaseException:
            self.reservation.release()  # write_eof will not come
            raise

    async def write_eof(self, data: bytes = b"") -> None:
        if self._eof_sent:
            return
        sent = 0
        try:
            await self.write(self._head)
            sent += len(self._head)
            piece: list[bytes] = []
            size = 0
            for index, item in enumerate(self.listed.items):
                piece.append(b"," + item if index else item)
                size += len(piece[-1])
                if size >= WRITE_BYTES:
                    await self.write(b"".join(piece))
                    sent += size
                    piece, size = [], 0
            await self.write(b"".join(piece) + self._tail)
            sent += size + len(self._tail)
            await super().write_eof()
        except (ConnectionError, asyncio.CancelledError) as exc:
            self._log_failure(sent, exc, "the client went away")
            raise
        except Exception as exc:
            self._log_failure(sent, exc, "the server failed")
            transport = self._req.transport if self._req is not None else None
            if transport is not None:
                transport.abort()  # short of Content-Length: the client sees it broken
            raise
        finally:
            self.reservation.release()
            self.listed = RawList(self.listed.kind, self.listed.api_version, {}, [])

    def _log_failure(self, sent: int, exc: BaseException, why: str) -> None:
        log.bind(path=self.path, sent=sent, size=self.content_length, error=repr(exc)).warning(
            f"list body not sent whole: {why}; the connection is closed short"
        )
