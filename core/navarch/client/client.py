"""The asynchronous API client.

    async with Client.from_kubeconfig() as client:
        pod = await client.pods.create(manifest, namespace="default")
        async for kind, pod in client.pods.watch(namespace="default"):
            ...

Requests are retried on 429 (honouring Retry-After), 5xx and lost connections, with
exponential back-off and random jitter (see :func:`retry_delay`). Reads and writes
return frozen model objects (never mutate one: copy with ``attrs.evolve``); plain
dicts are accepted as input.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import aiohttp
import attrs
import orjson
from aiohttp.http_exceptions import LineTooLong
from loguru import logger

from navarch import api
from navarch.api.limits import MAX_WATCH_LINE_BYTES
from navarch.api.meta import TopLevel
from navarch.client import errors
from navarch.client.kubeconfig import KubeConfig, load_kubeconfig
from navarch.resources.registry import registry
from navarch.resources.spec import Resource

log = logger.bind(component="client")

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
FIRST_BACKOFF = 0.1
MAX_BACKOFF = 10.0


def retry_delay(
    attempt: int, retry_after: str | None = None, rand: Callable[[], float] = random.random
) -> float:
    """Seconds to wait before retry number ``attempt + 1`` (client-go's shape).

        wait  = max(Retry-After, min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** attempt))
        delay = wait * (1 + rand())          # wait.Jitter with a factor of 1

    Never less than the server asked for, doubling while the trouble lasts, and spread
    over as much again at random: a burst of callers all told ``Retry-After: 1`` come
    back over a second instead of all at the same moment (and are all refused again).
    """
    wait = max(_seconds(retry_after), min(MAX_BACKOFF, FIRST_BACKOFF * 2**attempt))
    return wait * (1 + rand())


def _seconds(retry_after: str | None) -> float:
    """Retry-After in seconds; an HTTP date or garbage counts as no advice."""
    try:
        return max(0.0, float(retry_after)) if retry_after else 0.0
    except ValueError:
        return 0.0


@attrs.frozen
class Listed:
    items: tuple[Any, ...]
    resource_version: str
    continue_token: str | None = None


class Client:
    def __init__(
        self,
        config: KubeConfig,
        *,
        retries: int = 5,
        timeout: float = 30.0,
        max_connections: int = 256,
    ):
        self.config = config
        self.retries = retries
        self.timeout = timeout
        # Each watch holds one connection for as long as it runs: leave room for them.
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._clients: dict[Resource, ResourceClient] = {}

    pods: ResourceClient
    nodes: ResourceClient
    namespaces: ResourceClient
    events: ResourceClient
    replicasets: ResourceClient
    deployments: ResourceClient
    leases: ResourceClient

    def resource(self, res: Resource | str) -> ResourceClient:
        """The client of one resource: a spec, or a name the registry resolves (plural,
        singular, short name, kind: ``client.resource("deploy")``). Kinds come from the
        resource registry (:mod:`navarch.resources`), so a plugin's kind needs no change
        here; ``client.pods`` is ``client.resource("pods")``."""
        if isinstance(res, str):
            found = registry().resolve(res)
            if found is None:
                known = ", ".join(r.plural for r in registry())
                raise LookupError(f"no resource {res!r} is registered; known: {known}")
            res = found
        client = self._clients.get(res)
        if client is None:
            client = self._clients[res] = ResourceClient(self, res)
        return client

    def __getattr__(self, name: str) -> ResourceClient:
        # Only plurals: a misspelt attribute must stay an AttributeError.
        found = registry().resolve(name) if not name.startswith("_") else None
        if found is None or found.plural != name:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return self.resource(found)

    @classmethod
    def from_kubeconfig(cls, path: Any = None, context: str | None = None, **kwargs: Any) -> Client:
        return cls(load_kubeconfig(path, context), **kwargs)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = {"Accept": "application/json", "User-Agent": "navarch-client"}
            if self.config.token:
                headers["Authorization"] = f"Bearer {self.config.token}"
            connector = aiohttp.TCPConnector(
                ssl=self.config.ssl_context() or False, limit=self.max_connections
            )
            self._session = aiohttp.ClientSession(
                self.config.server,
                headers=headers,
                connector=connector,
                json_serialize=lambda o: orjson.dumps(o).decode(),
            )
        return self._session

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
        """One API call with retries; returns the decoded JSON answer or raises ApiException.
        ``headers`` are added to this request only (``Accept`` for a server-side Table)."""
        data = orjson.dumps(body) if body is not None else None
        headers = dict(headers or {})
        if data is not None:
            headers["Content-Type"] = content_type
        for attempt in range(self.retries + 1):
            try:
                async with self.session().request(
                    method,
                    path,
                    data=data,
                    params=params,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=self.timeout),
                ) as response:
                    payload = await response.read()
                    if response.status < 400:
                        return orjson.loads(payload) if payload else None
                    status = _status_of(response.status, payload)
                    if response.status in errors.RETRIED_STATUSES and attempt < self.retries:
                        retry_after = response.headers.get("Retry-After")
                        await asyncio.sleep(retry_delay(attempt, retry_after))
                        continue
                    raise errors.from_status(response.status, status)
            except (aiohttp.ClientConnectionError, TimeoutError) as exc:
                if attempt >= self.retries:
                    raise errors.ApiException(
                        503,
                        {
                            "reason": "ServiceUnavailable",
                            "message": f"cannot reach {self.config.server}: {exc!r}",
                        },
                    ) from exc
                log.bind(path=path, attempt=attempt, error=repr(exc)).debug(
                    "retrying after connection error"
                )
                await asyncio.sleep(retry_delay(attempt))
        raise AssertionError("unreachable")

    async def stream(
        self, path: str, params: dict[str, str], headers: dict[str, str] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """The lines of a watch response, decoded; ends when the server closes it."""
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with self.session().get(
            path, params=params, headers=headers, timeout=timeout
        ) as response:
            if response.status >= 400:
                raise errors.from_status(
                    response.status, _status_of(response.status, await response.read())
                )
            while line := await _read_line(response.content, path):
                if line.strip():
                    yield orjson.loads(line)


class ResourceClient:
    """Typed calls for one resource (``client.pods``, ``client.deployments`` …)."""

    def __init__(self, client: Client, res: Resource):
        self.client = client
        self.res = res

    # --- paths -------------------------------------------------------------------------

    def path(self, namespace: str | None = None, name: str = "", subresource: str = "") -> str:
        return self.res.url_path(namespace, name, subresource)

    def _ns(self, namespace: str | None, obj: Any = None) -> str | None:
        if not self.res.namespaced:
            return None
        if namespace is not None:
            return namespace
        if obj is not None:
            meta = obj.get("metadata") or {} if isinstance(obj, dict) else {}
            if meta.get("namespace"):
                return meta["namespace"]
        return self.client.config.namespace

    # --- verbs -------------------------------------------------------------------------

    async def create(self, obj: Any, namespace: str | None = None) -> Any:
        body = _body(obj)
        return _typed(
            await self.client.request("POST", self.path(self._ns(namespace, body)), body=body)
        )

    async def get(self, name: str, namespace: str | None = None) -> Any:
        return _typed(await self.client.request("GET", self.path(self._ns(namespace), name)))

    async def list(
        self,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int = 0,
        continue_token: str | None = None,
    ) -> Listed:
        params = _params(
            labelSelector=label_selector,
            fieldSelector=field_selector,
            limit=str(limit) if limit else None,
            **{"continue": continue_token},
        )
        ns = namespace if namespace is not None else ""
        data = await self.client.request(
            "GET", self.path(ns if self.res.namespaced else None), params=params
        )
        meta = data.get("metadata") or {}
        return Listed(
            tuple(_typed(item, self.res) for item in data.get("items") or []),
            meta.get("resourceVersion", ""),
            meta.get("continue"),
        )

    async def update(self, obj: Any, namespace: str | None = None) -> Any:
        body = _body(obj)
        name = body["metadata"]["name"]
        return _typed(
            await self.client.request("PUT", self.path(self._ns(namespace, body), name), body=body)
        )

    async def update_status(self, obj: Any, namespace: str | None = None) -> Any:
        return await self.update_subresource(obj, "status", namespace)

    async def update_subresource(
        self, obj: Any, subresource: str, namespace: str | None = None
    ) -> Any:
        """PUT the object to a subresource (``status``, a namespace's ``finalize``)."""
        body = _body(obj)
        path = self.path(self._ns(namespace, body), body["metadata"]["name"], subresource)
        return _typed(await self.client.request("PUT", path, body=body))

    async def patch(
        self,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        patch_type: str = MERGE_PATCH,
        subresource: str = "",
    ) -> Any:
        path = self.path(self._ns(namespace), name, subresource)
        return _typed(await self.client.request("PATCH", path, body=patch, content_type=patch_type))

    async def delete(
        self,
        name: str,
        namespace: str | None = None,
        *,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
        uid: str | None = None,
        resource_version: str | None = None,
    ) -> Any:
        """Delete ``name``; with ``uid`` (or ``resource_version``) only that very
        object (409 Conflict when the name now holds another, or a newer version)."""
        options = _delete_options(grace_period_seconds, propagation_policy)
        preconditions = {"uid": uid, "resourceVersion": resource_version}
        if any(preconditions.values()):
            options["preconditions"] = {k: v for k, v in preconditions.items() if v}
        return _typed(
            await self.client.request("DELETE", self.path(self._ns(namespace), name), body=options)
        )

    async def delete_collection(
        self,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
    ) -> Listed:
        """Delete every object of the resource in ``namespace`` (matching
        ``label_selector``); what was deleted or marked for deletion."""
        ns = self._ns(namespace)
        data = await self.client.request(
            "DELETE",
            self.path(ns),
            params=_params(labelSelector=label_selector),
            body=_delete_options(grace_period_seconds, propagation_policy),
        )
        meta = data.get("metadata") or {}
        return Listed(
            tuple(_typed(item, self.res) for item in data.get("items") or []),
            meta.get("resourceVersion", ""),
        )

    async def bind(
        self,
        name: str,
        node: str,
        namespace: str | None = None,
        annotations: dict[str, str] | None = None,
    ) -> None:
        """Bind the pod to ``node``; ``annotations`` are copied onto the pod."""
        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "annotations": annotations or {}},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        await self.client.request(
            "POST", self.path(self._ns(namespace), name, "binding"), body=body
        )

    async def scale(self, name: str, replicas: int, namespace: str | None = None) -> dict[str, Any]:
        path = self.path(self._ns(namespace), name, "scale")
        return await self.client.request(
            "PATCH", path, body={"spec": {"replicas": replicas}}, content_type=MERGE_PATCH
        )

    async def watch(
        self,
        namespace: str | None = None,
        *,
        resource_version: str = "",
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int | None = None,
    ) -> AsyncIterator[tuple[str, Any]]:
        """``(type, object)`` pairs after ``resource_version``; when the connection drops
        or the server ends the stream, the watch resumes from the last version seen.
        Raises Gone when that version is no longer in history (re-list, then watch)."""
        ns = namespace if namespace is not None else ""
        path = self.path(ns if self.res.namespaced else None)
        last = resource_version
        delay = 0.1
        while True:
            params = _params(
                watch="1",
                resourceVersion=last or None,
                allowWatchBookmarks="true",
                labelSelector=label_selector,
                fieldSelector=field_selector,
                timeoutSeconds=str(timeout_seconds) if timeout_seconds else None,
            )
            try:
                async for event in self.client.stream(path, params):
                    # every watch event names its type (ADDED, ..., ERROR)
                    kind, obj = cast(str, event.get("type")), event.get("object") or {}
                    if kind == "ERROR":
                        raise errors.from_status(int(obj.get("code") or 500), obj)
                    last = (obj.get("metadata") or {}).get("resourceVersion") or last
                    delay = 0.1
                    if kind == "BOOKMARK":
                        continue
                    yield kind, _typed(obj, self.res)
                if timeout_seconds:
                    return
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError) as exc:
                log.bind(resource=self.res.plural, revision=last, error=repr(exc)).debug(
                    "watch resuming"
                )
            except errors.ApiException as exc:
                if exc.code not in errors.RETRIED_STATUSES:
                    raise
            await asyncio.sleep(_jitter(delay))
            delay = min(delay * 2, 5.0)


def _delete_options(
    grace_period_seconds: int | None, propagation_policy: str | None
) -> dict[str, Any]:
    options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
    if grace_period_seconds is not None:
        options["gracePeriodSeconds"] = grace_period_seconds
    if propagation_policy:
        options["propagationPolicy"] = propagation_policy
    return options


def _body(obj: Any) -> dict[str, Any]:
    if isinstance(obj, TopLevel):
        return api.dump(obj)
    if isinstance(obj, dict):
        return obj
    raise TypeError(f"expected a model object or a dict, got {type(obj).__name__}")


def _typed(data: Any, res: Resource | None = None) -> Any:
    if not isinstance(data, dict) or data.get("kind") in (None, "Status", "Scale"):
        return data
    if res is not None:
        data.setdefault("apiVersion", res.group_version)
        data.setdefault("kind", res.kind)
    try:
        return api.load(data, defaults=False, check=False).obj
    except (api.InvalidObject, api.UnknownKind):
        return data  # a kind or field this client version does not know: hand back the dict


def _params(**values: str | None) -> dict[str, str]:
    return {k: v for k, v in values.items() if v not in (None, "")}


def _status_of(code: int, payload: bytes) -> dict[str, Any]:
    try:
        status = orjson.loads(payload)
        if isinstance(status, dict):
            return status
    except orjson.JSONDecodeError:
        pass
    return {"kind": "Status", "code": code, "message": payload.decode(errors="replace")[:500]}


async def _read_line(content: aiohttp.StreamReader, path: str) -> bytes:
    """The next line of a watch (b"" at its end). aiohttp's own line iterator stops at
    twice its read buffer (512 KiB) and raises an error no caller expects, ending the
    process that watched: a line may be as long as an event around the largest object
    the API server stores."""
    try:
        return await content.readline(max_line_length=MAX_WATCH_LINE_BYTES)
    except LineTooLong:
        log.bind(path=path, limit=MAX_WATCH_LINE_BYTES).error("watch event too large; dropped")
        raise errors.EventTooLarge(
            413,
            {
                "kind": "Status",
                "code": 413,
                "reason": "WatchEventTooLarge",
                "message": f"a watch event of {path} is larger than {MAX_WATCH_LINE_BYTES} "
                "bytes (the API server's object limit allows no such event); list again",
            },
        ) from None


def _jitter(delay: float) -> float:
    return delay * (0.5 + random.random())
