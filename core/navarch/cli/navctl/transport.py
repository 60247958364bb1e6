"""navctl's request/response API calls over the standard library's ``http.client``.

Why not :class:`navarch.client.Client` for these: importing aiohttp costs about 0.2 s,
more than kubectl takes for a whole ``get pods``, and a one-shot verb makes a handful
of plain requests. Streams (watches, logs, exec) still go through the Client.

What is the Client's, not copied: the kubeconfig (:func:`load_kubeconfig`'s
:class:`KubeConfig`), TLS (``KubeConfig.ssl_context()``), the headers it sends, the
errors (``navarch.client.errors.from_status``) and the retry policy: an attempt that
gets no answer, or an answer the Client retries
(:data:`navarch.client.errors.RETRIED_STATUSES`), raises :class:`HandOff`, and the
caller gives the request to the Client, which retries it with its own back-off
(:mod:`navarch.cli.navctl.session`).

Each call runs in a daemon thread while the event loop waits on a future, so verbs
that wait on several things at once (``drain``, ``apply --wait``) keep doing so, a
timeout or Ctrl-C cancels the wait at once, and a call stuck on a dead server never
holds the process at exit. Connections are kept alive and reused, one per concurrent
call.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any

import orjson

from navarch.client import errors
from navarch.client.kubeconfig import KubeConfig

# A kept-alive connection the server has since closed fails like this on reuse, before
# any answer: the request is sent once more on a new connection (as urllib3 does).
_STALE_CONNECTION = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
# Characters a path keeps as they are (yarl's, as the Client sends paths); "%" so that
# an already quoted path is not quoted twice.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


class HandOff(Exception):
    """This attempt settled nothing the Client would not retry: give it the request."""

    def __init__(self, why: str, retry_after: str | None = None):
        super().__init__(why)
        self.retry_after = retry_after


class Transport:
    """Plain API calls to the kubeconfig's server, the same as the Client sends them."""

    def __init__(self, config: KubeConfig, timeout: float):
        self.config = config
        self.timeout = timeout
        server = urllib.parse.urlsplit(config.server)
        self._https = server.scheme == "https"
        self._host = server.hostname or "localhost"
        self._port = server.port
        self._prefix = server.path.rstrip("/")
        self._ssl = config.ssl_context() if self._https else None
        self._headers = {"Accept": "application/json", "User-Agent": "navarch-client"}
        if config.token:
            self._headers["Authorization"] = f"Bearer {config.token}"
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> Any:
        """One attempt of ``Client.request``: the decoded JSON answer, an
        ``ApiException``, or :class:`HandOff` when the Client should take over."""
        data = orjson.dumps(body) if body is not None else None
        sent = {**self._headers, **(headers or {})}
        if data is not None:
            sent["Content-Type"] = content_type
        target = self._prefix + urllib.parse.quote(path, safe=_PATH_SAFE)
        if params:
            target += "?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
        status, payload, retry_after = await _in_thread(
            lambda: self._exchange(method, target, data, sent)
        )
        if status < 400:
            return orjson.loads(payload) if payload else None
        if status in errors.RETRIED_STATUSES:
            raise HandOff(f"{method} {path} answered {status}", retry_after)
        raise errors.from_status(status, _status_of(status, payload))

    def get_now(self, path: str) -> Any:
        """A GET answered in the calling thread (blocking): discovery, read while a
        verb's arguments are resolved, before the verb runs anything else. Raises the
        ``ApiException`` of an error answer, :class:`HandOff` when none came."""
        target = self._prefix + urllib.parse.quote(path, safe=_PATH_SAFE)
        status, payload, _ = self._exchange("GET", target, None, dict(self._headers))
        if status < 400:
            return orjson.loads(payload) if payload else None
        raise errors.from_status(status, _status_of(status, payload))

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _exchange(
        self, method: str, target: str, data: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes, str | None]:
        """Status, body and Retry-After of one exchange (blocking; in a worker thread)."""
        connection, reused = self._connection()
        try:
            connection.request(method, target, body=data, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        except _STALE_CONNECTION as exc:
            connection.close()
            if reused:
                return self._exchange(method, target, data, headers)
            raise HandOff(f"cannot reach {self.config.server}: {exc!r}") from exc
        except (OSError, http.client.HTTPException) as exc:  # refused, TLS, timeout …
            connection.close()
            raise HandOff(f"cannot reach {self.config.server}: {exc!r}") from exc
        if response.will_close:
            connection.close()
        else:
            with self._lock:
                self._idle.append(connection)
        return response.status, payload, response.getheader("Retry-After")

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        if self._https:
            return (
                http.client.HTTPSConnection(
                    self._host, self._port, timeout=self.timeout, context=self._ssl
                ),
                False,
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout), False


async def _in_thread(work: Callable[[], Any]) -> Any:
    """``work()`` in a daemon thread; the caller's wait can be cancelled at any time."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def settle(outcome: Any, failure: BaseException | None) -> None:
        if future.done():  # the caller stopped waiting (cancelled, timed out)
            return
        if failure is not None:
            future.set_exception(failure)
        else:
            future.set_result(outcome)

    def run() -> None:
        try:
            outcome, failure = work(), None
        except BaseException as exc:  # handed to the waiting coroutine, which raises it
            outcome, failure = None, exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            loop.call_soon_threadsafe(settle, outcome, failure)

    threading.Thread(target=run, name="navctl-request", daemon=True).start()
    return await future


def _status_of(code: int, payload: bytes) -> dict[str, Any]:
    """The Status an error answer carries (a plain text body becomes its message)."""
    try:
        status = orjson.loads(payload)
        if isinstance(status, dict):
            return status
    except orjson.JSONDecodeError:
        pass
    return {"kind": "Status", "code": code, "message": payload.decode(errors="replace")[:500]}
