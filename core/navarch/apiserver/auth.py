"""Authentication (bearer tokens from a token file) and authorisation (three roles).

The token file is Kubernetes' static token format, one user a line:
``token,user,uid,"group1,group2"``; it is created 0600 on first start holding an
admin token. Roles come from groups:

* ``system:masters`` -> admin: everything;
* ``system:nodes`` (user ``system:node:<name>``) -> node: its own Node and Lease,
  pods bound to it, events, and the reads an agent needs (Kubernetes' NodeRestriction);
* ``navarch:viewers`` -> viewer: get, list, watch.
"""

from __future__ import annotations

import csv
import io
import os
import secrets
from pathlib import Path
from typing import Any

import attrs

from navarch.apiserver import errors
from navarch.apiserver.resources import Resource

ADMIN, NODE, VIEWER = "admin", "node", "viewer"
_ROLE_GROUPS = {ADMIN: "system:masters", NODE: "system:nodes", VIEWER: "navarch:viewers"}
_READ_VERBS = {"get", "list", "watch"}
NODE_LEASE_NAMESPACE = "kube-node-lease"


@attrs.frozen
class User:
    name: str
    groups: tuple[str, ...]

    @property
    def role(self) -> str | None:
        for role, group in _ROLE_GROUPS.items():
            if group in self.groups:
                return role
        return None

    @property
    def node_name(self) -> str:
        return self.name.removeprefix("system:node:") if self.role == NODE else ""


class TokenFile:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._users: dict[str, User] = {}

    def load_or_create(self) -> TokenFile:
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
            self.add(ADMIN, "admin")
        os.chmod(self.path, 0o600)
        self._users = {}
        for row in csv.reader(io.StringIO(self.path.read_text())):
            if len(row) >= 2 and not row[0].startswith("#"):
                groups = tuple(g for g in (row[3].split(",") if len(row) > 3 else []) if g)
                self._users[row[0]] = User(row[1], groups)
        return self

    def add(self, role: str, name: str) -> str:
        """Append a user with a new token; returns the token."""
        if role not in _ROLE_GROUPS:
            raise ValueError(f"role {role!r} is not one of {', '.join(_ROLE_GROUPS)}")
        token = secrets.token_urlsafe(32)
        user = f"system:node:{name}" if role == NODE else name
        line = io.StringIO()
        csv.writer(line).writerow([token, user, user, _ROLE_GROUPS[role]])
        with open(self.path, "a") as handle:
            handle.write(line.getvalue())
        self._users[token] = User(user, (_ROLE_GROUPS[role],))
        return token

    def token_for(self, user_name: str) -> str | None:
        return next((t for t, u in self._users.items() if u.name == user_name), None)

    def authenticate(self, header: str | None) -> User:
        if not header or not header.startswith("Bearer "):
            raise errors.unauthorized()
        user = self._users.get(header[len("Bearer ") :].strip())
        if user is None:
            raise errors.unauthorized()
        return user


def authorize(
    user: User,
    verb: str,
    res: Resource,
    namespace: str,
    name: str,
    subresource: str | None,
    node_selector: str | None,
) -> None:
    """Raise 403 unless ``user`` may do ``verb`` on the resource (before reading any object)."""
    role = user.role
    if role == ADMIN or (role == VIEWER and verb in _READ_VERBS):
        return
    if role == NODE and _node_may(
        user.node_name, verb, res, namespace, name, subresource, node_selector
    ):
        return
    why = {
        VIEWER: "viewers may only get, list and watch",
        NODE: "a node may only change its own Node and Lease, pods bound to it, and events",
    }.get(role or "", "the user has no role")
    resource = f"{res.plural}/{subresource}" if subresource else res.plural
    raise errors.forbidden(user.name, verb, resource, res.group, namespace, name, why)


def authorize_object(user: User, verb: str, res: Resource, obj: dict[str, Any]) -> None:
    """Checks that need the object: a node reaches only the pods bound to it."""
    if user.role != NODE or res.plural != "pods":
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


def authorize_create(user: User, res: Resource, namespace: str, body: Any) -> None:
    """A node may create only its own Node and Lease (the name is in the body)."""
    if user.role != NODE or res.plural not in ("nodes", "leases"):
        return
    name = ((body or {}).get("metadata") or {}).get("name") if isinstance(body, dict) else None
    if name != user.node_name:
        raise errors.forbidden(
            user.name,
            "create",
            res.plural,
            res.group,
            namespace,
            str(name or ""),
            f"a node may only create its own {res.kind} ({user.node_name})",
        )


def _node_may(
    node: str,
    verb: str,
    res: Resource,
    namespace: str,
    name: str,
    subresource: str | None,
    node_selector: str | None,
) -> bool:
    plural = res.plural
    if plural in ("namespaces",) and verb in _READ_VERBS:
        return True
    if plural == "nodes":
        return verb in _READ_VERBS or (verb in ("create", "update", "patch") and name in (node, ""))
    if plural == "leases":
        return verb in _READ_VERBS or (namespace == NODE_LEASE_NAMESPACE and name in (node, ""))
    if plural == "events":
        return verb in ("create", "update", "patch") or verb in _READ_VERBS
    if plural == "pods":
        if verb in ("list", "watch"):
            return node_selector == node  # only with fieldSelector=spec.nodeName=<itself>
        if (
            verb == "get"
            or verb == "delete"
            or (subresource == "status" and verb in ("update", "patch"))
        ):
            return True  # checked against the object (authorize_object)
    return False
