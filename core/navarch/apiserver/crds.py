"""Every API server learns CustomResourceDefinitions from the store (Kubernetes'
apiextensions controllers: naming, establishing, finalizing, in one loop).

At start-up the server lists the CRDs, then watches them from the list's revision; for
each CRD it

* checks the CRD's names against what the registry already serves — a plural or kind
  taken in the CRD's group, or a short name anyone uses — and writes ``NamesAccepted``
  (False with Kubernetes' reason, ``ShortNamesConflict`` and the name, when one clashes;
  nothing is served then) and ``Established`` to the CRD's status;
* adds the unstructured resource it makes (:func:`navarch.apiextensions.served.custom_resource`)
  to the registry, replacing it when the CRD changes;
* when the CRD is being deleted: refuses new objects (405), deletes every object of the
  kind, then removes the ``customresourcecleanup.apiextensions.k8s.io`` finalizer, after
  which the store removes the CRD and every server stops serving the kind.

Several servers on one store do the same work: every status write compares first (no
write when nothing changes) and every delete tolerates NotFound, so they agree.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from loguru import logger

from navarch import api
from navarch.apiextensions.served import (
    CLEANUP_FINALIZER,
    CRD_PLUGIN_PREFIX,
    CUSTOM_RESOURCE_DEFINITIONS,
    CustomResourceStrategy,
    custom_resource,
)
from navarch.apiextensions.structural import NotStructural
from navarch.apiextensions.v1 import (
    CONDITION_FALSE,
    CONDITION_TRUE,
    ESTABLISHED,
    NAMES_ACCEPTED,
    CustomResourceDefinition,
)
from navarch.apiserver import errors
from navarch.apiserver.objects import Obj, WriteContext, now
from navarch.apiserver.storage import Storage
from navarch.resources.registry import ResourceClash, registry
from navarch.resources.spec import Resource

log = logger.bind(component="apiserver", controller="customresourcedefinitions")
CRDS = CUSTOM_RESOURCE_DEFINITIONS
RETRY_SECONDS = 1.0
CLEANUP_POLL_SECONDS = 0.5
STATUS = WriteContext(subresource="status")
# The CRDs this process serves: name -> (the spec served, as JSON; the resource). One
# per process, as the registry is.
_served: dict[str, tuple[bytes, Resource]] = {}


class CustomResourceDefinitions:
    def __init__(self, storage: Storage):
        self.storage = storage
        self._task: asyncio.Task[None] | None = None
        self._cleanups: dict[str, asyncio.Task[None]] = {}

    async def start(self) -> None:
        """List the CRDs and serve them (before the server answers), then watch."""
        revision = await self._relist()
        self._task = asyncio.create_task(self._watch(revision), name="crd-watch")

    async def close(self) -> None:
        tasks = [t for t in (self._task, *self._cleanups.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # --- the loop -------------------------------------------------------------------

    async def _relist(self) -> int:
        listed = await self.storage.list(CRDS, "")
        names = set()
        for item in listed["items"]:
            names.add(item["metadata"]["name"])
            await self._reconcile(item)
        for name in [n for n in _served if n not in names]:  # removed while not watching
            _unserve(name)
        return int(listed["metadata"]["resourceVersion"])

    async def _watch(self, revision: int) -> None:
        while True:
            try:
                async for event in self.storage.watch(CRDS, "", revision + 1):
                    revision = int(event.obj["metadata"]["resourceVersion"])
                    if event.type == "DELETED":
                        _unserve(event.obj["metadata"]["name"])
                    else:
                        await self._reconcile(event.obj)
                # The store ended the watch (it is closing): wait, then watch again.
                await asyncio.sleep(RETRY_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store went away, history compacted: relist
                log.bind(error=str(exc)).warning("watch of CRDs ended; listing again")
                await asyncio.sleep(RETRY_SECONDS)
                with contextlib.suppress(Exception):
                    revision = await self._relist()

    async def _reconcile(self, obj: Obj) -> None:
        name = obj["metadata"]["name"]
        try:
            await self._reconcile_one(obj)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one bad CRD must not stop the others being served
            log.bind(crd=name).opt(exception=exc).error("could not serve the CRD")

    async def _reconcile_one(self, obj: Obj) -> None:
        name = obj["metadata"]["name"]
        crd = api.decode(orjson.loads(orjson.dumps(obj))).obj
        assert isinstance(crd, CustomResourceDefinition)
        try:
            res = custom_resource(crd)
        except (ValueError, NotStructural) as exc:
            log.bind(crd=name, error=str(exc)).warning("CRD not served")
            return
        if obj["metadata"].get("deletionTimestamp"):
            self._terminate(name, obj, res)
            return
        conflict = names_conflict(res, name)  # a changed CRD may name something taken
        if conflict is None:
            conflict = _serve(name, obj.get("spec"), res)
        if conflict is not None:
            reason, message = conflict
            log.bind(crd=name, reason=reason).warning(message)
            await self._set_conditions(name, accepted=(CONDITION_FALSE, reason, message))
            return
        await self._set_conditions(
            name,
            accepted=(CONDITION_TRUE, "NoConflicts", "no conflicts found"),
            accepted_names=obj["spec"].get("names"),
        )

    # --- status ---------------------------------------------------------------------

    async def _set_conditions(
        self, name: str, *, accepted: tuple[str, str, str], accepted_names: Any = None
    ) -> None:
        status, reason, message = accepted
        if status == CONDITION_TRUE:
            established = (
                CONDITION_TRUE,
                "InitialNamesAccepted",
                "the initial names have been accepted",
            )
        else:
            established = (CONDITION_FALSE, "NotAccepted", "not all names are accepted")

        def mutate(current: Obj) -> Obj:
            st = current.setdefault("status", {}) or {}
            current["status"] = st
            conditions = list(st.get("conditions") or [])
            conditions = _with_condition(conditions, NAMES_ACCEPTED, (status, reason, message))
            conditions = _with_condition(conditions, ESTABLISHED, established)
            st["conditions"] = conditions
            if accepted_names is not None:
                st["acceptedNames"] = accepted_names
            return current

        try:
            await self.storage.guaranteed_update(CRDS, "", name, mutate, STATUS)
        except errors.ApiError as exc:
            if exc.reason != "NotFound":
                raise

    # --- deletion -------------------------------------------------------------------

    def _terminate(self, name: str, obj: Obj, res: Resource) -> None:
        if name not in _served and names_conflict(res, name) is None:
            # Started while the CRD was terminating: its objects stay readable and
            # deletable until they are gone, creates are refused (405) as anywhere.
            _serve(name, obj.get("spec"), res)
        served = _served.get(name)
        if served is not None and isinstance(served[1].strategy, CustomResourceStrategy):
            served[1].strategy.terminating = True
        if CLEANUP_FINALIZER not in (obj["metadata"].get("finalizers") or []):
            return
        running = self._cleanups.get(name)
        if running is None or running.done():
            target = served[1] if served is not None else res
            self._cleanups[name] = asyncio.create_task(
                self._clean_up(name, target), name=f"crd-cleanup-{name}"
            )

    async def _clean_up(self, name: str, res: Resource) -> None:
        """Delete every object of the kind, wait until they are gone (their own
        finalizers may hold them), then drop the clean-up finalizer."""
        bound = log.bind(crd=name)
        while True:
            try:
                listed = await self.storage.list(res, "")
                for item in listed["items"]:
                    meta = item["metadata"]
                    with contextlib.suppress(errors.ApiError):  # gone already: fine
                        await self.storage.delete(res, meta.get("namespace", ""), meta["name"], {})
                if not listed["items"]:
                    break
                bound.bind(remaining=len(listed["items"])).debug("waiting for objects to go")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                bound.opt(exception=exc).warning("deleting the CRD's objects failed; retrying")
            await asyncio.sleep(CLEANUP_POLL_SECONDS)

        def drop_finalizer(current: Obj) -> Obj:
            finalizers = [
                f for f in current["metadata"].get("finalizers") or [] if f != CLEANUP_FINALIZER
            ]
            if finalizers:
                current["metadata"]["finalizers"] = finalizers
            else:
                current["metadata"].pop("finalizers", None)
            return current

        try:
            await self.storage.guaranteed_update(CRDS, "", name, drop_finalizer)
        except errors.ApiError as exc:
            if exc.reason != "NotFound":
                raise
        bound.info("CRD's objects removed")


def names_conflict(res: Resource, crd_name: str) -> tuple[str, str] | None:
    """Kubernetes' naming check against what is served: (reason, message), or None."""
    for other in registry():
        if registry().plugin_of(other) == CRD_PLUGIN_PREFIX + crd_name:
            continue
        if other.group == res.group and other.plural == res.plural:
            return "PluralConflict", f'"{res.plural}" is already in use'
        if other.group == res.group and other.singular == res.singular:
            return "SingularConflict", f'"{res.singular}" is already in use'
        if other.group == res.group and other.kind == res.kind:
            return "KindConflict", f'"{res.kind}" is already in use'
        shared = sorted(set(res.short_names) & set(other.short_names))
        if shared:
            return (
                "ShortNamesConflict",
                f'"{shared[0]}" is already in use (by {other.group_resource})',
            )
    return None


def _serve(name: str, spec: Any, res: Resource) -> tuple[str, str] | None:
    """Serve ``res`` for CRD ``name`` (replacing what an older spec served)."""
    fingerprint = orjson.dumps(spec, option=orjson.OPT_SORT_KEYS)
    served = _served.get(name)
    if served is not None and served[0] == fingerprint:
        return None
    if served is not None:
        _unserve(name)
    try:
        registry().add(res, plugin=CRD_PLUGIN_PREFIX + name)
    except ResourceClash as exc:
        return "NameConflict", str(exc)
    _served[name] = (fingerprint, res)
    log.bind(crd=name, resource=res.group_resource).info("serving custom resource")
    return None


def _unserve(name: str) -> None:
    served = _served.pop(name, None)
    if served is None:
        return
    res = served[1]
    if registry().get(res.group, res.version, res.plural) is res:
        registry().remove(res.group, res.plural)
    log.bind(crd=name, resource=res.group_resource).info("custom resource no longer served")


def _with_condition(conditions: list[Obj], type_: str, value: tuple[str, str, str]) -> list[Obj]:
    """``conditions`` with ``type_`` set; its lastTransitionTime kept while its status
    stays (Kubernetes' SetCRDCondition)."""
    status, reason, message = value
    old = next((c for c in conditions if c.get("type") == type_), None)
    changed_at = old.get("lastTransitionTime") if old and old.get("status") == status else now()
    new = {
        "type": type_,
        "status": status,
        "lastTransitionTime": changed_at,
        "reason": reason,
        "message": message,
    }
    if old is None:
        return [*conditions, new]
    return [new if c is old else c for c in conditions]
