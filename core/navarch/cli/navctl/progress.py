"""Waiting until applied objects are ready, with progress a person can follow.

Readiness is judged the way kubectl judges it: a Deployment, DaemonSet or StatefulSet
is rolled out by ``kubectl rollout status``'s rule for its kind (for a Deployment: its
controller has seen the latest spec, every replica is updated and available, no old
replica is left), a ReplicaSet when all its replicas are ready, a Pod when it runs
and is Ready (or has Succeeded). Other kinds are ready once they exist.

Each object is followed with a watch of that one object (``fieldSelector
metadata.name=NAME``), resumed from a fresh GET whenever the stream ends, so nothing
is polled in a tight loop and a dropped connection costs one re-read.

On a terminal the progress is a rich bar per object; when stdout is a pipe or a file
it is plain lines, one per change, so logs and tests read the same words kubectl
prints.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol, TextIO

import attrs

from navarch.cli.navctl.failures import CliError
from navarch.cli.navctl.session import Session, find_resource, resource_path
from navarch.client import ApiException

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from navarch.resources.spec import Resource


# A watch is re-opened at least this often, so a server that never ends one cannot
# hold a wait past its deadline by more than this.
WATCH_SLICE_SECONDS = 30
# After a dropped watch, wait this long before reading the object again.
RESUME_DELAY = 0.5


@attrs.frozen
class Readiness:
    """Where one object stands: ``done`` and ``failed`` end the wait for it."""

    message: str
    current: int = 0
    total: int = 1
    done: bool = False
    failed: bool = False


# --- the rules -------------------------------------------------------------------------


def _int(value: Any) -> int:
    return int(value or 0)


def deployment_readiness(obj: dict[str, Any]) -> Readiness:
    """kubectl rollout status's rule and words, for one Deployment."""
    name = obj["metadata"]["name"]
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    meta = obj.get("metadata") or {}
    wanted = _int(spec.get("replicas", 1))
    updated, replicas = _int(status.get("updatedReplicas")), _int(status.get("replicas"))
    available = _int(status.get("availableReplicas"))
    if _int(meta.get("generation")) > _int(status.get("observedGeneration")):
        return Readiness("Waiting for deployment spec update to be observed...", 0, wanted)
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and (
            condition.get("reason") == "ProgressDeadlineExceeded"
        ):
            return Readiness(
                f'deployment "{name}" exceeded its progress deadline',
                min(available, wanted),
                wanted,
                done=True,
                failed=True,
            )
    prefix = f'Waiting for deployment "{name}" rollout to finish: '
    if updated < wanted:
        message = f"{updated} out of {wanted} new replicas have been updated..."
        return Readiness(prefix + message, min(available, updated), wanted)
    if replicas > updated:
        message = f"{replicas - updated} old replicas are pending termination..."
        return Readiness(prefix + message, min(available, updated), wanted)
    if available < updated:
        message = f"{available} of {updated} updated replicas are available..."
        return Readiness(prefix + message, available, wanted)
    return Readiness(f'deployment "{name}" successfully rolled out', wanted, wanted, done=True)


def daemonset_readiness(obj: dict[str, Any]) -> Readiness:
    """kubectl's DaemonSetStatusViewer: every scheduled pod updated, then available."""
    name = obj["metadata"]["name"]
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    strategy = (spec.get("updateStrategy") or {}).get("type") or "RollingUpdate"
    if strategy != "RollingUpdate":
        message = "rollout status is only available for RollingUpdate strategy type"
        return Readiness(message, done=True, failed=True)
    desired = _int(status.get("desiredNumberScheduled"))
    if _int(obj["metadata"].get("generation")) > _int(status.get("observedGeneration")):
        return Readiness("Waiting for daemon set spec update to be observed...", 0, desired)
    updated, available = (
        _int(status.get("updatedNumberScheduled")),
        _int(status.get("numberAvailable")),
    )
    prefix = f'Waiting for daemon set "{name}" rollout to finish: '
    if updated < desired:
        message = f"{updated} out of {desired} new pods have been updated..."
        return Readiness(prefix + message, min(available, updated), desired)
    if available < desired:
        message = f"{available} of {desired} updated pods are available..."
        return Readiness(prefix + message, available, desired)
    return Readiness(f'daemon set "{name}" successfully rolled out', desired, desired, done=True)


def statefulset_readiness(obj: dict[str, Any]) -> Readiness:
    """kubectl's StatefulSetStatusViewer: every replica ready, then the pods past the
    partition updated (or, without a rollingUpdate block, the update revision current)."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    strategy = spec.get("updateStrategy") or {}
    if (strategy.get("type") or "RollingUpdate") != "RollingUpdate":
        message = "rollout status is only available for RollingUpdate strategy type"
        return Readiness(message, done=True, failed=True)
    wanted = _int(spec.get("replicas", 1))
    observed = _int(status.get("observedGeneration"))
    if observed == 0 or _int(obj["metadata"].get("generation")) > observed:
        return Readiness("Waiting for statefulset spec update to be observed...", 0, wanted)
    ready, updated = _int(status.get("readyReplicas")), _int(status.get("updatedReplicas"))
    if ready < wanted:
        return Readiness(f"Waiting for {wanted - ready} pods to be ready...", ready, wanted)
    rolling = strategy.get("rollingUpdate")
    if rolling is not None:
        partition = rolling.get("partition")
        if partition is not None and updated < wanted - _int(partition):
            message = (
                f"Waiting for partitioned roll out to finish: {updated} out of "
                f"{wanted - _int(partition)} new pods have been updated..."
            )
            return Readiness(message, updated, wanted - _int(partition))
        message = f"partitioned roll out complete: {updated} new pods have been updated..."
        return Readiness(message, wanted, wanted, done=True)
    update, current = status.get("updateRevision"), status.get("currentRevision")
    if update != current:
        message = (
            f"waiting for statefulset rolling update to complete {updated} pods at "
            f"revision {update}..."
        )
        return Readiness(message, updated, wanted)
    message = (
        f"statefulset rolling update complete {_int(status.get('currentReplicas'))} pods at "
        f"revision {current}..."
    )
    return Readiness(message, wanted, wanted, done=True)


def replicaset_readiness(obj: dict[str, Any]) -> Readiness:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    wanted, ready = _int(spec.get("replicas", 1)), _int(status.get("readyReplicas"))
    if _int(obj["metadata"].get("generation")) > _int(status.get("observedGeneration")):
        return Readiness("waiting for the controller to see the latest spec", 0, wanted)
    if ready < wanted:
        return Readiness(f"{ready} of {wanted} replicas ready", ready, wanted)
    return Readiness(f"{wanted} of {wanted} replicas ready", wanted, wanted, done=True)


def pod_readiness(obj: dict[str, Any]) -> Readiness:
    status = obj.get("status") or {}
    phase = status.get("phase") or "Pending"
    if phase == "Succeeded":
        return Readiness("Succeeded", 1, 1, done=True)
    if phase == "Failed":
        reason = status.get("reason") or status.get("message") or "its containers failed"
        return Readiness(f"Failed: {reason}", 0, 1, done=True, failed=True)
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    if phase == "Running" and ready:
        return Readiness("Running and Ready", 1, 1, done=True)
    waiting = [
        (c.get("state") or {}).get("waiting", {}).get("reason")
        for c in status.get("containerStatuses") or []
    ]
    detail = ", ".join(w for w in waiting if w)
    if phase == "Running":
        return Readiness(f"Running, not Ready{f' ({detail})' if detail else ''}", 0, 1)
    if not obj.get("spec", {}).get("nodeName"):
        return Readiness("Pending (not scheduled yet)", 0, 1)
    return Readiness(f"Pending{f' ({detail})' if detail else ''}", 0, 1)


# By API group and kind, as kubectl's status viewers: a plugin's kind of the same name
# in another group is not mistaken for one of these.
RULES = {
    ("apps", "Deployment"): deployment_readiness,
    ("apps", "ReplicaSet"): replicaset_readiness,
    ("apps", "DaemonSet"): daemonset_readiness,
    ("apps", "StatefulSet"): statefulset_readiness,
    ("", "Pod"): pod_readiness,
}


def readiness(obj: dict[str, Any]) -> Readiness:
    """Where any object stands; kinds without a rule are ready once they exist."""
    group = str(obj.get("apiVersion") or "").rpartition("/")[0]
    rule = RULES.get((group, obj.get("kind", "")))
    return rule(obj) if rule else Readiness("created", 1, 1, done=True)


# --- following one object --------------------------------------------------------------


async def follow(
    session: Session, res: Resource, namespace: str | None, name: str
) -> AsyncIterator[dict[str, Any] | None]:
    """Each new state of one object (None while it does not exist), until the caller
    stops iterating. A GET first, then a watch from its resourceVersion."""
    collection = resource_path(res, namespace)
    while True:
        try:
            obj = await session.request("GET", resource_path(res, namespace, name))
        except ApiException as exc:
            if exc.code != 404:
                raise
            obj = None
        yield obj
        version = (obj or {}).get("metadata", {}).get("resourceVersion", "")
        params = {
            "watch": "1",
            "fieldSelector": f"metadata.name={name}",
            "timeoutSeconds": str(WATCH_SLICE_SECONDS),
        }
        if version:
            params["resourceVersion"] = version
        try:
            async for event in session.client.stream(collection, params):
                kind = event.get("type")
                if kind == "ERROR":
                    break  # e.g. 410 Gone: read the object afresh
                if kind in ("ADDED", "MODIFIED"):
                    yield _with_kind(event["object"], res)
                elif kind == "DELETED":
                    yield None
        except (ApiException, OSError, TimeoutError) as exc:
            from loguru import logger  # here: `navctl --help` imports this module

            logger.bind(component="navctl.progress", name=name, error=repr(exc)).debug(
                "watch ended; reading again"
            )
            await asyncio.sleep(RESUME_DELAY)


def _with_kind(obj: dict[str, Any], res: Resource) -> dict[str, Any]:
    obj.setdefault("kind", res.kind)
    obj.setdefault("apiVersion", res.group_version)
    return obj


# --- showing progress ------------------------------------------------------------------


class Reporter(Protocol):
    def show(self, key: str, state: Readiness) -> None: ...

    def close(self) -> None: ...


@attrs.define
class PlainReporter:
    """One line per change: what a pipe, a log file or a test reads."""

    out: TextIO
    prefixed: bool = True
    _last: dict[str, str] = attrs.field(factory=dict)

    def show(self, key: str, state: Readiness) -> None:
        if self._last.get(key) == state.message:
            return
        self._last[key] = state.message
        line = f"{key}: {state.message}" if self.prefixed else state.message
        print(line, file=self.out, flush=True)

    def close(self) -> None:
        pass


_WAITING_PREFIX = re.compile(r'^Waiting for (deployment|daemon set) "[^"]*" rollout to finish: ')


@attrs.define
class RichReporter:
    """A bar per object on a terminal, its message beside it."""

    out: TextIO
    _progress: Progress = attrs.field(init=False)
    _tasks: dict[str, TaskID] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        # rich is imported here, for a terminal only: a pipe never needs it.
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
        from rich.table import Column

        # The name, bar and count keep their width; the message takes what is left.
        self._progress = Progress(
            TextColumn("{task.fields[key]}", table_column=Column(no_wrap=True)),
            BarColumn(bar_width=24),
            MofNCompleteColumn(table_column=Column(no_wrap=True)),
            TextColumn(
                "{task.description}",
                table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis"),
            ),
            console=Console(file=self.out),
            expand=True,
        )
        self._progress.start()

    def show(self, key: str, state: Readiness) -> None:
        # the key already names the Deployment: show the part that changes
        message = _WAITING_PREFIX.sub("", state.message)
        if key not in self._tasks:
            self._tasks[key] = self._progress.add_task(message, total=state.total, key=key)
        self._progress.update(
            self._tasks[key], description=message, completed=state.current, total=state.total
        )

    def close(self) -> None:
        self._progress.stop()


def reporter_for(out: TextIO, *, prefixed: bool = True) -> Reporter:
    """rich on a terminal, plain lines otherwise."""
    if out.isatty():
        return RichReporter(out)
    return PlainReporter(out, prefixed=prefixed)


def object_key(obj: dict[str, Any], res: Resource) -> str:
    """``deployment.apps/web``, as kubectl names objects in its output."""
    kind = res.kind.lower()
    return (
        f"{kind}.{res.group}/{obj['metadata']['name']}"
        if res.group
        else f"{kind}/{obj['metadata']['name']}"
    )


async def _wait_one(
    session: Session,
    res: Resource,
    namespace: str | None,
    name: str,
    key: str,
    reporter: Reporter,
) -> Readiness:
    async for obj in follow(session, res, namespace, name):
        state = readiness(obj) if obj is not None else Readiness("not found (yet)", 0, 1)
        reporter.show(key, state)
        if state.done:
            return state
    raise AssertionError("follow() never ends by itself")


async def wait_ready(
    session: Session, objects: list[dict[str, Any]], timeout: float, out: TextIO | None = None
) -> bool:
    """Wait until every object is ready (see the module's rules), showing progress on
    ``out`` (stdout by default); ``timeout`` 0 or less waits for ever. False when one
    failed or the time ran out; the objects still waiting are named on ``out``."""
    out = out or sys.stdout
    targets: list[tuple[Resource, str | None, str, str]] = []
    for obj in objects:
        try:
            res = find_resource(obj.get("kind", ""))
        except CliError:
            continue  # a kind this server does not serve has nothing to wait for
        namespace = (obj.get("metadata") or {}).get("namespace") or session.namespace
        ns = namespace if res.namespaced else None
        targets.append((res, ns, obj["metadata"]["name"], object_key(obj, res)))
    if not targets:
        return True
    reporter = reporter_for(out)
    tasks = {
        key: asyncio.ensure_future(_wait_one(session, res, ns, name, key, reporter))
        for res, ns, name, key in targets
    }
    try:
        await asyncio.wait(tasks.values(), timeout=timeout if timeout > 0 else None)
    finally:
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        reporter.close()
    ok = True
    for key, task in tasks.items():
        if task.cancelled():
            print(f"{key}: timed out after {timeout:g}s waiting to be ready", file=out)
            ok = False
        elif task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
        elif task.result().failed:
            ok = False
    return ok


async def rollout_status(
    session: Session, res: Resource, namespace: str, name: str, timeout: float, out: TextIO
) -> bool:
    """``rollout status TYPE/NAME`` of a Deployment, DaemonSet or StatefulSet: kubectl's
    "Waiting for ..." lines (or a bar on a terminal) until it is rolled out, by the
    kind's rule (:data:`RULES`). True when it is; False when the time ran out;
    CliError when the object is missing or its rollout cannot finish (a Deployment
    past its progress deadline, an OnDelete strategy)."""
    rule = RULES[(res.group, res.kind)]
    reporter = reporter_for(out, prefixed=False)
    deadline = time.monotonic() + timeout if timeout > 0 else None
    final: Readiness | None = None

    async def watch() -> Readiness:
        async for obj in follow(session, res, namespace, name):
            if obj is None:
                raise CliError(f'{res.plural}.{res.group} "{name}" not found')
            state = rule(obj)
            if not state.done:
                reporter.show(f"{res.kind.lower()}/{name}", state)
            if state.done:
                return state
        raise AssertionError("follow() never ends by itself")

    try:
        remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        final = await asyncio.wait_for(watch(), remaining)
    except TimeoutError:
        return False
    finally:
        reporter.close()
    if final.failed:
        raise CliError(final.message)
    print(final.message, file=out, flush=True)
    return True
