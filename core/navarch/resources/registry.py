"""The one registry of served kinds (Kubernetes' scheme + REST storage map).

Every kind comes in through the ``navarch_register_resources`` hook — the core's own
through the default plugin :mod:`navarch.resources.core` — as a
:class:`~navarch.resources.spec.Resource`. Discovery, OpenAPI, request parsing, the
generic storage, the watch cache, Table printing, the client and navctl all read this
registry; nothing else lists kinds.

The registry can change while the server runs (a CustomResourceDefinition adds or
removes a kind): :meth:`ResourceRegistry.add` and :meth:`~ResourceRegistry.remove` bump
:attr:`~ResourceRegistry.revision` and call the listeners registered with
:meth:`~ResourceRegistry.subscribe`, so caches built from it (the OpenAPI document,
discovery) know to rebuild. Reads are plain dict look-ups: the request path pays nothing
for the registry being mutable.

One registry per process (:func:`registry`), as Kubernetes has one scheme: it starts
with the core's kinds, and :func:`navarch.registry.collect` adds every installed
plugin's when a daemon assembles its plugins. A process that never assembles plugins
(navctl, a script using the client) knows the core's kinds and learns others from the
server's discovery.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal

import attrs

from navarch.resources.spec import Resource

if TYPE_CHECKING:
    from navarch.api.schema import Model

Change = Literal["ADDED", "REMOVED"]
Listener = Callable[[Change, Resource], None]
CORE_PLUGIN = "navarch.resources.core.plugin"


class UnknownKind(LookupError):
    """``apiVersion``/``kind`` names nothing Navarch serves; the message lists what it does."""


class ResourceClash(ValueError):
    """Two plugins registered the same resource, kind or short name."""


class InvalidResource(ValueError):
    """A plugin registered a spec that cannot be served."""


@attrs.frozen
class Registered:
    resource: Resource
    plugin: str


class ResourceRegistry:
    def __init__(self) -> None:
        self.revision = 0
        self._lock = threading.Lock()  # writers only; readers see whole dict swaps
        self._entries: dict[tuple[str, str], Registered] = {}  # (group, plural)
        self._listeners: list[Listener] = []
        self._reindex()

    # --- writes ----------------------------------------------------------------------

    def add(self, resource: Resource, *, plugin: str) -> None:
        """Serve ``resource``. The same spec again from the same plugin is a no-op (a
        process may assemble its plugins more than once); a clash with another
        plugin's resource, kind or short name raises :class:`ResourceClash`."""
        if not isinstance(resource, Resource):
            raise InvalidResource(
                f"plugin {plugin!r} registered {resource!r}, not a navarch.resources.Resource"
            )
        problems = resource.problems()
        if problems:
            raise InvalidResource(
                f"plugin {plugin!r} registered resource {resource.group_resource!r}: "
                + "; ".join(problems)
            )
        with self._lock:
            existing = self._entries.get((resource.group, resource.plural))
            if existing is not None and existing.resource is resource:
                return
            for other in self._entries.values():
                clash = _clash(other.resource, resource)
                if clash:
                    raise ResourceClash(
                        f"{clash} is registered by both plugin {other.plugin!r} "
                        f"({other.resource.group_resource}) and plugin {plugin!r} "
                        f"({resource.group_resource}); disable one with NAVARCH_DISABLE_PLUGINS"
                    )
            self._entries = {
                **self._entries,
                (resource.group, resource.plural): Registered(resource, plugin),
            }
            self._reindex()
        self._notify("ADDED", resource)

    def remove(self, group: str, plural: str) -> Resource | None:
        """Stop serving ``plural.group``; returns the spec removed (None: none was)."""
        with self._lock:
            entry = self._entries.get((group, plural))
            if entry is None:
                return None
            self._entries = {k: v for k, v in self._entries.items() if k != (group, plural)}
            self._reindex()
        self._notify("REMOVED", entry.resource)
        return entry.resource

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(change, resource)`` after every add and remove; returns the
        function that unsubscribes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    # --- reads -----------------------------------------------------------------------

    def get(self, group: str, version: str, plural: str) -> Resource | None:
        """The resource a URL path names."""
        return self._by_path.get((group, version, plural))

    def for_kind(self, kind: str, api_version: str | None = None) -> Resource | None:
        """The resource of ``kind`` (in ``api_version``, when given)."""
        if api_version is not None:
            return self._by_gvk.get((api_version, kind))
        return self._by_kind.get(kind)

    def resolve(self, name: str) -> Resource | None:
        """What kubectl accepts for a resource: plural, singular, short name or kind (any
        case), optionally followed by ``.group`` (``deployments.apps``, ``deploy``)."""
        key = name.lower()
        found = self._by_name.get(key)
        if found is None and "." in key:
            plain, _, group = key.partition(".")
            found = self._by_name.get(plain)
            if found is not None and found.group != group:
                found = None
        return found

    def model_for(self, api_version: Any, kind: Any) -> type[Model]:
        """The attrs class of ``apiVersion``/``kind`` (or of its List)."""
        cls = self._models.get((api_version, kind))
        if cls is None:
            served = ", ".join(f"{r.group_version}/{r.kind}" for r in self)
            raise UnknownKind(
                f"no kind {kind!r} in apiVersion {api_version!r}; Navarch serves: {served}"
            )
        return cls

    def plugin_of(self, resource: Resource) -> str:
        return self._entries[(resource.group, resource.plural)].plugin

    def groups(self) -> dict[str, list[Resource]]:
        """API group name ('' for core) -> its resources."""
        out: dict[str, list[Resource]] = {}
        for resource in self:
            out.setdefault(resource.group, []).append(resource)
        return out

    def __iter__(self) -> Iterator[Resource]:
        return iter(self._ordered)

    def __len__(self) -> int:
        return len(self._ordered)

    def __contains__(self, resource: object) -> bool:
        return any(resource is r for r in self._ordered)

    # --- internals -------------------------------------------------------------------

    def _reindex(self) -> None:
        """Rebuild the look-up tables; each is swapped in whole, so a reader on another
        thread sees the old table or the new one, never half of either."""
        ordered = tuple(entry.resource for entry in self._entries.values())
        by_name: dict[str, Resource] = {}
        by_kind: dict[str, Resource] = {}
        models: dict[tuple[str, str], type[Model]] = {}
        for r in reversed(ordered):  # the first registered wins an ambiguous name
            for name in (r.kind.lower(), r.singular, *r.short_names, r.plural):
                by_name[name] = r
            by_kind[r.kind] = r
        for r in ordered:
            if r.model is not None:
                models[(r.group_version, r.kind)] = r.model
            if r.list_model is not None:
                models[(r.group_version, f"{r.kind}List")] = r.list_model
        self._ordered = ordered
        self._by_path = {(r.group, r.version, r.plural): r for r in ordered}
        self._by_gvk = {(r.group_version, r.kind): r for r in ordered}
        self._by_kind = by_kind
        self._by_name = by_name
        self._models = models
        self.revision += 1

    def _notify(self, change: Change, resource: Resource) -> None:
        for listener in list(self._listeners):
            listener(change, resource)


def _clash(a: Resource, b: Resource) -> str:
    """What ``a`` and ``b`` both claim ('' when nothing)."""
    if (a.group, a.plural) == (b.group, b.plural):
        return f"resource {b.group_resource!r}"
    if (a.group, a.kind) == (b.group, b.kind):
        return f"kind {b.kind!r} in group {b.group or 'core'!r}"
    shared = sorted(set(a.short_names) & set(b.short_names))
    if shared:
        return f"short name {shared[0]!r}"
    return ""


_REGISTRY: ResourceRegistry | None = None
_REGISTRY_LOCK = threading.Lock()


def registry() -> ResourceRegistry:
    """The process's registry, holding the core's kinds from the first call on."""
    global _REGISTRY
    if _REGISTRY is None:
        with _REGISTRY_LOCK:
            if _REGISTRY is None:
                # What the core plugin registers, without loading pluggy: navctl reads
                # this registry on every command.
                from navarch.resources.core import CORE_RESOURCES

                made = ResourceRegistry()
                for resource in CORE_RESOURCES:
                    made.add(resource, plugin=CORE_PLUGIN)
                _REGISTRY = made
    return _REGISTRY
