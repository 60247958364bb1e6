"""The Docker Engine API client: HTTP over the daemon's unix socket (aiohttp), the API
version pinned or negotiated, and the two ways a call fails mapped once, here:

* the daemon does not answer (socket missing, connection refused or cut, deadline)
  -> :class:`navarch.runtime.Unavailable`; the next call connects afresh, so the
  same object works again once dockerd is back;
* the daemon answers with an error status -> :class:`EngineError` carrying the
  status and the engine's own message, which the callers turn into the contract's
  errors (NotFound, CreateError, ...).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from loguru import logger

from navarch.runtime import RuntimeFault, Unavailable
from navarch_runtime_docker.options import MAX_API_VERSION, DockerOptions

Params = Mapping[str, str | int]


class EngineError(RuntimeFault):
    """The engine answered with an error status; ``message`` is its own text. Callers
    turn the statuses they expect into the contract's errors; any other stays a
    RuntimeFault with the engine's words."""

    def __init__(self, status: int, message: str):
        self.status = status
        super().__init__(message)


def path_part(value: str) -> str:
    """An id or image name inside a URL path (image names keep their / and :)."""
    return quote(value, safe="/:@")


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _error_message(status: int, body: bytes) -> str:
    try:
        decoded = json.loads(body)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict) and isinstance(decoded.get("message"), str):
        return decoded["message"]
    return body.decode(errors="replace").strip() or f"HTTP {status}"


class Engine:
    """One daemon's API. Connections are opened lazily, in the running event loop."""

    def __init__(self, options: DockerOptions):
        self.options = options
        self._session: aiohttp.ClientSession | None = None
        self._api_version: str | None = None
        self._log = logger.bind(runtime="docker", socket=options.socket)
        if options.socket.startswith("unix://"):
            self._unix_path: str | None = options.socket.removeprefix("unix://")
            self._base = "http://docker"
        else:
            self._unix_path = None
            self._base = "http://" + options.socket.removeprefix("tcp://")

    # --- connections -------------------------------------------------------------------

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # No pool limit: each followed log holds a connection for as long as it is
            # read, and aiohttp's default of 100 would make every other call wait
            # behind the hundredth ``kubectl logs -f``.
            connector: aiohttp.BaseConnector = (
                aiohttp.UnixConnector(path=self._unix_path, limit=0)
                if self._unix_path is not None
                else aiohttp.TCPConnector(limit=0)
            )
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=None)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def open_raw(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection of its own, for a request whose answer becomes a raw stream
        (exec's hijacked stdin/stdout)."""
        try:
            async with asyncio.timeout(self.options.request_timeout_seconds):
                if self._unix_path is not None:
                    return await asyncio.open_unix_connection(self._unix_path)
                host, _, port = self._base.removeprefix("http://").rpartition(":")
                return await asyncio.open_connection(host, int(port))
        except (OSError, TimeoutError) as err:
            raise self.unavailable(err) from err

    @property
    def host_header(self) -> str:
        return self._base.removeprefix("http://")

    def unavailable(self, err: BaseException) -> Unavailable:
        # The daemon may come back as another version: negotiate again then.
        self._api_version = None
        what = str(err) or type(err).__name__
        if isinstance(err, TimeoutError):
            what = "no answer before the deadline"
        self._log.bind(error=what).warning("docker does not answer")
        return Unavailable(f"docker at {self.options.socket} does not answer: {what}")

    # --- the API version -----------------------------------------------------------

    async def api_prefix(self) -> str:
        if self.options.api_version != "auto":
            return f"/v{self.options.api_version}"
        if self._api_version is None:
            # /version is served unversioned by every engine.
            info = await self._call("GET", "/version", timeout=self.options.request_timeout_seconds)
            server, oldest = info.get("ApiVersion", ""), info.get("MinAPIVersion", "")
            chosen = MAX_API_VERSION
            if server and _version_tuple(server) < _version_tuple(chosen):
                chosen = server
            if oldest and _version_tuple(oldest) > _version_tuple(chosen):
                chosen = oldest
            self._api_version = chosen
            self._log.bind(api_version=chosen, server_api=server).debug("api negotiated")
        return f"/v{self._api_version}"

    # --- calls ---------------------------------------------------------------------

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """One call whose answer is JSON (or empty: None), within ``timeout`` (default:
        the request deadline). Raises EngineError on an error status, Unavailable when
        the daemon does not answer in time."""
        if timeout is None:
            timeout = self.options.request_timeout_seconds
        return await self._call(
            method, await self.api_prefix() + path, params, body, headers, timeout
        )

    async def _call(
        self,
        method: str,
        path: str,
        params: Params | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Any:
        async with self._stream(method, path, params, body, headers, timeout, timeout) as resp:
            try:
                raw = await resp.read()
            except (aiohttp.ClientError, OSError) as err:
                raise self.unavailable(err) from err
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode(errors="replace")

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        idle_timeout: float | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """A call whose answer is read as it comes (logs, pull progress). ``timeout``
        bounds the whole call and ``idle_timeout`` each wait for more of the answer
        (None: unbounded, e.g. ``logs --follow``)."""
        async with self._stream(
            method, await self.api_prefix() + path, params, body, headers, idle_timeout, timeout
        ) as resp:
            yield resp

    @asynccontextmanager
    async def _stream(
        self,
        method: str,
        path: str,
        params: Params | None,
        body: Any,
        headers: Mapping[str, str] | None,
        head_timeout: float | None,
        total_timeout: float | None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        url = self._base + path
        if params:
            url += "?" + urlencode({k: str(v) for k, v in params.items()})
        sent_headers = dict(headers or {})
        data: Any = None
        if isinstance(body, bytes | aiohttp.payload.Payload) or hasattr(body, "__aiter__"):
            data = body
        elif body is not None:
            data = json.dumps(body).encode()
            sent_headers.setdefault("Content-Type", "application/json")
        deadline = aiohttp.ClientTimeout(
            total=total_timeout,
            connect=self.options.request_timeout_seconds,
            sock_read=head_timeout,
        )
        # Only reads are repeated: a stale pooled connection to a daemon that restarted
        # fails once, and a second try reaches the new daemon.
        attempts = 2 if method == "GET" else 1
        for attempt in range(attempts):
            try:
                resp = await self._client().request(
                    method, url, data=data, headers=sent_headers, timeout=deadline
                )
            except aiohttp.ServerDisconnectedError as err:
                if attempt + 1 < attempts:
                    continue
                raise self.unavailable(err) from err
            except (aiohttp.ClientConnectionError, OSError, TimeoutError) as err:
                raise self.unavailable(err) from err
            try:
                if resp.status >= 400:
                    raise EngineError(resp.status, _error_message(resp.status, await resp.read()))
                yield resp
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as err:
                # The daemon went away while its answer was being read. (A caller's own
                # deadline, a plain TimeoutError, passes through unchanged.)
                raise self.unavailable(err) from err
            finally:
                resp.release()
            return
