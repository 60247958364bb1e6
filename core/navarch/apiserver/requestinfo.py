"""What a request asks for, parsed once from its method, path and query.

Kubernetes' ``RequestInfoFactory`` does this in a filter before anything else runs; every
later step (metrics, authorisation, admission, the verb handlers) reads the
:class:`RequestInfo` instead of looking at the path again.

Worked examples::

    GET    /api/v1/namespaces/default/pods?watch=1  -> watch pods, ns default
    POST   /api/v1/namespaces/default/pods/p/binding -> create pods, ns default, p, binding
    PATCH  /apis/apps/v1/namespaces/a/deployments/d/scale -> patch deployments, a, d, scale
    DELETE /api/v1/nodes                            -> deletecollection nodes
    GET    /api/v1/namespaces/n                     -> get namespaces, name n
    GET    /api/v1/namespaces/n/status              -> get namespaces, name n, status
    GET    /apis/apps/v1                            -> not a resource request (discovery)
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
from aiohttp import web

from navarch.apiserver.auth import User
from navarch.apiserver.fieldselectors import FieldSelector
from navarch.resources.registry import registry
from navarch.resources.spec import Resource

_METHOD_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}
_METRIC_VERBS = frozenset(
    {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "head"}
)
# Subresources of the namespace object itself: /api/v1/namespaces/<name>/<sub>.
# Subresources that open a session in a container: authorised as "create" even when
# the method is GET (a WebSocket upgrade is always a GET), as Kubernetes does since
# 1.31, so that read-only users can never exec.
_CONNECT_SUBRESOURCES = frozenset({"exec", "attach", "portforward"})
_NAMESPACE_SUBRESOURCES = ("status", "finalize")


@attrs.frozen
class RequestInfo:
    path: str
    verb: str  # get list watch create update patch delete deletecollection, or the method
    is_resource_request: bool = False
    api_prefix: str = ""  # "api" or "apis"
    group: str = ""
    version: str = ""
    plural: str = ""  # the resource as named in the path, even when not served
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    res: Resource | None = None  # the served resource; None when the path names none
    malformed: bool = False  # a resource path with too many or misplaced segments

    @property
    def metric_labels(self) -> tuple[str, str]:
        """(verb, resource) for metrics, from bounded sets: a path or method a client
        makes up must not create new time series."""
        verb = self.verb if self.verb in _METRIC_VERBS else "other"
        if self.res is not None:
            return verb, self.res.plural
        return verb, "other" if self.is_resource_request else ""

    @property
    def resource_label(self) -> str:
        """The resource as metrics name it (``pods``, ``pods/binding``)."""
        return f"{self.plural}/{self.subresource}" if self.subresource else self.plural


# What earlier steps of the request path leave on the request for later ones.
INFO = web.RequestKey("navarch.info", RequestInfo)
USER = web.RequestKey("navarch.user", User)
FIELDS = web.RequestKey("navarch.fields", FieldSelector)


def is_watch(method: str, query: Mapping[str, str]) -> bool:
    return method == "GET" and query.get("watch") in ("1", "true", "True")


def parse(method: str, path: str, query: Mapping[str, str]) -> RequestInfo:
    """Parse a request; never fails (an unknown path is a RequestInfo without ``res``)."""
    parts = [p for p in path.split("/") if p]
    if not parts or parts[0] not in ("api", "apis"):
        return RequestInfo(path, method.lower())
    prefix = parts[0]
    if prefix == "api":
        group, rest = "", parts[1:]
    else:
        group, rest = (parts[1], parts[2:]) if len(parts) > 1 else ("", [])
    if len(rest) < 2:  # /api, /api/v1, /apis, /apis/<g>, /apis/<g>/<v>: discovery
        version = rest[0] if rest else ""
        return RequestInfo(path, method.lower(), api_prefix=prefix, group=group, version=version)
    version, rest = rest[0], rest[1:]

    namespace = name = subresource = ""
    malformed = False
    if rest[0] == "namespaces" and len(rest) >= 3:
        if len(rest) == 3 and rest[2] in _NAMESPACE_SUBRESOURCES:
            plural, name, subresource = "namespaces", rest[1], rest[2]
        else:
            namespace, plural, tail = rest[1], rest[2], rest[3:]
            malformed = len(tail) > 2
            name = tail[0] if tail else ""
            subresource = tail[1] if len(tail) == 2 else ""
    else:
        plural, tail = rest[0], rest[1:]
        malformed = len(tail) > 2
        name = tail[0] if tail else ""
        subresource = tail[1] if len(tail) == 2 else ""

    res = registry().get(group, version, plural)
    if res is not None and res.namespaced != bool(namespace) and not malformed:
        # A namespaced kind at the cluster scope is fine for list/watch/deletecollection
        # of every namespace, but never with a name; a cluster kind never has a namespace.
        malformed = bool(namespace) or bool(name)

    verb = _METHOD_VERBS.get(method, method.lower())
    if method == "GET":
        verb = "watch" if is_watch(method, query) else ("get" if name else "list")
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    if subresource in _CONNECT_SUBRESOURCES and name and method in ("GET", "POST"):
        verb = "create"
    return RequestInfo(
        path,
        verb,
        is_resource_request=True,
        api_prefix=prefix,
        group=group,
        version=version,
        plural=plural,
        namespace=namespace,
        name=name,
        subresource=subresource,
        res=res,
        malformed=malformed,
    )
