"""Authorisation: may this user do this request? Decided once per request from its
:class:`~navarch.apiserver.requestinfo.RequestInfo`, before any handler runs, by the
``navarch_authorize`` hook: plugins first, this module's role authoriser (a plugin
in ``DEFAULT_PLUGINS`` like any other) last.

Roles (from the token's groups, see :mod:`navarch.apiserver.auth`):

* admin (``system:masters``): everything;
* viewer (``navarch:viewers``): get, list, watch (so ``pods/log`` too, but never
  ``pods/exec``, which is ``create`` whatever the method, see requestinfo);
* node (``system:nodes``, user ``system:node:<name>``): Kubernetes' Node authoriser —
  its own Node and Lease, pods bound to it, events, the reads an agent needs (Services
  and EndpointSlices for its Service proxy). What a
  node may *change* on its own Node is then limited by the NodeRestriction admission
  plugin (:mod:`navarch.apiserver.noderestriction`). The Secrets, ConfigMaps, claims
  and volumes of its pods it may read one by one: the roles refuse them, marked
  ``node_graph``, and each API server's
  :class:`~navarch.apiserver.nodegraph.NodeAuthorizer` (a hook wrapper) turns such a
  refusal into an allow when its graph shows a pod of the node referencing the object.

A node never gets a collection verb that reaches other nodes' objects: it lists pods
only with ``fieldSelector=spec.nodeName=<itself>``, and never deletes a collection.
"""

from __future__ import annotations

from typing import Any

import attrs
import pluggy

from navarch import hookimpl
from navarch.apiserver import errors
from navarch.apiserver.auth import ADMIN, NODE, NODE_LEASE_NAMESPACE, VIEWER, User
from navarch.apiserver.fieldselectors import FieldSelector
from navarch.apiserver.requestinfo import RequestInfo
from navarch.plugins import call_first
from navarch.resources.spec import Resource

READ_VERBS = frozenset({"get", "list", "watch"})
# What a node reads only for the pods bound to it, through the Node authoriser's graph.
GRAPH_RESOURCES = frozenset(
    {"secrets", "configmaps", "persistentvolumeclaims", "persistentvolumes"}
)
_WRITE_VERBS = frozenset({"create", "update", "patch"})
# What a node's Service proxy reads, every namespace's: (plural, group).
_PROXY_READS = frozenset({("services", ""), ("endpointslices", "discovery.k8s.io")})


@attrs.frozen
class Decision:
    """An authoriser's answer: allowed, or denied with a reason the 403 shows."""

    allowed: bool
    reason: str = ""
    # The roles refused a node a Secret, ConfigMap, claim or volume: the Node
    # authoriser's graph (navarch.apiserver.nodegraph) allows it if a pod of the node
    # references it. Only the roles set it, so a plugin's own denial stands.
    node_graph: bool = attrs.field(default=False, kw_only=True)

    @classmethod
    def allow(cls) -> Decision:
        return cls(True)

    @classmethod
    def deny(cls, reason: str) -> Decision:
        return cls(False, reason)


async def decide(
    pm: pluggy.PluginManager, user: User, info: RequestInfo, fields: FieldSelector | None
) -> Decision:
    """The authorisers' answer (plugins first, the roles last); the request path and
    SelfSubjectAccessReview both ask here, so they never disagree."""
    decision = await call_first(
        pm, "navarch_authorize", user=user, info=info, field_selector=fields
    )
    return decision if decision is not None else Decision.deny("no authoriser allowed it")


async def authorize(
    pm: pluggy.PluginManager, user: User, info: RequestInfo, fields: FieldSelector | None
) -> None:
    """Ask the authorisers; raise 403 on a denial."""
    decision = await decide(pm, user, info, fields)
    if not decision.allowed:
        why = decision.reason
        res = info.res
        group = res.group if res is not None else info.group
        raise errors.forbidden(
            user.name, info.verb, info.resource_label, group, info.namespace, info.name, why
        )


@hookimpl(trylast=True)
def navarch_authorize(
    user: User, info: RequestInfo, field_selector: FieldSelector | None
) -> Decision:
    """The core's roles: admin, viewer, node (always decides)."""
    role = user.role
    if role == ADMIN or (role == VIEWER and info.verb in READ_VERBS):
        return Decision.allow()
    node_selector = field_selector.value_of("spec.nodeName") if field_selector else None
    if role == NODE and _node_may(user.node_name, info, node_selector):
        return Decision.allow()
    if role == NODE and info.plural in GRAPH_RESOURCES and not info.group:
        # Kubernetes' words, unless the Node authoriser finds a pod of this node that
        # references the object (navarch.apiserver.nodegraph, wrapping this hook).
        return Decision(
            False,
            f"no relationship found between node '{user.node_name}' and this object",
            node_graph=True,
        )
    return Decision.deny(
        {
            VIEWER: "viewers may only get, list and watch",
            NODE: "a node may only change its own Node and Lease, pods bound to it, and events",
        }.get(role or "", "the user has no role")
    )


def _node_may(node: str, info: RequestInfo, node_selector: str | None) -> bool:
    verb, plural, name = info.verb, info.plural, info.name
    if verb == "deletecollection":
        return False  # would reach every node's objects
    if plural == "namespaces":
        return verb in READ_VERBS and not info.subresource
    if plural == "nodes":
        if verb in READ_VERBS:
            return True
        # create names the node in the body (checked by authorize_create)
        return (verb == "create" and not name) or (verb in _WRITE_VERBS and name == node)
    if plural == "leases":
        if verb == "get":
            return True  # as Kubernetes' system:node role; never list or watch them all
        if info.namespace != NODE_LEASE_NAMESPACE:
            return False
        return (verb == "create" and not name) or (
            verb in (*_WRITE_VERBS, "delete") and name == node
        )
    if plural == "events":
        return verb in READ_VERBS or verb in _WRITE_VERBS
    if (plural, info.group) in _PROXY_READS and not info.subresource:
        # The node's Service proxy (navarch.proxy) reads them all, as Kubernetes'
        # system:node and system:node-proxier roles allow; never a write.
        return verb in READ_VERBS
    if plural == "pods":
        if verb in ("list", "watch"):
            return node_selector == node  # only with fieldSelector=spec.nodeName=<itself>
        if info.subresource:
            return info.subresource == "status" and verb in ("get", "update", "patch")
        return verb in ("get", "delete")  # checked against the object (authorize_object)
    if plural == "persistentvolumes" and not info.group and not info.subresource:
        # The agent's local-path clean-up (navarch.agent.localpath) watches volumes and
        # releases its finalizer on those pinned to its node (checked on the object).
        return verb in ("list", "watch", "update", "patch")
    return False


def needs_object(user: User, res: Resource) -> bool:
    """Whether :func:`authorize_object` has anything to check (saves a read otherwise)."""
    return user.role == NODE and res.plural in ("pods", "persistentvolumes") and not res.group


def authorize_object(user: User, verb: str, res: Resource, obj: dict[str, Any]) -> None:
    """Checks that need the object: a node reaches only the pods bound to it."""
    if not needs_object(user, res):
        return
    if res.plural == "persistentvolumes":
        _authorize_volume(user, verb, obj)
        return
    bound_to = (obj.get("spec") or {}).get("nodeName")
    if bound_to != user.node_name:
        meta = obj.get("metadata", {})
        raise errors.forbidden(
            user.name,
            verb,
            "pods",
            "",
            meta.get("namespace", ""),
            meta.get("name", ""),
            f"the pod is not bound to node {user.node_name}",
        )


def _authorize_volume(user: User, verb: str, obj: dict[str, Any]) -> None:
    """A node changes only a volume pinned to it (reads are the Node authoriser's)."""
    if verb in READ_VERBS:
        return
    from navarch.api.core_v1_storage import PersistentVolume
    from navarch.api.volume_binding import pinned_node

    if pinned_node(PersistentVolume.from_dict(obj)) != user.node_name:
        meta = obj.get("metadata", {})
        raise errors.forbidden(
            user.name,
            verb,
            "persistentvolumes",
            "",
            "",
            meta.get("name", ""),
            f"the volume is not pinned to node {user.node_name}",
        )
