"""The aiohttp application: routing of Kubernetes paths, verbs, watch streaming,
discovery, health, metrics, and the middlewares (errors, auth, limits, metrics)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import attrs
import orjson
from aiohttp import web
from loguru import logger

from navarch import __version__
from navarch.apiserver import auth, discovery, errors, openapi, patch
from navarch.apiserver.fieldselectors import parse as parse_field_selector
from navarch.apiserver.fieldselectors import parse_label_selector
from navarch.apiserver.metrics import Metrics
from navarch.apiserver.registry import ObjectRegistry, check_revision
from navarch.apiserver.resources import BY_PATH, Resource
from navarch.apiserver.timed_store import TimedStore
from navarch.apiserver.watchcache import Subscription, WatchCache
from navarch.store import Store

log = logger.bind(component="apiserver")

MAX_BODY_BYTES = 3 * 1024 * 1024
JSON_TYPES = ("application/json",)
PATCH_TYPES = (patch.MERGE, patch.JSON, patch.STRATEGIC)
DELETE_PROPAGATION = ("Orphan", "Background", "Foreground")
NAMESPACE_CACHE_SECONDS = 5.0


@attrs.define
class ServerSettings:
    max_inflight: int = 400
    watch_buffer: int = 1000  # events queued for one watcher before it is closed as too slow
    bookmark_seconds: float = 10.0
    max_watch_seconds: int = 1800
    grace_sweep_seconds: float = 1.0


@attrs.frozen
class Target:
    """What a request path names."""

    res: Resource
    namespace: str
    name: str = ""
    subresource: str | None = None


class Api:
    def __init__(
        self, store: Store, pm: Any, tokens: auth.TokenFile, settings: ServerSettings | None = None
    ):
        self.metrics = Metrics()
        self.registry = ObjectRegistry(TimedStore(store, self.metrics), pm)
        self.settings = settings or ServerSettings()
        self.watch_cache = WatchCache(self.registry.store)
        self.tokens = tokens
        self.inflight = 0
        self._namespaces_seen: dict[str, float] = {}
        self.ready = False
        self.address = ""

    # --- application ------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(
            client_max_size=MAX_BODY_BYTES,
            middlewares=[self._errors, self._authenticate, self._limit],
        )
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/livez", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/version", self._version)
        app.router.add_get("/openapi/v3", self._openapi_index)
        app.router.add_get("/openapi/v3/{tail:.*}", self._openapi_document)
        app.router.add_route("*", "/api", self._api_versions)
        app.router.add_route("*", "/apis", self._api_groups)
        app.router.add_route("*", "/api/{tail:.*}", self._dispatch)
        app.router.add_route("*", "/apis/{tail:.*}", self._dispatch)
        app.router.add_route("*", "/{tail:.*}", self._unknown_path)
        return app

    # --- middlewares -------------------------------------------------------------------

    @web.middleware
    async def _errors(
        self, request: web.Request, handler: Callable[..., Awaitable[web.StreamResponse]]
    ):
        started = time.perf_counter()
        verb, resource = _verb_and_resource(request)
        try:
            response = await handler(request)
        except errors.ApiError as exc:
            response = exc.response()
        except web.HTTPRequestEntityTooLarge:
            response = errors.too_large(MAX_BODY_BYTES).response()
        except web.HTTPException as exc:
            response = errors.ApiError(
                exc.status, exc.reason.replace(" ", ""), exc.text or exc.reason
            ).response()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug: log it whole, answer without internals
            log.bind(path=request.path, method=request.method).opt(exception=exc).error(
                "request failed"
            )
            response = errors.internal(
                "an internal error occurred; see the server's log"
            ).response()
        if verb != "watch":
            self.metrics.latency.labels(verb, resource).observe(time.perf_counter() - started)
        self.metrics.requests.labels(verb, resource, str(response.status)).inc()
        return response

    @web.middleware
    async def _authenticate(
        self, request: web.Request, handler: Callable[..., Awaitable[web.StreamResponse]]
    ):
        if request.path in ("/healthz", "/livez", "/readyz", "/version"):
            return await handler(request)
        request["user"] = self.tokens.authenticate(request.headers.get("Authorization"))
        return await handler(request)

    @web.middleware
    async def _limit(
        self, request: web.Request, handler: Callable[..., Awaitable[web.StreamResponse]]
    ):
        if _is_watch(request):  # long-running: not counted against the in-flight limit
            return await handler(request)
        if self.inflight >= self.settings.max_inflight:
            raise errors.too_many_requests()
        self.inflight += 1
        self.metrics.inflight.set(self.inflight)
        try:
            return await handler(request)
        finally:
            self.inflight -= 1
            self.metrics.inflight.set(self.inflight)

    # --- health, version, metrics, discovery -----------------------------------------

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _readyz(self, request: web.Request) -> web.Response:
        if not self.ready:
            raise errors.unavailable("the API server is starting")
        try:
            await asyncio.wait_for(self.registry.store.current_revision(), 5)
        except Exception as exc:
            raise errors.unavailable(f"the store does not answer: {exc}") from None
        return web.Response(text="ok")

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.render(), content_type="text/plain", charset="utf-8")

    async def _version(self, request: web.Request) -> web.Response:
        return _json(discovery.version(__version__))

    async def _api_versions(self, request: web.Request) -> web.Response:
        return _json(discovery.api_versions(self.address))

    async def _api_groups(self, request: web.Request) -> web.Response:
        return _json(discovery.api_groups())

    async def _openapi_index(self, request: web.Request) -> web.Response:
        return _json(openapi.index())

    async def _openapi_document(self, request: web.Request) -> web.Response:
        parts = request.match_info["tail"].split("/")
        group, version = (
            ("", parts[1])
            if parts[0] == "api" and len(parts) == 2
            else ((parts[1], parts[2]) if parts[0] == "apis" and len(parts) == 3 else ("", ""))
        )
        found = openapi.document(group, version) if version else None
        if found is None:
            raise errors.path_not_found(request.path)
        return _json(found)

    async def _unknown_path(self, request: web.Request) -> web.Response:
        raise errors.path_not_found(request.path)

    # --- resources ---------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        if parts[0] == "api":
            group, rest = "", parts[1:]
        else:
            group, rest = (parts[1], parts[2:]) if len(parts) > 1 else ("", [])
            if len(rest) == 0:  # /apis/<group>
                found = discovery.api_group(group)
                if found is None:
                    raise errors.path_not_found(request.path)
                return _json(found)
        if not rest:
            raise errors.path_not_found(request.path)
        version, rest = rest[0], rest[1:]
        if not rest:
            found = discovery.resource_list(group, version)
            if found is None:
                raise errors.path_not_found(request.path)
            return _json(found)
        target = _target(group, version, rest, request.path)
        method = request.method
        if target.subresource == "binding":
            return await self._bind(request, target)
        if target.subresource == "scale":
            return await self._scale(request, target)
        if target.subresource not in (None, "status") or (
            target.subresource and target.subresource not in target.res.subresources
        ):
            raise errors.path_not_found(request.path)
        if not target.name:
            if method == "GET":
                if _is_watch(request):
                    return await self._watch(request, target)
                return await self._list(request, target)
            if method == "POST":
                return await self._create(request, target)
            if method == "DELETE":
                return await self._delete_collection(request, target)
            raise errors.method_not_allowed(method, request.path)
        if method == "GET":
            return await self._get(request, target)
        if method == "PUT":
            return await self._update(request, target)
        if method == "PATCH":
            return await self._patch(request, target)
        if method == "DELETE" and not target.subresource:
            return await self._delete(request, target)
        raise errors.method_not_allowed(method, request.path)

    async def _list(self, request: web.Request, target: Target) -> web.Response:
        query = request.query
        fields = parse_field_selector(query.get("fieldSelector"), target.res.plural)
        self._authorize(request, "list", target, fields.value_of("spec.nodeName"))
        result = await self.registry.list_raw(
            target.res,
            target.namespace,
            label_selector=parse_label_selector(query.get("labelSelector")),
            field_selector=fields,
            limit=_int_query(query, "limit", 0),
            continue_token=query.get("continue") or None,
        )
        return web.Response(body=result.to_bytes(), content_type="application/json")

    async def _get(self, request: web.Request, target: Target) -> web.Response:
        self._authorize(request, "get", target)
        obj = await self.registry.get(target.res, target.namespace, target.name)
        auth.authorize_object(request["user"], "get", target.res, obj)
        return _json(obj)

    async def _create(self, request: web.Request, target: Target) -> web.Response:
        self._authorize(request, "create", target)
        body = await _read_json(request)
        auth.authorize_create(request["user"], target.res, target.namespace, body)
        await self._namespace_must_exist(target)
        written = await self.registry.create(target.res, target.namespace, body)
        return _json(written.obj, status=201, warnings=written.warnings)

    async def _update(self, request: web.Request, target: Target) -> web.Response:
        self._authorize(request, "update", target)
        body = await _read_json(request)
        await self._check_object_access(request, "update", target)
        written = await self.registry.update(
            target.res, target.namespace, target.name, body, target.subresource
        )
        return _json(written.obj, warnings=written.warnings)

    async def _patch(self, request: web.Request, target: Target) -> web.Response:
        self._authorize(request, "patch", target)
        content_type = request.content_type
        if content_type not in PATCH_TYPES:
            raise errors.unsupported_media_type(content_type, list(PATCH_TYPES))
        body = await _read_json(request, check_type=False)
        await self._check_object_access(request, "patch", target)
        written = await self.registry.patch(
            target.res, target.namespace, target.name, content_type, body, target.subresource
        )
        return _json(written.obj, warnings=written.warnings)

    async def _delete(self, request: web.Request, target: Target) -> web.Response:
        self._authorize(request, "delete", target)
        options = await _delete_options(request)
        await self._check_object_access(request, "delete", target)
        if target.res.plural == "namespaces":
            self._namespaces_seen.pop(target.name, None)
            await self._empty_namespace(target.name)
        deleted = await self.registry.delete(target.res, target.namespace, target.name, options)
        return _json(deleted)

    async def _delete_collection(self, request: web.Request, target: Target) -> web.Response:
        self._authorize(request, "deletecollection", target)
        options = await _delete_options(request)
        query = request.query
        result = await self.registry.delete_collection(
            target.res,
            target.namespace,
            options,
            parse_label_selector(query.get("labelSelector")),
            parse_field_selector(query.get("fieldSelector"), target.res.plural),
        )
        return _json(result)

    async def _bind(self, request: web.Request, target: Target) -> web.Response:
        if target.res.plural != "pods" or request.method != "POST":
            raise errors.method_not_allowed(request.method, request.path)
        self._authorize(request, "create", attrs.evolve(target, subresource="binding"))
        body = await _read_json(request)
        node = ((body or {}).get("target") or {}).get("name") if isinstance(body, dict) else None
        if not isinstance(node, str) or not node:
            raise errors.ApiError(
                422,
                "Invalid",
                "Binding is invalid: target.name: Required value",
                details={
                    "kind": "Binding",
                    "causes": [
                        {
                            "field": "target.name",
                            "reason": "FieldValueRequired",
                            "message": "Required value",
                        }
                    ],
                },
            )
        res, ns, name = target.res, target.namespace, target.name
        for _ in range(5):
            pod = await self.registry.get(res, ns, name)
            if pod["metadata"].get("deletionTimestamp"):
                raise errors.conflict(res.plural, res.group, name)
            bound = (pod.get("spec") or {}).get("nodeName")
            if bound:
                raise errors.ApiError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on pods/binding "{name}": '
                    f'pod {name} is already assigned to node "{bound}"',
                )
            bound_pod = copy.deepcopy(pod)
            bound_pod["spec"]["nodeName"] = node
            extra = (
                ((body.get("metadata") or {}).get("annotations") or {})
                if isinstance(body, dict)
                else {}
            )
            if extra:  # Kubernetes copies the Binding's annotations onto the pod
                bound_pod["metadata"]["annotations"] = {
                    **(bound_pod["metadata"].get("annotations") or {}),
                    **{str(k): str(v) for k, v in extra.items()},
                }
            try:
                await self.registry.replace(res, ns, name, pod, bound_pod, "binding")
            except errors.ApiError as exc:
                if exc.reason == "Conflict":
                    continue
                raise
            return _json(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "code": 201,
                },
                status=201,
            )
        raise errors.conflict(res.plural, res.group, name)

    async def _scale(self, request: web.Request, target: Target) -> web.Response:
        if "scale" not in target.res.subresources:
            raise errors.path_not_found(request.path)
        res, ns, name = target.res, target.namespace, target.name
        if request.method == "GET":
            self._authorize(request, "get", target)
            return _json(discovery.scale_of(await self.registry.get(res, ns, name)))
        if request.method not in ("PUT", "PATCH"):
            raise errors.method_not_allowed(request.method, request.path)
        verb = "update" if request.method == "PUT" else "patch"
        self._authorize(request, verb, target)
        if request.method == "PATCH" and request.content_type not in PATCH_TYPES:
            raise errors.unsupported_media_type(request.content_type, list(PATCH_TYPES))
        body = await _read_json(request, check_type=request.method == "PUT")
        for _ in range(5):
            current = await self.registry.get(res, ns, name)
            scale = discovery.scale_of(current)
            wanted = (
                patch.apply(request.content_type, scale, body)
                if request.method == "PATCH"
                else body
            )
            if not isinstance(wanted, dict):
                raise errors.bad_request("the Scale must be a JSON object")
            replicas = (wanted.get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                raise errors.ApiError(
                    422,
                    "Invalid",
                    f'Scale.autoscaling "{name}" is invalid: spec.replicas: '
                    f"Invalid value: {replicas!r}: must be greater than or equal to 0",
                    details={
                        "name": name,
                        "kind": "Scale",
                        "causes": [
                            {
                                "field": "spec.replicas",
                                "reason": "FieldValueInvalid",
                                "message": "must be greater than or equal to 0",
                            }
                        ],
                    },
                )
            wanted_rv = (wanted.get("metadata") or {}).get("resourceVersion")
            if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
                raise errors.conflict(res.plural, res.group, name)
            updated = dict(current)
            updated["spec"] = {**current.get("spec", {}), "replicas": replicas}
            try:
                written = await self.registry.replace(res, ns, name, current, updated, None)
            except errors.ApiError as exc:
                if exc.reason == "Conflict" and not wanted_rv:
                    continue
                raise
            return _json(discovery.scale_of(written.obj))
        raise errors.conflict(res.plural, res.group, name)

    # --- watch -------------------------------------------------------------------------

    async def _watch(self, request: web.Request, target: Target) -> web.StreamResponse:
        query = request.query
        fields = parse_field_selector(query.get("fieldSelector"), target.res.plural)
        self._authorize(request, "watch", target, fields.value_of("spec.nodeName"))
        labels = parse_label_selector(query.get("labelSelector"))
        timeout = min(
            _int_query(query, "timeoutSeconds", self.settings.max_watch_seconds),
            self.settings.max_watch_seconds,
        )
        bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        res, namespace = target.res, target.namespace
        version = query.get("resourceVersion")

        # Without a version, the current objects come first, as ADDED events.
        initial: list[bytes] = []
        if version in (None, "", "0"):
            listed = await self.registry.list_raw(
                res, namespace, label_selector=labels, field_selector=fields
            )
            version = listed.metadata["resourceVersion"]
            initial = [b'{"type":"ADDED","object":%s}\n' % item for item in listed.items]
        start = check_revision(version) + 1

        # Changes: from the shared fan-out, or for an old version from a store watch of
        # this request's own, whose first answer may still be 410 (before any byte is sent).
        queue: asyncio.Queue[Any] = asyncio.Queue(self.settings.watch_buffer)
        subscription = Subscription(queue, namespace, start, labels, fields)
        broadcaster = await self.watch_cache.subscribe(res, subscription)
        pump_task: asyncio.Task[None] | None = None
        if broadcaster is None:
            events = self.registry.watch(
                res, namespace, start, label_selector=labels, field_selector=fields
            )
            first = asyncio.ensure_future(_next_or_none(events))
            done, _ = await asyncio.wait({first}, timeout=0.05)
            if first in done and first.exception() is not None:
                await events.aclose()
                raise first.exception()  # type: ignore[misc]
            pump_task = asyncio.create_task(_pump_store_watch(first, events, subscription))

        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        self.metrics.watches.labels(res.plural).inc()
        last_revision = version
        try:
            for offset in range(0, len(initial), 500):
                await response.write(b"".join(initial[offset : offset + 500]))
            deadline = time.monotonic() + timeout
            while (remaining := deadline - time.monotonic()) > 0:
                wait = min(remaining, self.settings.bookmark_seconds) if bookmarks else remaining
                try:
                    async with asyncio.timeout(wait):
                        item = await queue.get()
                except TimeoutError:
                    if bookmarks and time.monotonic() < deadline:
                        await response.write(_bookmark(res, last_revision))
                    continue
                # Write everything already waiting in one go: one TLS record, one syscall.
                batch: list[bytes] = []
                while isinstance(item, tuple):
                    last_revision, line = item
                    batch.append(line)
                    item = queue.get_nowait() if not queue.empty() else None
                    if item is None:
                        break
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
                    break
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            if broadcaster is not None:
                broadcaster.unsubscribe(subscription)
            if pump_task is not None:
                pump_task.cancel()
                with contextlib.suppress(BaseException):
                    await pump_task
            self.metrics.watches.labels(res.plural).dec()
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response

    # --- helpers -----------------------------------------------------------------------

    def _authorize(
        self, request: web.Request, verb: str, target: Target, node_selector: str | None = None
    ) -> None:
        auth.authorize(
            request["user"],
            verb,
            target.res,
            target.namespace,
            target.name,
            target.subresource,
            node_selector,
        )

    async def _check_object_access(self, request: web.Request, verb: str, target: Target) -> None:
        if request["user"].role == auth.NODE and target.res.plural == "pods":
            obj = await self.registry.get(target.res, target.namespace, target.name)
            auth.authorize_object(request["user"], verb, target.res, obj)

    async def _namespace_must_exist(self, target: Target) -> None:
        """Objects go only into existing, live namespaces. Positive answers are cached
        for a few seconds (Kubernetes' lifecycle admission reads an informer cache too);
        deleting a namespace through this server drops it from the cache at once."""
        if not target.res.namespaced:
            return
        checked = self._namespaces_seen.get(target.namespace)
        if checked is not None and time.monotonic() - checked < NAMESPACE_CACHE_SECONDS:
            return
        namespaces = BY_PATH[("", "v1", "namespaces")]
        try:
            ns = await self.registry.get(namespaces, "", target.namespace)
        except errors.ApiError as exc:
            if exc.reason == "NotFound":
                raise errors.not_found("namespaces", "", target.namespace) from None
            raise
        if ns["metadata"].get("deletionTimestamp"):
            raise errors.ApiError(
                403,
                "Forbidden",
                f"unable to create new content in namespace "
                f"{target.namespace} because it is being terminated",
            )
        self._namespaces_seen[target.namespace] = time.monotonic()

    async def _empty_namespace(self, namespace: str) -> None:
        """Deleting a namespace deletes what is in it (the namespace controller's job)."""
        for res in BY_PATH.values():
            if res.namespaced:
                await self.registry.delete_collection(
                    res, namespace, {"gracePeriodSeconds": 0}, None, None
                )


async def _pump_store_watch(
    first: asyncio.Future[Any], events: AsyncIterator[Any], subscription: Subscription
) -> None:
    """Feed a request's own store watch into its subscription's queue, as lines."""
    try:
        event = await first
        while event is not None and not subscription.failed:
            line = orjson.dumps({"type": event.type, "object": event.obj}) + b"\n"
            subscription.put((event.obj["metadata"]["resourceVersion"], line))
            event = await _next_or_none(events)
    except errors.ApiError as exc:
        subscription.put(exc)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.bind(error=repr(exc)).opt(exception=exc).error("watch failed")
        subscription.put(errors.internal("the watch failed; watch again"))
    finally:
        with contextlib.suppress(BaseException):
            await events.aclose()


async def _next_or_none(events: AsyncIterator[Any]) -> Any | None:
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


def _target(group: str, version: str, rest: list[str], path: str) -> Target:
    def resource(plural: str) -> Resource:
        found = BY_PATH.get((group, version, plural))
        if found is None:
            raise errors.path_not_found(path)
        return found

    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, plural, tail = rest[1], rest[2], rest[3:]
        if plural in ("status", "finalize") and not tail:  # /namespaces/<name>/status
            return Target(resource("namespaces"), "", namespace, plural)
        res = resource(plural)
        if not res.namespaced:
            raise errors.path_not_found(path)
        if len(tail) > 2:
            raise errors.path_not_found(path)
        return Target(res, namespace, tail[0] if tail else "", tail[1] if len(tail) == 2 else None)
    res = resource(rest[0])
    tail = rest[1:]
    if len(tail) > 2 or (res.namespaced and tail):
        raise errors.path_not_found(path)
    return Target(res, "", tail[0] if tail else "", tail[1] if len(tail) == 2 else None)


def _verb_and_resource(request: web.Request) -> tuple[str, str]:
    parts = [p for p in request.path.split("/") if p]
    resource = ""
    if parts and parts[0] in ("api", "apis"):
        rest = parts[2:] if parts[0] == "api" else parts[3:]
        if rest[:1] == ["namespaces"] and len(rest) >= 3:
            resource = rest[2]
            named = len(rest) >= 4
        else:
            resource = rest[0] if rest else ""
            named = len(rest) >= 2
    else:
        named = False
    method = request.method
    verb = {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, "")
    if method == "GET":
        verb = "watch" if _is_watch(request) else ("get" if named else "list")
    elif method == "DELETE":
        verb = "delete" if named else "deletecollection"
    return verb or method.lower(), resource


def _is_watch(request: web.Request) -> bool:
    return request.method == "GET" and request.query.get("watch") in ("1", "true", "True")


async def _read_json(request: web.Request, check_type: bool = True) -> Any:
    # No Content-Type means JSON, as in Kubernetes (the official Python client relies on it).
    declared = "Content-Type" in request.headers
    if check_type and declared and request.content_type not in JSON_TYPES:
        raise errors.unsupported_media_type(request.content_type, list(JSON_TYPES))
    raw = await request.read()
    if not raw:
        raise errors.bad_request("the request body is empty; send a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise errors.bad_request(f"the request body is not valid JSON: {exc}") from None


async def _delete_options(request: web.Request) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if request.can_read_body:
        raw = await request.read()
        if raw:
            try:
                options = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise errors.bad_request(f"DeleteOptions is not valid JSON: {exc}") from None
            if not isinstance(options, dict):
                raise errors.bad_request("DeleteOptions must be a JSON object")
    if "gracePeriodSeconds" in request.query:
        options["gracePeriodSeconds"] = _int_query(request.query, "gracePeriodSeconds", 0)
    if "propagationPolicy" in request.query:
        options["propagationPolicy"] = request.query["propagationPolicy"]
    policy = options.get("propagationPolicy")
    if policy is not None and policy not in DELETE_PROPAGATION:
        raise errors.bad_request(
            f"propagationPolicy {policy!r} is not one of {', '.join(DELETE_PROPAGATION)}"
        )
    return options


def _int_query(query: Any, name: str, default: int) -> int:
    raw = query.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise errors.bad_request(
            f"query parameter {name}={raw!r} must be a non-negative integer"
        ) from None
    if value < 0:
        raise errors.bad_request(f"query parameter {name}={raw!r} must be a non-negative integer")
    return value


def _json(body: Any, status: int = 200, warnings: tuple[str, ...] = ()) -> web.Response:
    headers = {"Warning": ", ".join(f'299 - "{w}"' for w in warnings)} if warnings else None
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )
