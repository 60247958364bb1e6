"""The Node authoriser's graph (Kubernetes' ``plugin/pkg/auth/authorizer/node``): a
node's token may read a Secret, ConfigMap, PersistentVolumeClaim or PersistentVolume
only while a pod bound to that node references it (env ``valueFrom``/``envFrom``,
volumes, projected sources, ``imagePullSecrets``, claims; a volume through its claim).

:class:`NodeGraph` keeps, per node, how many of its pods reference each object: it
lists the pods once, then follows the store's watch of them (an informer inside the
API server), so an allowed read costs a dictionary look-up, not a pod list. A watch
lags the write it reports by a moment, so a read the graph would refuse is checked
once more against the store before it is refused: the pods of the object's own
namespace (a reference never crosses namespaces), decoded only when their stored
bytes name the node. A node is never refused a Secret its pod was bound with a
moment ago (Kubernetes' kubelet retries instead), and a refusal costs one range
over one namespace.

:class:`NodeAuthorizer` is the ``navarch_authorize`` wrapper one API server registers
for its graph: where the roles refused a node such an object, it allows the ``get``,
and the ``list``/``watch`` of exactly one by name (``fieldSelector=metadata.name=
<name>``, kubelet's reflector per object), when the graph backs it; the refusal
stands otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections import Counter
from collections.abc import Awaitable, Generator
from typing import Any

import orjson
from loguru import logger

from navarch import hookimpl
from navarch.api.pod_references import CLAIMS, pod_references
from navarch.apiserver.auth import NODE, User
from navarch.apiserver.authz import Decision
from navarch.apiserver.fieldselectors import FieldSelector
from navarch.apiserver.requestinfo import RequestInfo
from navarch.resources.core.pods import PODS
from navarch.resources.registry import registry
from navarch.store import DELETE, Store, StoreError

log = logger.bind(component="nodegraph")

# (plural, namespace, name) of an object a pod references
Ref = tuple[str, str, str]
VOLUMES = "persistentvolumes"
# What a node may read through the graph (core group), besides the volumes of its claims.
REFERENCED = frozenset({"secrets", "configmaps", CLAIMS})
READ_VERBS = frozenset({"get", "list", "watch"})
START_WAIT_SECONDS = 5.0  # a request waits this long for the first pod list, then scans
RETRY_SECONDS = 1.0
PAGE = 500


class NodeGraph:
    def __init__(self, store: Store):
        self.store = store
        self._pods: dict[bytes, tuple[str, frozenset[Ref]]] = {}  # store key -> (node, refs)
        self._edges: dict[str, Counter[Ref]] = {}  # node -> object -> pods referencing it
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    # --- what it answers -----------------------------------------------------------------

    def has_edge(self, node: str, ref: Ref) -> bool:
        """Whether, as far as the graph has followed, a pod on ``node`` references it."""
        return self._edges.get(node, Counter())[ref] > 0

    async def node_references(self, node: str, ref: Ref) -> bool:
        """Whether a pod bound to ``node`` references ``ref``; the store decides what
        the graph does not (yet) know."""
        if await self._started() and self.has_edge(node, ref):
            return True
        return await self._scan(node, ref)

    async def node_reaches_volume(self, node: str, name: str) -> bool:
        """Whether PersistentVolume ``name`` is bound to a claim a pod on ``node``
        references (the volume's ``claimRef`` and the claim's ``volumeName`` agree)."""
        volumes, claims = registry().resolve(VOLUMES), registry().resolve(CLAIMS)
        if volumes is None or claims is None:
            return False
        volume = await self._read(volumes.store_key("", name))
        claim_ref = ((volume or {}).get("spec") or {}).get("claimRef") or {}
        namespace, claim_name = claim_ref.get("namespace"), claim_ref.get("name")
        if not isinstance(namespace, str) or not isinstance(claim_name, str):
            return False
        claim = await self._read(claims.store_key(namespace, claim_name))
        if ((claim or {}).get("spec") or {}).get("volumeName") != name:
            return False
        return await self.node_references(node, (CLAIMS, namespace, claim_name))

    # --- following the pods --------------------------------------------------------------

    async def _started(self) -> bool:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="nodegraph")
        if not self._ready.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), START_WAIT_SECONDS)
        return self._ready.is_set()

    async def _run(self) -> None:
        while True:
            try:
                revision = await self._relist()
                self._ready.set()
                async for event in self.store.watch(PODS.store_prefix(), revision + 1):
                    if event.type == DELETE:
                        self._set(event.kv.key, None)
                    else:
                        self._set(event.kv.key, orjson.loads(event.kv.value))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # store trouble or compaction: list again
                log.bind(error=repr(exc)).warning("node graph relisting")
                await asyncio.sleep(RETRY_SECONDS)

    async def _relist(self) -> int:
        self._pods.clear()
        self._edges.clear()
        start: bytes | None = None
        revision: int | None = None
        while True:
            page = await self.store.range(
                PODS.store_prefix(), limit=PAGE, continue_from=start, revision=revision
            )
            revision = page.revision
            for kv in page.items:
                self._set(kv.key, orjson.loads(kv.value))
            if not page.more:
                return revision
            start = page.continue_from

    def _set(self, key: bytes, pod: dict | None) -> None:
        """Record the pod stored at ``key`` (None: deleted) in place of what it was."""
        old = self._pods.pop(key, None)
        if old is not None:
            old_node, old_refs = old
            edges = self._edges[old_node]
            edges.subtract(old_refs)
            for ref in old_refs:
                if edges[ref] <= 0:
                    del edges[ref]
            if not edges:
                del self._edges[old_node]
        if pod is None:
            return
        node = (pod.get("spec") or {}).get("nodeName")
        if not isinstance(node, str) or not node:
            return  # not bound: no node may read for it yet
        namespace = (pod.get("metadata") or {}).get("namespace") or ""
        refs = frozenset((plural, namespace, name) for plural, name in pod_references(pod))
        if refs:
            self._pods[key] = (node, refs)
            self._edges.setdefault(node, Counter()).update(refs)

    # --- the store, for what the graph does not know ------------------------------------

    async def _scan(self, node: str, ref: Ref) -> bool:
        plural, namespace, name = ref
        marker = orjson.dumps({"nodeName": node})[1:-1]  # how the stored JSON names it
        start: bytes | None = None
        revision: int | None = None
        try:
            while True:
                page = await self.store.range(
                    PODS.store_prefix(namespace), limit=PAGE, continue_from=start, revision=revision
                )
                revision = page.revision
                for kv in page.items:
                    if marker not in kv.value:
                        continue
                    pod = orjson.loads(kv.value)
                    if (pod.get("spec") or {}).get("nodeName") == node and (
                        plural,
                        name,
                    ) in pod_references(pod):
                        return True
                if not page.more:
                    return False
                start = page.continue_from
        except StoreError as exc:
            log.bind(node=node, error=repr(exc)).warning("node graph scan failed")
            return False

    async def _read(self, key: bytes) -> dict | None:
        try:
            kv = await self.store.get(key)
        except StoreError:
            return None  # missing (or unreadable): nothing to grant
        found = orjson.loads(kv.value)
        return found if isinstance(found, dict) else None

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class NodeAuthorizer:
    """One API server's Node authoriser over its :class:`NodeGraph`: a wrapper of
    ``navarch_authorize`` that looks only at the roles' refusals marked ``node_graph``
    (a node reading a Secret, ConfigMap, claim or volume) and allows those its graph
    backs. Every other answer passes unchanged, so a plugin's own denial stands, and a
    request that is not such a read costs no more than the wrapper's call (a plain
    plugin would make ``call_first`` ask each authoriser separately on every request)."""

    def __init__(self, graph: NodeGraph):
        self.graph = graph

    @hookimpl(wrapper=True)
    def navarch_authorize(
        self, user: User, info: RequestInfo, field_selector: FieldSelector | None
    ) -> Generator[None, Any, Any]:
        decided = yield
        if inspect.isawaitable(decided):  # an asynchronous authoriser's answer
            return self._after(decided, user, info, field_selector)
        if isinstance(decided, Decision) and decided.node_graph:
            return self._consult(decided, user, info, field_selector)
        return decided

    async def _after(
        self,
        pending: Awaitable[Any],
        user: User,
        info: RequestInfo,
        field_selector: FieldSelector | None,
    ) -> Any:
        decided = await pending
        if isinstance(decided, Decision) and decided.node_graph:
            return await self._consult(decided, user, info, field_selector)
        return decided

    async def _consult(
        self,
        refused: Decision,
        user: User,
        info: RequestInfo,
        field_selector: FieldSelector | None,
    ) -> Decision:
        if user.role != NODE or info.group or info.subresource or info.verb not in READ_VERBS:
            return refused  # a write, or a subresource: never
        name = info.name or (field_selector.value_of("metadata.name") if field_selector else None)
        if not name:
            return refused  # a list or watch of every one: never
        node = user.node_name
        if info.plural == VOLUMES:
            allowed = await self.graph.node_reaches_volume(node, name)
        elif info.plural in REFERENCED and info.namespace:
            allowed = await self.graph.node_references(node, (info.plural, info.namespace, name))
        else:
            allowed = False
        if allowed:
            return Decision.allow()
        # debug: a node probing for secrets must not fill the log
        log.bind(node=node, resource=info.plural, namespace=info.namespace, name=name).debug(
            "no relationship between the node and the object"
        )
        return refused
