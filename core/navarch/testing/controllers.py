"""Testing a controller's sync without an API server: a fake cluster whose client
records every call, and whose shared informers start out holding what the test put
in (synced, no watch).

    cluster = FakeCluster()
    cluster.add(replicaset, pod_a, pod_b)          # the store and the caches
    controller = ReplicaSetController(cluster.context("replicaset"))
    await controller.sync("default/web")
    assert cluster.verbs("pods") == [("create", "default", "")]   # what it asked for
    cluster.sync_informers()                       # the caches catch up, as a watch would

Writes go to the fake store (resourceVersion counted up, uid and creationTimestamp
set, a stale resourceVersion on update is a Conflict, deletion honours grace periods,
finalizers and uid preconditions as the API server does) but reach the informers'
caches only at :meth:`FakeCluster.sync_informers`: a controller is thus tested as it
runs, a step ahead of its caches. Patches are applied as merge patches (strategic
merge for the core kinds where list keys matter is the API server's job).
"""

from __future__ import annotations

import copy
import itertools
import uuid
from typing import Any

import attrs

from navarch import api
from navarch.api.selectors import parse as parse_selector
from navarch.api.timefmt import rfc3339
from navarch.apiserver.patch import apply as apply_patch
from navarch.client.client import MERGE_PATCH, Listed
from navarch.client.errors import AlreadyExists, ApiException, Conflict, NotFound
from navarch.client.events import EventRecorder
from navarch.client.informer import Informer
from navarch.client.sharedinformers import SharedInformerFactory
from navarch.controllers.context import ControllerContext
from navarch.resources.registry import registry
from navarch.resources.spec import Resource

# Kinds whose metadata.generation counts spec changes (as the API server's strategies).
_GENERATIONS = {"replicasets", "deployments"}


@attrs.frozen
class Action:
    """One call the controller made: ``verb`` (create, update, update_status, patch,
    delete, delete_collection, bind), resource plural, namespace, name, body."""

    verb: str
    resource: str
    namespace: str
    name: str
    body: Any = None


class FakeCluster:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.actions: list[Action] = []
        self._versions = itertools.count(1)
        self.client = FakeClient(self)
        self.informers = _FakeInformerFactory(self)

    # --- the test's side -------------------------------------------------------------

    def add(self, *objects: Any) -> None:
        """Put objects (model objects or dicts) into the store and the caches."""
        for obj in objects:
            body = copy.deepcopy(api.dump(obj) if not isinstance(obj, dict) else obj)
            res = registry().for_kind(body["kind"])
            assert res is not None, f"no kind {body['kind']!r} is registered"
            meta = body.setdefault("metadata", {})
            if res.namespaced:
                meta.setdefault("namespace", "default")
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", rfc3339())
            meta["resourceVersion"] = str(next(self._versions))
            self.objects[_key(res, meta)] = body
        self.sync_informers()

    def get(self, plural: str, name: str, namespace: str = "default") -> dict[str, Any] | None:
        """The stored object (a dict), as the API server would answer."""
        res = _by_plural(plural)
        return self.objects.get((plural, namespace if res.namespaced else "", name))

    def stored(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return [
            obj
            for (kind, ns, _), obj in sorted(self.objects.items())
            if kind == plural and (namespace is None or ns == namespace)
        ]

    def verbs(self, plural: str | None = None) -> list[tuple[str, str, str]]:
        """(verb, namespace, name) of the calls made, about ``plural`` if given."""
        return [
            (a.verb, a.namespace, a.name)
            for a in self.actions
            if plural is None or a.resource == plural
        ]

    def sync_informers(self) -> None:
        """Let every informer's cache catch up with the store (their handlers run)."""
        self.informers.catch_up()

    def context(self, name: str, options: Any = None) -> ControllerContext:
        recorder = EventRecorder(self.client, "navarch-controller-manager", "test")  # type: ignore[arg-type]
        return ControllerContext(name, self.client, self.informers, recorder, options)  # type: ignore[arg-type]

    # --- the fake API --------------------------------------------------------------------

    def _write(self, res: Resource, body: dict[str, Any], action: Action) -> Any:
        self.actions.append(action)
        meta = body["metadata"]
        meta["resourceVersion"] = str(next(self._versions))
        self.objects[_key(res, meta)] = body
        return _typed(body)


class FakeResource:
    """``client.<plural>`` of the fake client: the calls a controller makes."""

    def __init__(self, cluster: FakeCluster, res: Resource):
        self.cluster = cluster
        self.res = res

    def _ns(self, namespace: str | None, body: dict[str, Any] | None = None) -> str:
        if not self.res.namespaced:
            return ""
        if namespace:
            return namespace
        return ((body or {}).get("metadata") or {}).get("namespace") or "default"

    def _current(self, name: str, namespace: str) -> dict[str, Any]:
        obj = self.cluster.objects.get((self.res.plural, namespace, name))
        if obj is None:
            raise _error(NotFound, 404, f'{self.res.plural} "{name}" not found')
        return obj

    async def create(self, obj: Any, namespace: str | None = None) -> Any:
        body = _plain(obj)
        ns = self._ns(namespace, body)
        meta = body.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        if ns:
            meta["namespace"] = ns
        if (self.res.plural, ns, meta["name"]) in self.cluster.objects:
            raise _error(AlreadyExists, 409, f'{self.res.plural} "{meta["name"]}" already exists')
        body.setdefault("apiVersion", self.res.group_version)
        body.setdefault("kind", self.res.kind)
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=rfc3339())
        if self.res.plural in _GENERATIONS:
            meta["generation"] = 1
        action = Action("create", self.res.plural, ns, meta["name"], copy.deepcopy(body))
        return self.cluster._write(self.res, body, action)

    async def get(self, name: str, namespace: str | None = None) -> Any:
        return _typed(copy.deepcopy(self._current(name, self._ns(namespace))))

    async def list(
        self,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int = 0,
        continue_token: str | None = None,
    ) -> Listed:
        selector = parse_selector(label_selector or "")
        items = [
            _typed(copy.deepcopy(obj))
            for obj in self.cluster.stored(self.res.plural, namespace or None)
            if selector.matches(obj["metadata"].get("labels") or {})
        ]
        return Listed(tuple(items), str(next(self.cluster._versions)))

    async def update(self, obj: Any, namespace: str | None = None, *, verb: str = "update") -> Any:
        body = _plain(obj)
        ns = self._ns(namespace, body)
        current = self._current(body["metadata"]["name"], ns)
        wanted = body["metadata"].get("resourceVersion")
        if wanted and wanted != current["metadata"]["resourceVersion"]:
            raise _error(Conflict, 409, "the object has been modified")
        merged = copy.deepcopy(current)
        if verb == "update_status":
            merged["status"] = body.get("status")
        else:
            status = merged.get("status")
            merged = {**body, "metadata": {**current["metadata"], **body["metadata"]}}
            if status is not None:
                merged["status"] = status
            if self.res.plural in _GENERATIONS and body.get("spec") != current.get("spec"):
                merged["metadata"]["generation"] = current["metadata"].get("generation", 1) + 1
        action = Action(verb, self.res.plural, ns, body["metadata"]["name"], copy.deepcopy(body))
        return self.cluster._write(self.res, merged, action)

    async def update_status(self, obj: Any, namespace: str | None = None) -> Any:
        return await self.update(obj, namespace, verb="update_status")

    async def update_subresource(
        self, obj: Any, subresource: str, namespace: str | None = None
    ) -> Any:
        if subresource == "status":
            return await self.update_status(obj, namespace)
        return await self.update(obj, namespace, verb=f"update_{subresource}")

    async def patch(
        self,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        patch_type: str = MERGE_PATCH,
        subresource: str = "",
    ) -> Any:
        ns = self._ns(namespace)
        current = self._current(name, ns)
        patched = apply_patch(patch_type, copy.deepcopy(current), copy.deepcopy(patch))
        verb = f"patch_{subresource}" if subresource else "patch"
        return self.cluster._write(
            self.res, patched, Action(verb, self.res.plural, ns, name, copy.deepcopy(patch))
        )

    async def delete(
        self,
        name: str,
        namespace: str | None = None,
        *,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
        uid: str | None = None,
        resource_version: str | None = None,
    ) -> Any:
        ns = self._ns(namespace)
        current = self._current(name, ns)
        meta = current["metadata"]
        if (uid and uid != meta.get("uid")) or (
            resource_version and resource_version != meta.get("resourceVersion")
        ):
            raise _error(Conflict, 409, "precondition failed")
        options = {"gracePeriodSeconds": grace_period_seconds, "propagation": propagation_policy}
        self.cluster.actions.append(Action("delete", self.res.plural, ns, name, options))
        # what the API server does: the kind's strategy says whether a delete waits
        # (a pod on a node: for its agent) — no kind is named here
        if meta.get("finalizers") or (
            self.res.strategy.grace_period(current, grace_period_seconds) is not None
        ):
            meta.setdefault("deletionTimestamp", rfc3339())
            meta["resourceVersion"] = str(next(self.cluster._versions))
            return _typed(copy.deepcopy(current))
        del self.cluster.objects[(self.res.plural, ns, name)]
        return _typed(copy.deepcopy(current))

    async def delete_collection(
        self,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
    ) -> Listed:
        listed = await self.list(namespace, label_selector=label_selector)
        self.cluster.actions.append(
            Action("delete_collection", self.res.plural, namespace or "", "")
        )
        deleted = []
        for item in listed.items:
            deleted.append(
                await self.delete(
                    item.name, item.namespace, grace_period_seconds=grace_period_seconds
                )
            )
            self.cluster.actions.pop()  # one action for the collection
        return Listed(tuple(deleted), listed.resource_version)

    async def bind(
        self,
        name: str,
        node: str,
        namespace: str | None = None,
        annotations: dict[str, str] | None = None,
    ) -> None:
        ns = self._ns(namespace)
        current = self._current(name, ns)
        current.setdefault("spec", {})["nodeName"] = node
        self.cluster._write(self.res, current, Action("bind", "pods", ns, name, node))

    async def watch(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "the fake cluster has no watch: call cluster.sync_informers() to let the "
            "caches catch up"
        )
        yield  # pragma: no cover


class FakeClient:
    """``client.pods``, ``client.replicasets`` … over a :class:`FakeCluster`."""

    def __init__(self, cluster: FakeCluster):
        for res in registry():
            setattr(self, res.plural, FakeResource(cluster, res))

    def resource(self, res: Any) -> Any:
        """``Client.resource``: a spec or any name the registry resolves."""
        found = registry().resolve(res) if isinstance(res, str) else res
        if found is None:
            raise LookupError(f"no resource {res!r} is registered")
        return getattr(self, found.plural)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"the fake client has no resource {name!r}")


class _FakeInformerFactory(SharedInformerFactory):
    """Informers that are filled from the fake store, synced, and never watch."""

    def __init__(self, cluster: FakeCluster):
        super().__init__(cluster.client)  # type: ignore[arg-type]
        self.cluster = cluster

    def informer(self, plural: str, namespace: str = "", **selectors: str) -> Informer:
        informer = super().informer(plural, namespace, **selectors)
        if not informer.synced:
            self._fill(plural, namespace, informer, emit=False)
            informer._synced.set()
        return informer

    def start(self) -> None:
        """Nothing to start: the caches are filled by :meth:`catch_up`."""

    def catch_up(self) -> None:
        for (plural, namespace, _, _), informer in self._informers.items():
            self._fill(plural, namespace, informer, emit=True)

    def _fill(self, plural: str, namespace: str, informer: Informer, *, emit: bool) -> None:
        fresh = {
            _cache_key(obj): _typed(copy.deepcopy(obj))
            for obj in self.cluster.stored(plural, namespace or None)
        }
        for key in list(informer.cache):
            if key not in fresh:
                old = informer._store(key, None)
                if emit:
                    _call_handlers(informer, 2, old)
        for key, obj in fresh.items():
            old = informer.cache.get(key)
            if old is not None and old == obj:
                continue
            informer._store(key, obj)
            if emit:
                _call_handlers(informer, *((0, obj) if old is None else (1, old, obj)))


def _call_handlers(informer: Informer, which: int, *args: Any) -> None:
    """Call the informer's handlers synchronously (the fake's handlers are sync, or
    their coroutines are run to completion now)."""
    for handlers in informer._handlers:
        handler = handlers[which]
        if handler is not None:
            result = handler(*args)
            if hasattr(result, "__await__"):
                _run_now(result)


def _run_now(coroutine: Any) -> None:
    """Drive a coroutine that never really waits (the fake's) to its end."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    raise RuntimeError("a fake informer handler awaited something that waits")


def _error(cls: type[ApiException], code: int, message: str) -> ApiException:
    reason = {404: "NotFound", 409: cls.__name__}[code]
    return cls(code, {"kind": "Status", "code": code, "reason": reason, "message": message})


def _plain(obj: Any) -> dict[str, Any]:
    return copy.deepcopy(obj) if isinstance(obj, dict) else api.dump(obj)


def _typed(body: dict[str, Any]) -> Any:
    try:
        return api.load(copy.deepcopy(body), defaults=False, check=False).obj
    except (api.InvalidObject, api.UnknownKind):
        return body


def _key(res: Resource, meta: dict[str, Any]) -> tuple[str, str, str]:
    return (res.plural, meta.get("namespace", "") if res.namespaced else "", meta["name"])


def _cache_key(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]


def _by_plural(plural: str) -> Resource:
    for res in registry():
        if res.plural == plural:
            return res
    raise KeyError(plural)
