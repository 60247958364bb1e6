"""Server-side printing: the ``meta.k8s.io`` Table that ``kubectl get`` asks for.

kubectl sends ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io, …`` and prints
whatever columns the server returns, so READY, STATUS, RESTARTS, NODE and the rest come
from here. The columns and the cell rules follow Kubernetes' own printers
(``pkg/printers/internalversion/printers.go``); the server always fills the wide
columns (priority 1) and kubectl shows them only with ``-o wide``.

Worked example — a pod whose only container is waiting to be pulled::

    status.containerStatuses[0].state.waiting.reason = "ContainerCreating"
    -> cells ["web-1", "0/1", "ContainerCreating", "0", "5m3s", "<none>", "worker-1", …]

Everything here is a pure function of wire dicts and a clock, so tests need no server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs
import orjson

from navarch.apiserver.errors import bad_request
from navarch.apiserver.resources import Resource

TABLE_GROUP = "meta.k8s.io"
TABLE_VERSIONS = ("v1", "v1beta1")
INCLUDE_OBJECT = ("None", "Metadata", "Object")
NONE = "<none>"
UNKNOWN = "<unknown>"

Cells = list[Any]


@attrs.frozen
class Column:
    name: str
    type: str = "string"
    description: str = ""
    priority: int = 0  # 1: shown only by ``kubectl get -o wide``
    format: str = ""

    def definition(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


@attrs.frozen
class Printer:
    columns: tuple[Column, ...]
    cells: Callable[[dict[str, Any], dt.datetime], Cells]
    conditions: Callable[[dict[str, Any]], list[dict[str, Any]]] = lambda obj: []


# --- content negotiation ------------------------------------------------------------------


def table_version(accept: str | None) -> str | None:
    """The Table version (``v1`` or ``v1beta1``) an ``Accept`` header asks for first, or
    None when it asks for no Table (a client that wants plain JSON)."""
    for media_range in (accept or "").split(","):
        kind, *params = (part.strip() for part in media_range.split(";"))
        if kind not in ("application/json", "*/*", "application/*"):
            continue
        values = dict(p.split("=", 1) for p in params if "=" in p)
        if "as" not in values:
            return None  # plain JSON comes before any Table the client would also take
        if (
            values.get("as") == "Table"
            and values.get("g") == TABLE_GROUP
            and values.get("v") in TABLE_VERSIONS
        ):
            return values["v"]
    return None


def wants_table(accept: str | None) -> bool:
    return table_version(accept) is not None


# --- what the request path calls ------------------------------------------------------------


@attrs.frozen
class TableRequest:
    """A get, list or watch that asked for Tables, and how (the request path's view)."""

    version: str  # of meta.k8s.io: v1 or v1beta1
    include_object: str  # None, Metadata or Object

    @classmethod
    def of(cls, accept: str | None, query: Mapping[str, str]) -> TableRequest | None:
        """The request's Table options, or None when it wants plain objects; a bad
        ``includeObject`` is a 400."""
        version = table_version(accept)
        if version is None:
            return None
        include = query.get("includeObject") or "Metadata"
        if include not in INCLUDE_OBJECT:
            raise bad_request(
                f"includeObject={include!r} is not one of {', '.join(INCLUDE_OBJECT)}"
            )
        return cls(version, include)

    @property
    def content_type(self) -> str:
        return f"application/json;as=Table;v={self.version};g={TABLE_GROUP}"

    def of_list(
        self, res: Resource, items: Iterable[bytes | dict[str, Any]], metadata: dict[str, Any]
    ) -> bytes:
        """A list's Table (items as stored bytes or dicts) as a response body."""
        objects = [orjson.loads(i) if isinstance(i, bytes) else i for i in items]
        return orjson.dumps(self._table(res, objects, list_metadata=metadata))

    def of_object(self, res: Resource, obj: dict[str, Any]) -> bytes:
        return orjson.dumps(self._table(res, [obj]))

    def of_body(self, res: Resource, body: bytes) -> bytes:
        """The Table of a get's or list's JSON response body (a list when it has items)."""
        parsed = orjson.loads(body)
        if isinstance(parsed.get("items"), list):
            return self.of_list(res, parsed["items"], parsed.get("metadata") or {})
        return self.of_object(res, parsed)

    def watch_writer(self, response: Any, res: Resource) -> TableWatchWriter:
        """What a watch writes its lines through instead of ``response``."""
        return TableWatchWriter(response, self.watch_lines(res))

    def watch_lines(self, res: Resource) -> Callable[[bytes], bytes]:
        """A converter of watch stream chunks (whole JSON lines): each event's object
        becomes a one-row Table, the first with the column definitions; ERROR events
        pass unchanged."""
        sent_headers = False

        def convert(chunk: bytes) -> bytes:
            nonlocal sent_headers
            out = []
            for line in chunk.split(b"\n"):
                if not line.strip():
                    continue
                event = orjson.loads(line)
                obj = event.get("object")
                if event.get("type") != "ERROR" and isinstance(obj, dict):
                    rows = [] if event.get("type") == "BOOKMARK" else [obj]
                    rv = (obj.get("metadata") or {}).get("resourceVersion")
                    event["object"] = self._table(
                        res, rows, list_metadata={"resourceVersion": rv}, headers=not sent_headers
                    )
                    sent_headers = True
                out.append(orjson.dumps(event) + b"\n")
            return b"".join(out)

        return convert

    def _table(self, res: Resource, objects: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
        return table(
            res, objects, include_object=self.include_object, version=self.version, **kwargs
        )


class TableWatchWriter:
    """Writes watch lines to a response with each event's object made a Table."""

    def __init__(self, response: Any, convert: Callable[[bytes], bytes]):
        self._response, self._convert = response, convert

    async def write(self, data: bytes) -> None:
        await self._response.write(self._convert(data))


# --- the Table -------------------------------------------------------------------------------


def table(
    res: Resource,
    objects: Iterable[dict[str, Any]],
    *,
    include_object: str | None = None,
    list_metadata: dict[str, Any] | None = None,
    headers: bool = True,
    version: str = "v1",
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The Table of ``objects`` (wire dicts of ``res``).

    ``include_object`` is the ``includeObject`` query parameter: ``None`` leaves rows
    without the object, ``Metadata`` (the default) gives a PartialObjectMetadata,
    ``Object`` the whole object. ``list_metadata`` is the list's metadata (its
    resourceVersion and continue token); a single object's table takes its own
    resourceVersion. ``headers=False`` leaves out the column definitions, as a watch
    does after its first event.
    """
    include = include_object or "Metadata"
    if include not in INCLUDE_OBJECT:
        raise ValueError(f"includeObject must be one of {', '.join(INCLUDE_OBJECT)}")
    printer = PRINTERS.get(res.plural, _DEFAULT)
    moment = now or dt.datetime.now(dt.UTC)
    api_version = f"{TABLE_GROUP}/{version}"
    rows = []
    items = list(objects)
    for obj in items:
        row: dict[str, Any] = {"cells": printer.cells(obj, moment)}
        conditions = printer.conditions(obj)
        if conditions:
            row["conditions"] = conditions
        row["object"] = _row_object(obj, include, api_version)
        rows.append(row)
    metadata: dict[str, Any] = {}
    if list_metadata is not None:
        for key in ("resourceVersion", "continue", "remainingItemCount"):
            if list_metadata.get(key) not in (None, ""):
                metadata[key] = list_metadata[key]
    elif len(items) == 1:
        rv = (items[0].get("metadata") or {}).get("resourceVersion")
        if rv:
            metadata["resourceVersion"] = rv
    return {
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": metadata,
        "columnDefinitions": [c.definition() for c in printer.columns] if headers else [],
        "rows": rows,
    }


def _row_object(obj: dict[str, Any], include: str, api_version: str) -> dict[str, Any] | None:
    if include == "Object":
        return obj
    if include == "None":
        return None
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": api_version,
        "metadata": obj.get("metadata") or {},
    }


# --- cells shared by every kind -----------------------------------------------------------


def human_duration(seconds: float) -> str:
    """Kubernetes' ``duration.HumanDuration``: two significant units while they matter
    (``5m3s``, ``3h20m``, ``2d5h``), one after (``45m``, ``20h``, ``30d``)."""
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        s = whole % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


def parse_time(value: Any) -> dt.datetime | None:
    """An RFC 3339 timestamp (``Time`` or ``MicroTime``); None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def since(value: Any, now: dt.datetime) -> str:
    """How long ago a timestamp was (``translateTimestampSince``); ``<unknown>`` if unset."""
    moment = parse_time(value)
    if moment is None:
        return UNKNOWN
    return human_duration((now - moment).total_seconds())


def _age(obj: dict[str, Any], now: dt.datetime) -> str:
    return since(_get(obj, "metadata", "creationTimestamp"), now)


def _name(obj: dict[str, Any]) -> str:
    return _get(obj, "metadata", "name") or ""


def _get(obj: Any, *keys: str | int) -> Any:
    for key in keys:
        if isinstance(key, int):
            obj = obj[key] if isinstance(obj, list) and len(obj) > key else None
        else:
            obj = obj.get(key) if isinstance(obj, dict) else None
        if obj is None:
            return None
    return obj


def _list(obj: Any, *keys: str) -> list[Any]:
    found = _get(obj, *keys)
    return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []


_NAME = Column("Name", format="name", description="The object's name, unique in its namespace.")
_AGE = Column("Age", description="Time since the object was created (metadata.creationTimestamp).")


def _selector_string(selector: Any) -> str:
    """A LabelSelector as ``labels.Selector.String()`` renders it: terms sorted by key,
    ``k=v``, ``k in (a,b)``, ``k notin (a,b)``, ``k``, ``!k``."""
    if not isinstance(selector, dict):
        return ""
    terms: list[tuple[str, str]] = []
    for key, value in (selector.get("matchLabels") or {}).items():
        terms.append((key, f"{key}={value}"))
    for expr in selector.get("matchExpressions") or []:
        key, op = expr.get("key", ""), expr.get("operator", "")
        values = ",".join(sorted(expr.get("values") or []))
        rendered = {
            "In": f"{key} in ({values})",
            "NotIn": f"{key} notin ({values})",
            "Exists": key,
            "DoesNotExist": f"!{key}",
        }.get(op)
        if rendered is None:
            return "<invalid>"
        terms.append((key, rendered))
    return ",".join(text for _, text in sorted(terms, key=lambda t: t[0]))


def _containers_and_images(template_spec: Any) -> Cells:
    containers = _list(template_spec, "containers")
    return [
        ",".join(c.get("name") or "" for c in containers),
        ",".join(c.get("image") or "" for c in containers),
    ]


# --- pods ------------------------------------------------------------------------------------


def pod_cells(pod: dict[str, Any], now: dt.datetime) -> Cells:
    """NAME READY STATUS RESTARTS AGE, then IP NODE NOMINATED NODE READINESS GATES."""
    ready, status, restarts = pod_summary(pod, now)
    spec, pod_status = pod.get("spec") or {}, pod.get("status") or {}
    ip = _get(pod_status, "podIPs", 0, "ip") or pod_status.get("podIP") or NONE
    gates = _list(spec, "readinessGates")
    readiness = NONE
    if gates:
        conditions = {c.get("type"): c.get("status") for c in _list(pod_status, "conditions")}
        true = sum(1 for g in gates if conditions.get(g.get("conditionType")) == "True")
        readiness = f"{true}/{len(gates)}"
    return [
        _name(pod),
        ready,
        status,
        restarts,
        _age(pod, now),
        ip,
        spec.get("nodeName") or NONE,
        pod_status.get("nominatedNodeName") or NONE,
        readiness,
    ]


def pod_summary(pod: dict[str, Any], now: dt.datetime) -> tuple[str, str, str]:
    """READY, STATUS and RESTARTS as kubectl shows them (the rules of printPod).

    STATUS starts as the phase (or ``status.reason``); a failing or waiting init
    container makes it ``Init:<reason>`` / ``Init:<i>/<n>``; once initialised, the last
    container with something to say wins (a waiting reason such as ContainerCreating or
    CrashLoopBackOff, a terminated reason such as Completed or Error, else
    ``ExitCode:<n>``); a pod being deleted is Terminating (Unknown if its node is lost).
    """
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for condition in _list(status, "conditions"):
        if condition.get("type") == "PodScheduled" and condition.get("reason") == (
            "SchedulingGated"
        ):
            reason = "SchedulingGated"

    init_specs = {c.get("name"): c for c in _list(spec, "initContainers")}
    total = len(_list(spec, "containers")) + sum(1 for c in init_specs.values() if _restartable(c))
    ready = restarts = sidecar_restarts = 0
    last_restart: dt.datetime | None = None
    last_sidecar_restart: dt.datetime | None = None

    initializing = False
    init_statuses = _list(status, "initContainerStatuses")
    for index, container in enumerate(init_statuses):
        count = int(container.get("restartCount") or 0)
        finished = parse_time(_get(container, "lastState", "terminated", "finishedAt"))
        restarts += count
        last_restart = _later(last_restart, finished)
        sidecar = _restartable(init_specs.get(container.get("name")))
        if sidecar:
            sidecar_restarts += count
            last_sidecar_restart = _later(last_sidecar_restart, finished)
        terminated = _get(container, "state", "terminated")
        waiting = _get(container, "state", "waiting")
        if terminated is not None and int(terminated.get("exitCode") or 0) == 0:
            continue
        if sidecar and container.get("started"):
            ready += 1 if container.get("ready") else 0
            continue
        if terminated is not None:
            reason = "Init:" + _terminated_reason(terminated)
        elif waiting is not None and waiting.get("reason") not in (None, "", "PodInitializing"):
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{index}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _condition_true(status, "Initialized"):
        restarts, last_restart = sidecar_restarts, last_sidecar_restart
        has_running = False
        for container in reversed(_list(status, "containerStatuses")):
            restarts += int(container.get("restartCount") or 0)
            last_restart = _later(
                last_restart,
                parse_time(_get(container, "lastState", "terminated", "finishedAt")),
            )
            waiting = _get(container, "state", "waiting")
            terminated = _get(container, "state", "terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None:
                reason = _terminated_reason(terminated)
            elif container.get("ready") and _get(container, "state", "running") is not None:
                has_running = True
                ready += 1
        # A finished container beside one still running is a pod still running.
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(status, "Ready") else "NotReady"

    deleting = bool(_get(pod, "metadata", "deletionTimestamp"))
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"

    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration((now - last_restart).total_seconds())} ago)"
    return f"{ready}/{total}", reason, restarts_text


def _terminated_reason(terminated: dict[str, Any]) -> str:
    if terminated.get("reason"):
        return str(terminated["reason"])
    if terminated.get("signal"):
        return f"Signal:{terminated['signal']}"
    return f"ExitCode:{int(terminated.get('exitCode') or 0)}"


def _restartable(container: dict[str, Any] | None) -> bool:
    """A sidecar: an init container with ``restartPolicy: Always``."""
    return bool(container) and container.get("restartPolicy") == "Always"  # type: ignore[union-attr]


def _condition_true(status: dict[str, Any], kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True" for c in _list(status, "conditions")
    )


def _later(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _pod_conditions(pod: dict[str, Any]) -> list[dict[str, Any]]:
    # Row conditions let a client tell finished pods apart without reading STATUS.
    phase = _get(pod, "status", "phase")
    if phase == "Succeeded":
        message = "The pod has completed successfully."
    elif phase == "Failed":
        message = "The pod failed."
    else:
        return []
    return [{"type": "Completed", "status": "True", "reason": phase, "message": message}]


# --- nodes -------------------------------------------------------------------------------------

NODE_ROLE_PREFIX = "node-role.kubernetes.io/"
NODE_ROLE_LABEL = "kubernetes.io/role"


def node_cells(node: dict[str, Any], now: dt.datetime) -> Cells:
    """NAME STATUS ROLES AGE VERSION, then INTERNAL-IP EXTERNAL-IP OS-IMAGE
    KERNEL-VERSION CONTAINER-RUNTIME."""
    status = node.get("status") or {}
    states = [
        ("Ready" if c.get("status") == "True" else "NotReady")
        for c in _list(status, "conditions")
        if c.get("type") == "Ready"
    ][:1] or ["Unknown"]
    if _get(node, "spec", "unschedulable"):
        states.append("SchedulingDisabled")
    info = status.get("nodeInfo") or {}
    return [
        _name(node),
        ",".join(states),
        ",".join(node_roles(node)) or NONE,
        _age(node, now),
        info.get("kubeletVersion") or "",
        _address(status, "InternalIP"),
        _address(status, "ExternalIP"),
        info.get("osImage") or UNKNOWN,
        info.get("kernelVersion") or UNKNOWN,
        info.get("containerRuntimeVersion") or UNKNOWN,
    ]


def node_roles(node: dict[str, Any]) -> list[str]:
    """Roles from ``node-role.kubernetes.io/<role>`` labels and ``kubernetes.io/role``."""
    roles = set()
    for key, value in (_get(node, "metadata", "labels") or {}).items():
        if key.startswith(NODE_ROLE_PREFIX) and key[len(NODE_ROLE_PREFIX) :]:
            roles.add(key[len(NODE_ROLE_PREFIX) :])
        elif key == NODE_ROLE_LABEL and value:
            roles.add(value)
    return sorted(roles)


def _address(status: dict[str, Any], kind: str) -> str:
    for address in _list(status, "addresses"):
        if address.get("type") == kind:
            return address.get("address") or NONE
    return NONE


# --- workloads ---------------------------------------------------------------------------------


def deployment_cells(obj: dict[str, Any], now: dt.datetime) -> Cells:
    """NAME READY UP-TO-DATE AVAILABLE AGE, then CONTAINERS IMAGES SELECTOR."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    desired = spec.get("replicas", 1)
    return [
        _name(obj),
        f"{int(status.get('readyReplicas') or 0)}/{int(desired or 0)}",
        int(status.get("updatedReplicas") or 0),
        int(status.get("availableReplicas") or 0),
        _age(obj, now),
        *_containers_and_images(_get(spec, "template", "spec")),
        _selector_string(spec.get("selector")),
    ]


def replicaset_cells(obj: dict[str, Any], now: dt.datetime) -> Cells:
    """NAME DESIRED CURRENT READY AGE, then CONTAINERS IMAGES SELECTOR."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [
        _name(obj),
        int(spec.get("replicas", 1) or 0),
        int(status.get("replicas") or 0),
        int(status.get("readyReplicas") or 0),
        _age(obj, now),
        *_containers_and_images(_get(spec, "template", "spec")),
        _selector_string(spec.get("selector")),
    ]


# --- events, namespaces, leases ---------------------------------------------------------------


def event_cells(event: dict[str, Any], now: dt.datetime) -> Cells:
    """LAST SEEN TYPE REASON OBJECT MESSAGE, then SUBOBJECT SOURCE FIRST SEEN COUNT NAME.

    LAST SEEN reads ``5m (x3 over 20m)`` when the event was seen more than once."""
    first = since(event.get("firstTimestamp"), now)
    if not parse_time(event.get("firstTimestamp")):
        first = since(event.get("eventTime"), now)
    last = since(event.get("lastTimestamp"), now)
    if not parse_time(event.get("lastTimestamp")):
        last = first
    count = int(event.get("count") or 0)
    series = event.get("series")
    if isinstance(series, dict):
        last = since(series.get("lastObservedTime"), now)
        count = int(series.get("count") or 0)
    elif count > 1:
        last = f"{last} (x{count} over {first})"
    involved = event.get("involvedObject") or {}
    kind = str(involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = event.get("source") or {}
    component = source.get("component") or event.get("reportingComponent") or ""
    instance = source.get("host") or event.get("reportingInstance") or ""
    return [
        last,
        event.get("type") or "",
        event.get("reason") or "",
        target,
        involved.get("fieldPath") or "",
        f"{component}, {instance}" if instance else component,
        str(event.get("message") or "").strip(),
        first,
        count,
        _name(event),
    ]


def namespace_cells(obj: dict[str, Any], now: dt.datetime) -> Cells:
    return [_name(obj), _get(obj, "status", "phase") or "", _age(obj, now)]


def lease_cells(obj: dict[str, Any], now: dt.datetime) -> Cells:
    return [_name(obj), _get(obj, "spec", "holderIdentity") or "", _age(obj, now)]


def _default_cells(obj: dict[str, Any], now: dt.datetime) -> Cells:
    return [_name(obj), _age(obj, now)]


def _wide(name: str, description: str, type_: str = "string") -> Column:
    return Column(name, type_, description, priority=1)


_WORKLOAD_WIDE = (
    _wide("Containers", "Names of each container in the template."),
    _wide("Images", "Images referenced by each container in the template."),
    _wide("Selector", "The label selector of the pods it manages."),
)

PRINTERS: dict[str, Printer] = {
    "pods": Printer(
        (
            _NAME,
            Column("Ready", description="Ready containers of all containers."),
            Column("Status", description="The aggregate status of the containers in this pod."),
            Column("Restarts", description="Container restarts (and how long ago the last)."),
            _AGE,
            _wide("IP", "The pod's IP address."),
            _wide("Node", "The node the pod is bound to."),
            _wide("Nominated Node", "The node preemption nominated for the pod."),
            _wide("Readiness Gates", "Readiness gates whose condition is True, of all."),
        ),
        pod_cells,
        _pod_conditions,
    ),
    "nodes": Printer(
        (
            _NAME,
            Column("Status", description="The status of the node."),
            Column("Roles", description="The roles of the node."),
            _AGE,
            Column("Version", description="The kubelet (agent) version the node reports."),
            _wide("Internal-IP", "The node's first InternalIP address."),
            _wide("External-IP", "The node's first ExternalIP address."),
            _wide("OS-Image", "The OS image the node reports."),
            _wide("Kernel-Version", "The kernel version the node reports."),
            _wide("Container-Runtime", "The container runtime and its version."),
        ),
        node_cells,
    ),
    "deployments": Printer(
        (
            _NAME,
            Column("Ready", description="Ready pods of the desired number."),
            Column("Up-to-date", "integer", "Pods that run the current template."),
            Column("Available", "integer", "Pods available to serve."),
            _AGE,
            *_WORKLOAD_WIDE,
        ),
        deployment_cells,
    ),
    "replicasets": Printer(
        (
            _NAME,
            Column("Desired", "integer", "The number of pods wanted."),
            Column("Current", "integer", "The number of pods that exist."),
            Column("Ready", "integer", "The number of ready pods."),
            _AGE,
            *_WORKLOAD_WIDE,
        ),
        replicaset_cells,
    ),
    "events": Printer(
        (
            Column("Last Seen", description="When the event was last seen."),
            Column("Type", description="Normal or Warning."),
            Column("Reason", description="Why the event happened, in one word."),
            Column("Object", description="The object the event is about."),
            _wide("Subobject", "The part of the object (involvedObject.fieldPath)."),
            _wide("Source", "The component that reported the event."),
            Column("Message", description="What happened, for a person."),
            _wide("First Seen", "When the event was first seen."),
            _wide("Count", "How many times the event was seen."),
            Column("Name", format="name", priority=1, description="The event's name."),
        ),
        event_cells,
    ),
    "namespaces": Printer(
        (_NAME, Column("Status", description="The phase of the namespace."), _AGE),
        namespace_cells,
    ),
    "leases": Printer(
        (_NAME, Column("Holder", description="The holder of the lease."), _AGE),
        lease_cells,
    ),
}
_DEFAULT = Printer((_NAME, _AGE), _default_cells)
