"""The verbs on a resource: what each HTTP request does once it is parsed
(:mod:`~navarch.apiserver.requestinfo`) and authorised. Handlers read the body and the
query, call the generic storage, and answer; the storage owns object semantics."""

from __future__ import annotations

import copy

import attrs
from aiohttp import web

from navarch.apiserver import apply, authz, errors, httpio, patch, requestinfo
from navarch.apiserver.apply import writes as field_management
from navarch.apiserver.eviction import EvictionREST
from navarch.apiserver.fieldselectors import parse_label_selector
from navarch.apiserver.listbudget import ListBudget, ListResponse
from navarch.apiserver.namespaces import NamespaceLifecycle
from navarch.apiserver.objects import Obj, WriteContext, now
from navarch.apiserver.requestinfo import RequestInfo
from navarch.apiserver.storage import Storage
from navarch.apiserver.subresources import PATCH_TYPES, BindingREST, ScaleREST
from navarch.resources.spec import Resource


class ResourceHandlers:
    def __init__(self, storage: Storage, namespaces: NamespaceLifecycle, list_budget: ListBudget):
        self.storage = storage
        self.list_budget = list_budget
        self.namespaces = namespaces
        self.binding = BindingREST(storage)
        self.eviction = EvictionREST(storage)
        self.scale = ScaleREST(storage)

    async def handle(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        """Route a parsed, authorised resource request to its verb."""
        res = info.res
        assert res is not None
        ctx = write_context(request, info)
        if info.subresource == "binding":
            if info.verb != "create":
                raise errors.method_not_allowed(request.method, request.path)
            return await self.binding.create(request, info, ctx)
        if info.subresource == "eviction":
            if info.verb != "create":
                raise errors.method_not_allowed(request.method, request.path)
            await self._check_access(request, res, info)
            return await self.eviction.create(request, info, ctx)
        if info.subresource == "scale":
            if info.verb == "get":
                return httpio.json_response(await self.scale.get(info))
            if info.verb in ("update", "patch"):
                return httpio.json_response(await self.scale.update(request, info, ctx))
            raise errors.method_not_allowed(request.method, request.path)
        verb = info.verb
        if verb == "list":
            return await self.list(request, res, info)
        if verb == "create" and not info.name:
            return await self.create(request, res, info, ctx)
        if verb == "deletecollection":
            return await self.delete_collection(request, res, info, ctx)
        if not info.name:
            raise errors.method_not_allowed(request.method, request.path)
        if verb == "get":
            obj = await self.storage.get(res, info.namespace, info.name)
            authz.authorize_object(request[requestinfo.USER], verb, res, obj)
            return httpio.json_response(obj)
        if verb == "update":
            return await self.update(request, res, info, ctx)
        if verb == "patch":
            return await self.patch(request, res, info, ctx)
        if verb == "delete" and not info.subresource:
            return await self.delete(request, res, info, ctx)
        raise errors.method_not_allowed(request.method, request.path)

    async def list(
        self, request: web.Request, res: Resource, info: RequestInfo
    ) -> web.StreamResponse:
        query = request.query
        reservation = self.list_budget.reservation()
        try:
            result = await self.storage.list_raw(
                res,
                info.namespace,
                label_selector=parse_label_selector(query.get("labelSelector")),
                field_selector=request[requestinfo.FIELDS],
                limit=httpio.int_query(query, "limit", 0),
                continue_token=query.get("continue") or None,
                reserve=reservation.take,
            )
        except BaseException:
            reservation.release()
            raise
        return ListResponse(result, reservation, request.path)

    async def create(
        self, request: web.Request, res: Resource, info: RequestInfo, ctx: WriteContext
    ) -> web.Response:
        body = await httpio.read_json(request)
        await self.namespaces.must_accept(res, info.namespace)
        written = await self.storage.create(res, info.namespace, body, ctx)
        return httpio.json_response(written.obj, status=201, warnings=written.warnings)

    async def update(
        self, request: web.Request, res: Resource, info: RequestInfo, ctx: WriteContext
    ) -> web.Response:
        body = await httpio.read_json(request)
        await self._check_access(request, res, info)
        written = await self.storage.update(res, info.namespace, info.name, body, ctx)
        return httpio.json_response(written.obj, warnings=written.warnings)

    async def patch(
        self, request: web.Request, res: Resource, info: RequestInfo, ctx: WriteContext
    ) -> web.Response:
        content_type = request.content_type
        if content_type == apply.CONTENT_TYPE:
            return await self.server_side_apply(request, res, info, ctx)
        if content_type not in patch_types(res):
            raise errors.unsupported_media_type(
                content_type, [*patch_types(res), apply.CONTENT_TYPE]
            )
        body = await httpio.read_json(request, check_type=False)
        await self._check_access(request, res, info)

        def apply_patch(current: Obj) -> Obj:
            # The patch is applied to the current object each attempt, so a
            # resourceVersion in the result that differs from the current one was put
            # there by the patch: a precondition. The patch sees the current one (kubectl
            # writes its precondition as a JSON patch "replace" of it).
            version = current["metadata"].get("resourceVersion")
            patched = patch.apply(content_type, current, copy.deepcopy(body))
            if not isinstance(patched, dict):
                raise patch.invalid_patch("the result is not an object")
            metadata = patched.setdefault("metadata", {})
            if isinstance(metadata, dict) and metadata.get("resourceVersion") in (None, ""):
                metadata["resourceVersion"] = version
            return patched

        written = await self.storage.guaranteed_update(
            res, info.namespace, info.name, apply_patch, ctx
        )
        return httpio.json_response(written.obj, warnings=written.warnings)

    async def server_side_apply(
        self, request: web.Request, res: Resource, info: RequestInfo, ctx: WriteContext
    ) -> web.Response:
        """PATCH with application/apply-patch+yaml: merge the manager's configuration,
        owning what it sets (409 on another manager's fields unless forced); an object
        that does not exist yet is created from it."""
        config = await field_management.read_config(request)
        manager = apply.Manager(ctx.field_manager, apply.APPLY, res.group_version, ctx.subresource)
        force = field_management.forced(request)
        untracked = field_management.untracked(res.has_status, ctx.subresource)
        ctx = attrs.evolve(ctx, applied=True)

        def merge(current: Obj | None) -> Obj:
            return apply.apply(current, config, manager, now(), force=force, untracked=untracked)

        for _ in range(2):  # a create that loses to another create applies to the winner
            try:
                await self._check_access(request, res, info)
                written = await self.storage.guaranteed_update(
                    res, info.namespace, info.name, merge, ctx
                )
                return httpio.json_response(written.obj, warnings=written.warnings)
            except errors.ApiError as exc:
                if exc.reason != "NotFound" or ctx.subresource:
                    raise
            created = merge(None)
            created_name = (created.get("metadata") or {}).get("name")
            if created_name not in (None, "", info.name):
                raise errors.bad_request(
                    f"the name of the object ({created_name}) does not match the name on "
                    f"the URL ({info.name})"
                )
            created["metadata"]["name"] = info.name
            await self.namespaces.must_accept(res, info.namespace)
            try:
                written = await self.storage.create(res, info.namespace, created, ctx)
            except errors.ApiError as exc:
                if exc.reason != "AlreadyExists":
                    raise
                continue
            return httpio.json_response(written.obj, status=201, warnings=written.warnings)
        raise errors.conflict(res.plural, res.group, info.name)

    async def delete(
        self, request: web.Request, res: Resource, info: RequestInfo, ctx: WriteContext
    ) -> web.Response:
        options = await httpio.delete_options(request)
        ctx = _with_body_dry_run(ctx, options)
        await self._check_access(request, res, info)
        deleted = await self.storage.delete(res, info.namespace, info.name, options, ctx)
        return httpio.json_response(deleted)

    async def delete_collection(
        self, request: web.Request, res: Resource, info: RequestInfo, ctx: WriteContext
    ) -> web.Response:
        options = await httpio.delete_options(request)
        result = await self.storage.delete_collection(
            res,
            info.namespace,
            options,
            parse_label_selector(request.query.get("labelSelector")),
            request[requestinfo.FIELDS],
            _with_body_dry_run(ctx, options),
        )
        return httpio.json_response(result)

    async def _check_access(self, request: web.Request, res: Resource, info: RequestInfo) -> None:
        """Rules that need the object itself (a node reaches only pods bound to it)."""
        if authz.needs_object(request[requestinfo.USER], res):
            obj = await self.storage.get(res, info.namespace, info.name)
            authz.authorize_object(request[requestinfo.USER], info.verb, res, obj)


def patch_types(res: Resource) -> tuple[str, ...]:
    """The patch types ``res`` takes: a strategic merge patch needs the model's keyed
    lists, so unstructured (custom) objects take merge and JSON patches only, as
    Kubernetes' custom resources do (415 for a strategic merge patch)."""
    if res.unstructured:
        return tuple(t for t in PATCH_TYPES if t != patch.STRATEGIC)
    return PATCH_TYPES


def write_context(request: web.Request, info: RequestInfo) -> WriteContext:
    writing = request.method in ("POST", "PUT", "PATCH")
    dry = httpio.dry_run(request) if writing or request.method == "DELETE" else False
    return WriteContext(
        user=request.get(requestinfo.USER),
        subresource=info.subresource,
        dry_run=dry,
        field_manager=field_management.request_manager(request) if writing else "",
        field_validation=httpio.field_validation(request),
    )


def _with_body_dry_run(ctx: WriteContext, options: dict[str, object]) -> WriteContext:
    return attrs.evolve(ctx, dry_run=True) if options.get("dryRun") else ctx
