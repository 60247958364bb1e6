"""Authentication: bearer tokens from a token file, and the roles they carry (the
authoriser, :mod:`navarch.apiserver.authz`, decides what each role may do).

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
import time
from collections.abc import Mapping
from pathlib import Path

import attrs
import pluggy

from navarch import hookimpl
from navarch.apiserver import errors
from navarch.plugins import call_first

ADMIN, NODE, VIEWER = "admin", "node", "viewer"
_ROLE_GROUPS = {ADMIN: "system:masters", NODE: "system:nodes", VIEWER: "navarch:viewers"}
NODE_LEASE_NAMESPACE = "kube-node-lease"
# The API server's own identity towards node agents (pods/log, pods/exec are proxied to
# them): an admin, added to the token file at start when missing.
APISERVER_USER = "system:apiserver"


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
    """The users of a token file. A running server notices users added later
    (``navarch token add`` while it runs): it looks at the file's identity at most once
    a second and reads it again when it changed — no restart needed."""

    RECHECK_SECONDS = 1.0

    def __init__(self, path: Path):
        self.path = Path(path)
        self._users: dict[str, User] = {}
        self._identity: tuple[int, int, int] | None = None
        self._checked_at = 0.0

    def load_or_create(self) -> TokenFile:
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
            self.add(ADMIN, "admin")
        os.chmod(self.path, 0o600)
        self._read()
        return self

    def _read(self) -> None:
        info = os.stat(self.path)
        users = {}
        for row in csv.reader(io.StringIO(self.path.read_text())):
            if len(row) >= 2 and not row[0].startswith("#"):
                groups = tuple(g for g in (row[3].split(",") if len(row) > 3 else []) if g)
                users[row[0]] = User(row[1], groups)
        self._users = users
        self._identity = (info.st_ino, info.st_size, info.st_mtime_ns)
        self._checked_at = time.monotonic()

    def _refresh(self) -> None:
        """Read the file again if it changed since it was read (checked once a second)."""
        now = time.monotonic()
        if now - self._checked_at < self.RECHECK_SECONDS:
            return
        self._checked_at = now
        try:
            info = os.stat(self.path)
            if (info.st_ino, info.st_size, info.st_mtime_ns) != self._identity:
                self._read()
        except OSError:
            pass  # gone or unreadable for a moment: keep the users we know

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

    def ensure(self, role: str, name: str) -> str:
        """The token of user ``name``, adding the user with ``role`` when missing."""
        user = f"system:node:{name}" if role == NODE else name
        return self.token_for(user) or self.add(role, name)

    def token_for(self, user_name: str) -> str | None:
        return next((t for t, u in self._users.items() if u.name == user_name), None)

    def find(self, header: str | None) -> User | None:
        """The user of an ``Authorization: Bearer <token>`` header, if the token is ours."""
        # The scheme is case-insensitive (RFC 7235); Kubernetes accepts "bearer" too.
        scheme, _, token = (header or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        self._refresh()
        return self._users.get(token.strip())

    def authenticate(self, header: str | None) -> User:
        user = self.find(header)
        if user is None:
            raise errors.unauthorized()
        return user


class TokenAuthenticator:
    """The core's authenticator, a plugin object holding one server's token file; it
    runs after any third-party authenticator."""

    def __init__(self, tokens: TokenFile):
        self.tokens = tokens

    @hookimpl(trylast=True)
    def navarch_authenticate(self, headers: Mapping[str, str]) -> User | None:
        return self.tokens.find(headers.get("Authorization"))


async def authenticate(pm: pluggy.PluginManager, headers: Mapping[str, str]) -> User:
    """The request's user, from the first authenticator that recognises it; else 401."""
    user = await call_first(pm, "navarch_authenticate", headers=headers)
    if user is None:
        raise errors.unauthorized()
    return user
