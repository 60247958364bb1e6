"""SelfSubjectAccessReview (``authorization.k8s.io/v1``): "may I do this?", answered
by the same authorisers the request path asks (:func:`navarch.apiserver.authz.decide`).

It is what ``kubectl auth can-i`` sends, and how a node agent checks the token a
caller presents on its streaming port (logs, exec) without holding the token file::

    POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews
    {"spec": {"resourceAttributes": {"namespace": "default", "verb": "create",
              "resource": "pods", "subresource": "exec", "name": "web"}}}
    -> 201 {... "status": {"allowed": false, "reason": "viewers may only get, list and watch"}}

Like Kubernetes, every authenticated user may ask about itself (the request is not
itself authorised), and the review is not stored.
"""

from __future__ import annotations

from typing import Any

import pluggy
from aiohttp import web

from navarch.apiserver import authz, errors, httpio
from navarch.apiserver.auth import User
from navarch.apiserver.requestinfo import RequestInfo
from navarch.apiserver.storage import Storage
from navarch.resources.registry import registry
from navarch.resources.spec import Resource

GROUP, VERSION, PLURAL = "authorization.k8s.io", "v1", "selfsubjectaccessreviews"
KIND = "SelfSubjectAccessReview"
# What discovery lists for the group (create only: a review is never stored).
DISCOVERY_ENTRY: dict[str, Any] = {
    "name": PLURAL,
    "singularName": "selfsubjectaccessreview",
    "namespaced": False,
    "kind": KIND,
    "verbs": ["create"],
}
_ATTRIBUTES = ("namespace", "verb", "group", "version", "resource", "subresource", "name")


def handles(info: RequestInfo) -> bool:
    """Whether the request is a SelfSubjectAccessReview (served here, not by storage)."""
    return (
        info.is_resource_request
        and (info.group, info.version, info.plural) == (GROUP, VERSION, PLURAL)
        and not info.namespace
        and not info.name
    )


class AccessReviewREST:
    def __init__(self, storage: Storage, pm: pluggy.PluginManager):
        self.storage = storage
        self.pm = pm

    async def create(self, request: web.Request, user: User) -> web.Response:
        if request.method != "POST":
            raise errors.method_not_allowed(request.method, request.path)
        body = await httpio.read_json(request)
        spec = body.get("spec") if isinstance(body, dict) else None
        if not isinstance(spec, dict):
            raise _invalid("spec", "Required value: a SelfSubjectAccessReview needs a spec")
        resource_attrs = spec.get("resourceAttributes")
        non_resource = spec.get("nonResourceAttributes")
        if (resource_attrs is None) == (non_resource is None):
            raise _invalid(
                "spec",
                "Invalid value: exactly one of resourceAttributes, nonResourceAttributes "
                "must be set",
            )
        if resource_attrs is not None:
            allowed, reason = await self._review_resource(user, _attributes(resource_attrs))
        else:
            # Navarch authorises only resource requests; its other paths (discovery,
            # /version, /healthz, /openapi) are open to every authenticated user.
            allowed, reason = True, "non-resource paths are open to every authenticated user"
        status: dict[str, Any] = {"allowed": allowed}
        if not allowed:
            status["denied"] = True
        if reason:
            status["reason"] = reason
        review = {
            "kind": KIND,
            "apiVersion": f"{GROUP}/{VERSION}",
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": status,
        }
        return httpio.json_response(review, status=201)

    async def _review_resource(self, user: User, attrs: dict[str, str]) -> tuple[bool, str]:
        res = _served(attrs["group"], attrs["version"], attrs["resource"])
        verb = attrs["verb"]
        info = RequestInfo(
            "",
            verb,
            is_resource_request=True,
            api_prefix="apis" if attrs["group"] else "api",
            group=attrs["group"],
            version=res.version if res is not None else attrs["version"],
            plural=attrs["resource"],
            namespace=attrs["namespace"] if res is None or res.namespaced else "",
            name=attrs["name"],
            subresource=attrs["subresource"],
            res=res,
        )
        decision = await authz.decide(self.pm, user, info, None)
        if not decision.allowed:
            return False, decision.reason
        if res is not None and attrs["name"] and authz.needs_object(user, res):
            # The request path checks these against the object (a node reaches only
            # the pods bound to it): so does the review, or it would promise too much.
            try:
                obj = await self.storage.get(res, info.namespace, attrs["name"])
                authz.authorize_object(user, verb, res, obj)
            except errors.ApiError as exc:
                return False, exc.message
        return True, ""


def _attributes(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise _invalid("spec.resourceAttributes", "Invalid value: must be an object")
    out = {}
    for key in _ATTRIBUTES:
        value = raw.get(key) or ""
        if not isinstance(value, str):
            raise _invalid(f"spec.resourceAttributes.{key}", "Invalid value: must be a string")
        out[key] = value
    if not out["verb"]:
        raise _invalid("spec.resourceAttributes.verb", "Required value")
    if not out["resource"]:
        raise _invalid("spec.resourceAttributes.resource", "Required value")
    return out


def _served(group: str, version: str, plural: str) -> Resource | None:
    for res in registry():
        if res.group == group and res.plural == plural and version in ("", res.version):
            return res
    return None


def _invalid(field: str, message: str) -> errors.ApiError:
    return errors.invalid(
        KIND, GROUP, "", [{"reason": "FieldValueInvalid", "message": message, "field": field}]
    )
