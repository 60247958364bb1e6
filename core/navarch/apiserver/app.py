"""The aiohttp application: the request path, in the order every request takes it.

    errors/metrics -> RequestInfo -> authenticate -> authorise -> in-flight limit
        -> discovery | watch | verb handlers (generic storage, subresources)

Each step is a middleware that reads what the one before it put on the request; no
step parses the path again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import pluggy
from aiohttp import web
from loguru import logger

from navarch import __version__
from navarch.api.limits import MAX_REQUEST_BODY_BYTES
from navarch.apiserver import (
    accessreview,
    auth,
    authz,
    discovery,
    errors,
    httpio,
    openapi,
    openapi_proto,
    podproxy,
    printers,
    requestinfo,
)
from navarch.apiserver.controlplane import ControlPlaneEndpoints
from navarch.apiserver.crds import CustomResourceDefinitions
from navarch.apiserver.fieldselectors import parse as parse_field_selector
from navarch.apiserver.fieldselectors import parse_label_selector
from navarch.apiserver.handlers import ResourceHandlers
from navarch.apiserver.listbudget import ListBudget, ListResponse
from navarch.apiserver.metrics import Metrics
from navarch.apiserver.namespaces import NamespaceLifecycle
from navarch.apiserver.nodegraph import NodeAuthorizer, NodeGraph
from navarch.apiserver.requestinfo import RequestInfo
from navarch.apiserver.serviceallocation import ServiceAllocator
from navarch.apiserver.storage import Storage
from navarch.apiserver.timed_store import TimedStore
from navarch.apiserver.watch import Watches
from navarch.resources.core.services import SERVICES
from navarch.store import Store

log = logger.bind(component="apiserver")

MAX_BODY_BYTES = MAX_REQUEST_BODY_BYTES
UNAUTHENTICATED_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@attrs.define
class ServerSettings:
    max_inflight: int = 400
    max_list_bytes_in_flight: int = 512 * 1024 * 1024  # see listbudget
    watch_buffer: int = 1000  # events queued for one watcher before it is closed as too slow
    bookmark_seconds: float = 10.0
    max_watch_seconds: int = 1800
    service_cidr: str = "10.43.0.0/16"
    service_node_ports: range = range(30000, 32768)


class Api:
    def __init__(
        self,
        store: Store,
        pm: pluggy.PluginManager,
        tokens: auth.TokenFile,
        settings: ServerSettings | None = None,
    ):
        self.settings = settings or ServerSettings()
        self.metrics = Metrics()
        self.store = TimedStore(store, self.metrics)
        self.storage = Storage(self.store, pm)
        self.namespaces = NamespaceLifecycle(self.storage)
        # ClusterIPs and NodePorts, allocated in the store on every Service write.
        self.service_allocator = ServiceAllocator(
            self.store, self.settings.service_cidr, self.settings.service_node_ports
        )
        self.storage.write_hooks[SERVICES.group_resource] = self.service_allocator.begin
        self.storage.deletion_listeners.append(self.service_allocator.released)
        # The kubernetes Service and its endpoints, started by the server once serving.
        self.control_plane = ControlPlaneEndpoints(
            self.storage, self.store, self.settings.service_cidr
        )
        self.handlers = ResourceHandlers(
            self.storage, self.namespaces, ListBudget(self.settings.max_list_bytes_in_flight)
        )
        self.watches = Watches(
            self.storage,
            self.metrics,
            buffer=self.settings.watch_buffer,
            bookmark_seconds=self.settings.bookmark_seconds,
            max_seconds=self.settings.max_watch_seconds,
        )
        self.tokens = tokens
        self.pm = pm
        # Started by the server once the store answers (list, then watch).
        self.crds = CustomResourceDefinitions(self.storage)
        self.access_review = accessreview.AccessReviewREST(self.storage, pm)
        self.pod_proxy = podproxy.PodProxy(
            self.storage, lambda: tokens.token_for(auth.APISERVER_USER)
        )
        # The token file is this server's own authenticator, a plugin like any other.
        self._token_plugin = pm.register(
            auth.TokenAuthenticator(tokens), name=f"navarch.tokens.{id(self)}"
        )
        # The Node authoriser: what nodes may read for their pods (Secrets, ConfigMaps).
        self.node_graph = NodeGraph(self.store)
        self._node_authorizer = pm.register(
            NodeAuthorizer(self.node_graph), name=f"navarch.nodegraph.{id(self)}"
        )
        self.inflight = 0
        self.ready = False
        self.address = ""

    def begin_shutdown(self) -> None:
        """Stop taking work: not ready, and every open watch ends at once."""
        self.ready = False
        self.watches.close_all()

    async def close(self) -> None:
        self.begin_shutdown()
        self.pm.unregister(name=self._token_plugin)
        self.pm.unregister(name=self._node_authorizer)
        await self.node_graph.close()
        await self.crds.close()
        await self.watches.close()
        await self.pod_proxy.close()
        await self.control_plane.close()
        await self.service_allocator.close()

    # --- application ------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(
            client_max_size=MAX_BODY_BYTES,
            middlewares=[self._errors, self._authenticate, self._authorize, self._limit],
        )
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/livez", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/version", self._version)
        app.router.add_get("/openapi/v2", self._openapi_v2)
        app.router.add_get("/openapi/v3", self._openapi_index)
        app.router.add_get("/openapi/v3/{tail:.*}", self._openapi_document)
        app.router.add_route("*", "/api", self._api_versions)
        app.router.add_route("*", "/apis", self._api_groups)
        app.router.add_route("*", "/api/{tail:.*}", self._resource_or_discovery)
        app.router.add_route("*", "/apis/{tail:.*}", self._resource_or_discovery)
        app.router.add_route("*", "/{tail:.*}", self._unknown_path)
        return app

    # --- middlewares, in request order -------------------------------------------------

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        info = requestinfo.parse(request.method, request.path, request.query)
        request[requestinfo.INFO] = info
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
        verb, resource = info.metric_labels
        if verb != "watch":
            self.metrics.latency.labels(verb, resource).observe(time.perf_counter() - started)
        self.metrics.requests.labels(verb, resource, str(response.status)).inc()
        return response

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path not in UNAUTHENTICATED_PATHS:
            request[requestinfo.USER] = await auth.authenticate(self.pm, request.headers)
        return await handler(request)

    @web.middleware
    async def _authorize(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        info: RequestInfo = request[requestinfo.INFO]
        # Every authenticated user may ask what it may do (as in Kubernetes).
        if info.is_resource_request and not accessreview.handles(info):
            if info.res is None or info.malformed:
                raise errors.path_not_found(request.path)
            if info.subresource and info.subresource not in info.res.subresources:
                raise errors.path_not_found(request.path)
            fields = None
            if info.verb in ("list", "watch", "deletecollection"):
                text = request.query.get("fieldSelector")
                if info.name:  # GET .../pods/<name>?watch=1: a watch of that one object
                    text = ",".join(s for s in (text, f"metadata.name={info.name}") if s)
                fields = parse_field_selector(text, info.res)
                request[requestinfo.FIELDS] = fields
            await authz.authorize(self.pm, request[requestinfo.USER], info, fields)
        return await handler(request)

    @web.middleware
    async def _limit(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        info: RequestInfo = request[requestinfo.INFO]
        if info.verb == "watch" or info.subresource in podproxy.LONG_RUNNING:
            return await handler(request)  # long-running: not counted against the limit
        if self.inflight >= self.settings.max_inflight:
            raise errors.too_many_requests()
        self.inflight += 1
        self.metrics.inflight.set(self.inflight)
        try:
            return await handler(request)
        finally:
            self.inflight -= 1
            self.metrics.inflight.set(self.inflight)

    # --- health, version, metrics, discovery -------------------------------------------

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _readyz(self, request: web.Request) -> web.Response:
        if not self.ready:
            raise errors.unavailable("the API server is not serving (starting or stopping)")
        try:
            await asyncio.wait_for(self.store.current_revision(), 5)
        except Exception as exc:
            raise errors.unavailable(f"the store does not answer: {exc}") from None
        failing = self.store.write_failure()
        if failing:
            raise errors.unavailable(f"the store does not accept writes: {failing}")
        return web.Response(text="ok")

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.render(), content_type="text/plain", charset="utf-8")

    async def _version(self, request: web.Request) -> web.Response:
        return httpio.json_response(discovery.version(__version__))

    async def _api_versions(self, request: web.Request) -> web.Response:
        return httpio.json_response(discovery.api_versions(self.address))

    async def _api_groups(self, request: web.Request) -> web.Response:
        return httpio.json_response(discovery.api_groups())

    async def _openapi_v2(self, request: web.Request) -> web.Response:
        if openapi_proto.wants_protobuf(request.headers.get("Accept")):  # what kubectl reads
            body = openapi.document_v2_protobuf()
            return web.Response(body=body, headers={"Content-Type": openapi_proto.RESPONSE_TYPE})
        return httpio.json_response(openapi.document_v2())

    async def _openapi_index(self, request: web.Request) -> web.Response:
        return httpio.json_response(openapi.index())

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
        return httpio.json_response(found)

    async def _unknown_path(self, request: web.Request) -> web.Response:
        raise errors.path_not_found(request.path)

    # --- resources ---------------------------------------------------------------------

    async def _resource_or_discovery(self, request: web.Request) -> web.StreamResponse:
        info: RequestInfo = request[requestinfo.INFO]
        if not info.is_resource_request:
            return self._discovery(request, info)
        if accessreview.handles(info):
            return await self.access_review.create(request, request[requestinfo.USER])
        if info.subresource in podproxy.SUBRESOURCES:  # declared by the kind (pods)
            return await self.pod_proxy.handle(request, info)
        if info.verb == "watch":
            fields = request[requestinfo.FIELDS]
            labels = parse_label_selector(request.query.get("labelSelector"))
            return await self.watches.serve(request, info, labels, fields)
        # kubectl get asks for Tables (server-side printing); other clients for objects.
        tables = None
        if info.verb in ("get", "list") and not info.subresource:
            tables = printers.TableRequest.of(request.headers.get("Accept"), request.query)
        response = await self.handlers.handle(request, info)
        if isinstance(response, ListResponse) and tables is not None:
            body: Any = response.listed.to_bytes()  # a Table is built whole from the list
            response.reservation.release()
        else:
            body = response.body if isinstance(response, web.Response) else None
        if tables is not None and response.status == 200 and isinstance(body, bytes) and info.res:
            table = tables.of_body(info.res, body)
            return web.Response(body=table, headers={"Content-Type": tables.content_type})
        return response

    def _discovery(self, request: web.Request, info: RequestInfo) -> web.Response:
        if info.api_prefix == "apis" and not info.version:
            found: Any = discovery.api_group(info.group)
        elif info.version:
            found = discovery.resource_list(info.group, info.version)
        else:
            found = None
        if found is None:
            raise errors.path_not_found(request.path)
        return httpio.json_response(found)
