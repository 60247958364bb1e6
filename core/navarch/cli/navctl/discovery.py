"""Kinds navctl learns from the server (kubectl's discovery client).

navctl knows the kinds of its own process's registry (the core's, and any plugin
installed beside it). A kind served only by the server — a plugin installed there, a
CustomResourceDefinition — is found through discovery: ``/api`` and ``/apis`` list the
group versions, ``/api/v1`` and ``/apis/<group>/<version>`` their resources. Each
answer becomes a :class:`~navarch.resources.spec.Resource` with no model: navctl
handles such objects as wire dicts (tables come from the server's Table answer, apply
is server-side apply), so it needs nothing more.

Asked only when the registry has no answer, and once per run: the answers are kept on
the :class:`Discovery` of the session (kubectl's disk cache is optional, and a run
makes a handful of requests).

The look-ups are synchronous (the name of a resource is resolved while a verb's
arguments are read): each fetch blocks the event loop for one request, before the verb
has anything else running.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

# Only the standard library at import: every verb sets CURRENT, and `navctl version`
# must not pay for the object model or loguru (what a look-up needs is imported there).
if TYPE_CHECKING:
    from navarch.resources.spec import Resource

Fetch = Callable[[str], Any]
"""GET a discovery path: the decoded JSON answer, None when the server has no such path
(404), an exception a user can act on when it cannot be asked."""

CURRENT: contextvars.ContextVar[Discovery | None] = contextvars.ContextVar(
    "navctl_discovery", default=None
)


class Discovery:
    """The server's resources, fetched on first need and kept for the run."""

    def __init__(self, fetch: Fetch):
        self._fetch = fetch
        self._by_group_version: dict[str, tuple[Resource, ...]] = {}
        self._group_versions: tuple[str, ...] | None = None

    def resolve(self, word: str) -> Resource | None:
        """The resource a plural, singular, short name or kind names (any case,
        optionally ``.group``), as :meth:`ResourceRegistry.resolve` reads it."""
        key = word.lower()
        plain, _, group = key.partition(".")
        for resource in self:
            names = (resource.plural, resource.singular, resource.kind.lower())
            if key in names or key in resource.short_names:
                return resource
            if group and resource.group == group and plain in names:
                return resource
        return None

    def for_kind(self, kind: str, api_version: str) -> Resource | None:
        """The resource of ``kind`` in ``api_version`` (one request, for that version)."""
        for resource in self._resources_of(api_version):
            if resource.kind == kind:
                return resource
        return None

    def __iter__(self) -> Iterator[Resource]:
        for group_version in self._all_group_versions():
            yield from self._resources_of(group_version)

    def _all_group_versions(self) -> tuple[str, ...]:
        if self._group_versions is None:
            core = self._fetch("/api")
            groups = self._fetch("/apis")
            found = [str(v) for v in (core or {}).get("versions") or []]
            for group in (groups or {}).get("groups") or []:
                preferred = (group.get("preferredVersion") or {}).get("groupVersion")
                versions = [v.get("groupVersion") for v in group.get("versions") or []]
                found += [gv for gv in (preferred, *versions) if gv and gv not in found]
            self._group_versions = tuple(found)
        return self._group_versions

    def _resources_of(self, group_version: str) -> tuple[Resource, ...]:
        known = self._by_group_version.get(group_version)
        if known is not None:
            return known
        path = f"/apis/{group_version}" if "/" in group_version else f"/api/{group_version}"
        listed = self._fetch(path)  # None: a group version the server does not serve
        from loguru import logger

        resources = tuple(_resources(group_version, listed or {}))
        logger.bind(
            component="navctl.discovery", group_version=group_version, resources=len(resources)
        ).debug("discovered")
        self._by_group_version[group_version] = resources
        return resources


def _resources(group_version: str, listed: dict[str, Any]) -> Iterator[Resource]:
    """The resources of one APIResourceList (its subresources, ``pods/status``, fold
    into their resource)."""
    from navarch.resources.spec import KNOWN_SUBRESOURCES, Resource, ScalePaths

    group, _, version = group_version.rpartition("/")
    entries = [e for e in listed.get("resources") or [] if isinstance(e, dict)]
    subresources: dict[str, list[str]] = {}
    for entry in entries:
        parent, slash, sub = str(entry.get("name") or "").partition("/")
        if slash and sub in KNOWN_SUBRESOURCES:
            subresources.setdefault(parent, []).append(sub)
    for entry in entries:
        plural = str(entry.get("name") or "")
        if not plural or "/" in plural or not entry.get("kind"):
            continue
        subs = tuple(subresources.get(plural, ()))
        yield Resource(
            group=group,
            version=version,
            kind=str(entry["kind"]),
            plural=plural,
            namespaced=bool(entry.get("namespaced")),
            singular=str(entry.get("singularName") or entry["kind"]).lower(),
            short_names=tuple(entry.get("shortNames") or ()),
            categories=tuple(entry.get("categories") or ()),
            subresources=subs,
            verbs=tuple(entry.get("verbs") or ()),
            scale=ScalePaths() if "scale" in subs else None,
        )
