"""``navctl describe``: one object in words, kubectl's sections (Name, Labels, Status,
Containers, Conditions, Tolerations …) and the Events about it. For a pod also the
scheduler's reasoning: the decision it wrote on the pod when binding (the chosen node's
score per plugin, the runners-up, what was filtered out and why), or, while the pod
waits, why no node fits (PodScheduled's message, from the FailedScheduling event)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from navarch.cli.navctl.describe_text import NONE, Text, add_events, mapping_lines
from navarch.cli.navctl.failures import describe_api_error
from navarch.cli.navctl.printing import age
from navarch.cli.navctl.session import Session, add_command, find_resource, resource_path
from navarch.cli.navctl.targets import list_params, single_target
from navarch.client import ApiException
from navarch.scheduler.decision import DECISION_ANNOTATION

# kubectl's "Non-terminated Pods" of a node.
RUNNING_PHASES = "status.phase!=Succeeded,status.phase!=Failed"

Describer = Callable[[Session, dict[str, Any], Text], Awaitable[None]]


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands, "describe", run, help="show an object in detail, with its events"
    )
    parser.add_argument("words", nargs="+", metavar="TYPE [NAME…] | TYPE/NAME…")
    parser.add_argument("-l", "--selector", help="describe every object with these labels")


async def run(session: Session, args: argparse.Namespace) -> int:
    res, names = single_target(args.words, "describe")
    # a kind with no describer of its own (a plugin's, a custom resource) gets
    # kubectl's generic one
    describer = DESCRIBERS.get(res.plural, describe_generic)
    ns = session.namespace if res.namespaced else None
    objects: list[dict[str, Any]] = []
    failed = False
    if names:
        for name in names:
            try:
                objects.append(await session.request("GET", resource_path(res, ns, name)))
            except ApiException as exc:
                print(describe_api_error(exc), file=sys.stderr)
                failed = True
    else:
        listed = await session.request("GET", resource_path(res, ns), params=list_params(args))
        objects = list(listed.get("items") or [])
        if not objects:
            where = f" in {ns} namespace" if ns else ""
            print(f"No resources found{where}.", file=sys.stderr)
    for index, obj in enumerate(objects):
        text = Text()
        await describer(session, obj, text)  # each ends with its Events section
        if index:
            print()
        sys.stdout.write(text.render())
    return 1 if failed else 0


async def _events(session: Session, text: Text, selector: str) -> None:
    """The Events section every description ends with: the events ``selector`` finds."""
    listed = await session.request(
        "GET", resource_path(find_resource("events"), None), params={"fieldSelector": selector}
    )
    add_events(text, list(listed.get("items") or []))


def _about(obj: dict[str, Any]) -> str:
    """Events about ``obj``, by its uid."""
    return f"involvedObject.uid={(obj.get('metadata') or {}).get('uid')}"


def _node_events(node: dict[str, Any]) -> str:
    """Events about a node, by kind and name: agents report about a node by its name."""
    return (
        f"involvedObject.kind=Node,involvedObject.name={(node.get('metadata') or {}).get('name')}"
    )


# --- shared sections -----------------------------------------------------------------------------


def _metadata(obj: dict[str, Any], text: Text, *, namespaced: bool = True) -> None:
    metadata = obj.get("metadata") or {}
    text.field("Name", metadata.get("name"))
    if namespaced:
        text.field("Namespace", metadata.get("namespace"))


def _labels_annotations(obj: dict[str, Any], text: Text, hide: tuple[str, ...] = ()) -> None:
    metadata = obj.get("metadata") or {}
    text.values("Labels", mapping_lines(metadata.get("labels")))
    annotations = {k: v for k, v in (metadata.get("annotations") or {}).items() if k not in hide}
    text.values("Annotations", mapping_lines(annotations))


def _controlled_by(obj: dict[str, Any], text: Text) -> None:
    for owner in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if owner.get("controller"):
            text.field("Controlled By", f"{owner.get('kind')}/{owner.get('name')}")


def _conditions(conditions: list[dict[str, Any]], text: Text, *, with_reason: bool) -> None:
    if not conditions:
        return
    text.line("Conditions:")
    header = ["Type", "Status", "Reason"] if with_reason else ["Type", "Status"]
    rows = [header, ["-" * len(h) for h in header]]
    for condition in conditions:
        row = [str(condition.get("type") or ""), str(condition.get("status") or "")]
        if with_reason:
            row.append(str(condition.get("reason") or ""))
        rows.append(row)
    text.table(rows)


def _containers(
    spec: dict[str, Any], statuses: list[dict[str, Any]], text: Text, indent: int
) -> None:
    text.line("Containers:", indent)
    by_name = {s.get("name"): s for s in statuses}
    for container in spec.get("containers") or []:
        text.line(f"{container.get('name')}:", indent + 1)
        status = by_name.get(container.get("name"))
        at = indent + 2
        if status is not None:
            text.field("Container ID", status.get("containerID"), at)
        text.field("Image", container.get("image"), at)
        ports = [
            f"{p.get('containerPort')}/{p.get('protocol') or 'TCP'}"
            for p in container.get("ports") or []
        ]
        text.field("Port" + ("s" if len(ports) > 1 else ""), ", ".join(ports) or NONE, at)
        if container.get("command"):
            text.field("Command", " ".join(container["command"]), at)
        if container.get("args"):
            text.field("Args", " ".join(container["args"]), at)
        if status is not None:
            _container_state("State", status.get("state") or {}, text, at)
            if status.get("lastState"):
                _container_state("Last State", status["lastState"], text, at)
            text.field("Ready", str(bool(status.get("ready"))), at)
            text.field("Restart Count", status.get("restartCount", 0), at)
        resources = container.get("resources") or {}
        for section in ("limits", "requests"):
            if resources.get(section):
                text.line(f"{section.capitalize()}:", at)
                for key, value in sorted(resources[section].items()):
                    text.field(key, value, at + 1)
        env = container.get("env") or []
        text.values("Environment", [f"{e.get('name')}={e.get('value', '')}" for e in env], at)


def _container_state(label: str, state: dict[str, Any], text: Text, indent: int) -> None:
    if state.get("running"):
        text.field(label, "Running", indent)
        text.field("Started", state["running"].get("startedAt"), indent + 1)
    elif state.get("terminated"):
        done = state["terminated"]
        text.field(label, "Terminated", indent)
        text.field("Reason", done.get("reason"), indent + 1)
        if done.get("message"):
            text.field("Message", done["message"], indent + 1)
        text.field("Exit Code", done.get("exitCode"), indent + 1)
        text.field("Started", done.get("startedAt"), indent + 1)
        text.field("Finished", done.get("finishedAt"), indent + 1)
    elif state.get("waiting"):
        text.field(label, "Waiting", indent)
        text.field("Reason", state["waiting"].get("reason"), indent + 1)
        if state["waiting"].get("message"):
            text.field("Message", state["waiting"]["message"], indent + 1)
    else:
        text.field(label, "Waiting" if label == "State" else NONE, indent)


def toleration_text(toleration: dict[str, Any]) -> str:
    """kubectl's ``node.kubernetes.io/not-ready:NoExecute op=Exists for 300s``."""
    key = toleration.get("key") or ""
    out = key
    if toleration.get("value"):
        out += f"={toleration['value']}"
    if toleration.get("effect"):
        out += f":{toleration['effect']}"
    if toleration.get("operator") == "Exists":
        out += " op=Exists"
    if toleration.get("tolerationSeconds") is not None:
        out += f" for {toleration['tolerationSeconds']}s"
    return out.strip() or "op=Exists"


def _template(template: dict[str, Any], text: Text) -> None:
    text.line("Pod Template:")
    metadata = template.get("metadata") or {}
    text.values("Labels", mapping_lines(metadata.get("labels")), 1)
    _containers(template.get("spec") or {}, [], text, 1)


# --- per kind ------------------------------------------------------------------------------------


async def describe_pod(session: Session, pod: dict[str, Any], text: Text) -> None:
    metadata, spec, status = (
        pod.get("metadata") or {},
        pod.get("spec") or {},
        pod.get("status") or {},
    )
    _metadata(pod, text)
    text.field("Priority", spec.get("priority", 0))
    text.field("Service Account", spec.get("serviceAccountName") or "default")
    node = spec.get("nodeName")
    host_ip = status.get("hostIP")
    text.field("Node", (f"{node}/{host_ip}" if host_ip else node) if node else NONE)
    text.field("Start Time", status.get("startTime") or NONE)
    _labels_annotations(pod, text, hide=(DECISION_ANNOTATION,))
    phase = status.get("phase") or "Pending"
    if metadata.get("deletionTimestamp"):
        grace = metadata.get("deletionGracePeriodSeconds")
        text.field("Status", f"Terminating (lasts {age(metadata['deletionTimestamp'])})")
        text.field("Termination Grace Period", f"{grace}s")
    else:
        text.field("Status", phase)
    if status.get("reason"):
        text.field("Reason", status["reason"])
    if status.get("message"):
        text.field("Message", status["message"])
    text.field("IP", status.get("podIP"))
    ips = [ip.get("ip") for ip in status.get("podIPs") or [] if ip.get("ip")]
    if ips:
        text.line("IPs:")
        for ip in ips:
            text.field("IP", ip, 1)
    _controlled_by(pod, text)
    _containers(spec, status.get("containerStatuses") or [], text, 0)
    _conditions(status.get("conditions") or [], text, with_reason=False)
    _scheduling(pod, text)
    text.values("Node-Selectors", mapping_lines(spec.get("nodeSelector")))
    text.values("Tolerations", [toleration_text(t) for t in spec.get("tolerations") or []])
    await _events(session, text, _about(pod))


def _scheduling(pod: dict[str, Any], text: Text) -> None:
    """The scheduler's reasons and scores: its decision annotation on a bound pod, its
    PodScheduled=False message on a pod that fits nowhere."""
    decision = ((pod.get("metadata") or {}).get("annotations") or {}).get(DECISION_ANNOTATION)
    if decision:
        text.line("Scheduling:")
        for line in str(decision).splitlines():
            text.line(line, 1)
        return
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            text.line("Scheduling:")
            reason = condition.get("reason") or "Unschedulable"
            text.line(f"{reason}: {condition.get('message') or 'no reason given'}", 1)


async def describe_node(session: Session, node: dict[str, Any], text: Text) -> None:
    metadata, spec, status = (
        node.get("metadata") or {},
        node.get("spec") or {},
        node.get("status") or {},
    )
    _metadata(node, text, namespaced=False)
    labels = metadata.get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    text.field("Roles", ",".join(roles) or NONE)
    _labels_annotations(node, text)
    text.field("CreationTimestamp", metadata.get("creationTimestamp"))
    taints = [
        f"{t.get('key')}{'=' + t['value'] if t.get('value') else ''}:{t.get('effect')}"
        for t in spec.get("taints") or []
    ]
    text.values("Taints", taints)
    text.field("Unschedulable", str(bool(spec.get("unschedulable"))).lower())
    conditions = status.get("conditions") or []
    if conditions:
        text.line("Conditions:")
        rows = [["Type", "Status", "LastHeartbeatTime", "Reason", "Message"]]
        rows.append(["-" * len(h) for h in rows[0]])
        rows += [
            [
                str(c.get("type") or ""),
                str(c.get("status") or ""),
                str(c.get("lastHeartbeatTime") or ""),
                str(c.get("reason") or ""),
                str(c.get("message") or ""),
            ]
            for c in conditions
        ]
        text.table(rows)
    addresses = status.get("addresses") or []
    if addresses:
        text.line("Addresses:")
        for address in addresses:
            text.field(str(address.get("type")), address.get("address"), 1)
    for section in ("capacity", "allocatable"):
        if status.get(section):
            text.line(f"{section.capitalize()}:")
            for key, value in sorted(status[section].items()):
                text.field(key, value, 1)
    info = status.get("nodeInfo") or {}
    if info:
        text.line("System Info:")
        for key in ("operatingSystem", "architecture", "containerRuntimeVersion", "kubeletVersion"):
            if info.get(key):
                text.field(key[0].upper() + key[1:], info[key], 1)
    pods = await session.request(
        "GET",
        resource_path(find_resource("pods"), None),
        params={"fieldSelector": f"spec.nodeName={metadata.get('name')},{RUNNING_PHASES}"},
    )
    items = pods.get("items") or []
    text.line(f"Non-terminated Pods:  ({len(items)} in total)")
    if items:
        rows = [["Namespace", "Name", "CPU Requests", "Memory Requests", "Age"]]
        rows.append(["-" * len(h) for h in rows[0]])
        for pod in items:
            requests = _pod_requests(pod)
            pod_metadata = pod.get("metadata") or {}
            rows.append(
                [
                    str(pod_metadata.get("namespace")),
                    str(pod_metadata.get("name")),
                    requests.get("cpu", "0"),
                    requests.get("memory", "0"),
                    age(pod_metadata.get("creationTimestamp")),
                ]
            )
        text.table(rows)
    await _events(session, text, _node_events(node))


def _pod_requests(pod: dict[str, Any]) -> dict[str, str]:
    """The requests of a pod's containers, as written (summed only when one asks)."""
    found: dict[str, list[str]] = {}
    for container in (pod.get("spec") or {}).get("containers") or []:
        for key, value in ((container.get("resources") or {}).get("requests") or {}).items():
            found.setdefault(key, []).append(str(value))
    return {k: "+".join(v) for k, v in found.items()}


async def describe_deployment(session: Session, deploy: dict[str, Any], text: Text) -> None:
    metadata, spec, status = (
        deploy.get("metadata") or {},
        deploy.get("spec") or {},
        deploy.get("status") or {},
    )
    _metadata(deploy, text)
    text.field("CreationTimestamp", metadata.get("creationTimestamp"))
    _labels_annotations(deploy, text)
    text.field("Selector", _selector_text(spec.get("selector")))
    replicas = spec.get("replicas", 1)
    text.field(
        "Replicas",
        f"{replicas} desired | {status.get('updatedReplicas', 0)} updated | "
        f"{status.get('replicas', 0)} total | {status.get('availableReplicas', 0)} available | "
        f"{status.get('unavailableReplicas', 0)} unavailable",
    )
    strategy = spec.get("strategy") or {}
    text.field("StrategyType", strategy.get("type") or "RollingUpdate")
    text.field("MinReadySeconds", spec.get("minReadySeconds", 0))
    rolling = strategy.get("rollingUpdate") or {}
    if (strategy.get("type") or "RollingUpdate") == "RollingUpdate":
        text.field(
            "RollingUpdateStrategy",
            f"{rolling.get('maxUnavailable', '25%')} max unavailable, "
            f"{rolling.get('maxSurge', '25%')} max surge",
        )
    if spec.get("paused"):
        text.field("Paused", "true")
    _template(spec.get("template") or {}, text)
    _conditions(status.get("conditions") or [], text, with_reason=True)
    await _replicasets_of(session, deploy, text)
    await _events(session, text, _about(deploy))


REVISION_ANNOTATION = "deployment.kubernetes.io/revision"


def _revision(rs: dict[str, Any]) -> int:
    annotations = (rs.get("metadata") or {}).get("annotations") or {}
    try:
        return int(annotations.get(REVISION_ANNOTATION) or 0)
    except ValueError:
        return 0


def _replicas_created(rs: dict[str, Any]) -> str:
    created = (rs.get("status") or {}).get("replicas", 0)
    wanted = (rs.get("spec") or {}).get("replicas", 0)
    return f"{(rs.get('metadata') or {}).get('name')} ({created}/{wanted} replicas created)"


async def _replicasets_of(session: Session, deploy: dict[str, Any], text: Text) -> None:
    """OldReplicaSets (still running pods) and NewReplicaSet (the latest revision)."""
    metadata = deploy.get("metadata") or {}
    listed = await session.request(
        "GET", resource_path(find_resource("replicasets"), metadata.get("namespace"))
    )
    owned = [
        rs
        for rs in listed.get("items") or []
        if any(
            owner.get("uid") == metadata.get("uid")
            for owner in (rs.get("metadata") or {}).get("ownerReferences") or []
        )
    ]
    new = max(owned, key=_revision, default=None)
    old = [
        _replicas_created(rs)
        for rs in owned
        if rs is not new and (rs.get("spec") or {}).get("replicas")
    ]
    text.field("OldReplicaSets", ", ".join(old) or NONE)
    text.field("NewReplicaSet", _replicas_created(new) if new is not None else NONE)


def _selector_text(selector: dict[str, Any] | None) -> str:
    selector = selector or {}
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        values = ",".join(expression.get("values") or [])
        operator = expression.get("operator", "")
        key = expression.get("key", "")
        if operator == "Exists":
            parts.append(key)
        elif operator == "DoesNotExist":
            parts.append(f"!{key}")
        else:
            parts.append(f"{key} {operator.lower()} ({values})")
    return ",".join(parts) or NONE


async def describe_replicaset(session: Session, rs: dict[str, Any], text: Text) -> None:
    metadata, spec, status = rs.get("metadata") or {}, rs.get("spec") or {}, rs.get("status") or {}
    _metadata(rs, text)
    text.field("Selector", _selector_text(spec.get("selector")))
    _labels_annotations(rs, text)
    _controlled_by(rs, text)
    text.field(
        "Replicas", f"{status.get('replicas', 0)} current / {spec.get('replicas', 1)} desired"
    )
    pods = await session.request(
        "GET", resource_path(find_resource("pods"), metadata.get("namespace"))
    )
    phases = {"Running": 0, "Pending": 0, "Succeeded": 0, "Failed": 0}
    for pod in pods.get("items") or []:
        owners = (pod.get("metadata") or {}).get("ownerReferences") or []
        if any(o.get("uid") == metadata.get("uid") for o in owners):
            phase = (pod.get("status") or {}).get("phase") or "Pending"
            phases[phase] = phases.get(phase, 0) + 1
    text.field(
        "Pods Status",
        f"{phases['Running']} Running / {phases['Pending']} Waiting / "
        f"{phases['Succeeded']} Succeeded / {phases['Failed']} Failed",
    )
    _template(spec.get("template") or {}, text)
    _conditions(status.get("conditions") or [], text, with_reason=True)
    await _events(session, text, _about(rs))


async def describe_namespace(session: Session, ns: dict[str, Any], text: Text) -> None:
    _metadata(ns, text, namespaced=False)
    _labels_annotations(ns, text)
    text.field("Status", (ns.get("status") or {}).get("phase") or "Active")
    text.line("")
    text.line("No resource quota.")
    text.line("")
    text.line("No LimitRange resource.")
    await _events(session, text, _about(ns))


async def describe_generic(session: Session, obj: dict[str, Any], text: Text) -> None:
    """kubectl's describer of an object it has no describer for: its name, labels,
    annotations, apiVersion and kind, then every other field, nested by indent."""
    metadata = obj.get("metadata") or {}
    _metadata(obj, text, namespaced=bool(metadata.get("namespace")))
    _labels_annotations(obj, text)
    text.field("API Version", obj.get("apiVersion"))
    text.field("Kind", obj.get("kind"))
    rest = {k: v for k, v in metadata.items() if k not in _SHOWN_METADATA}
    shown = {**{k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}, "metadata": rest}
    for key in sorted(shown):  # kubectl sorts the fields at every level
        _content(key, shown[key], text, 0)
    await _events(session, text, _about(obj))


_SHOWN_METADATA = ("name", "namespace", "labels", "annotations", "managedFields")
# words kubectl's smartLabelFor writes in capitals
_ACRONYMS = {"Api": "API", "Id": "ID", "Ip": "IP", "Uid": "UID", "Url": "URL", "Uri": "URI"}


def _content(key: str, value: Any, text: Text, indent: int, mark: str = "") -> None:
    """One field of an object as kubectl's generic describer lays it out: ``Label:``
    then its fields indented; a list item's first field marked ``- ``."""
    label = mark + _smart_label(key)
    if isinstance(value, dict):
        if not value:
            return
        text.line(f"{label}:", indent)
        for child in sorted(value):
            _content(child, value[child], text, indent + 1)
    elif isinstance(value, list):
        text.line(f"{label}:", indent)
        for item in value:
            if isinstance(item, dict):
                for index, child in enumerate(sorted(item)):
                    mark = "- " if index == 0 else "  "
                    _content(child, item[child], text, indent + 1, mark)
            else:
                text.line(f"- {item}", indent + 1)
    else:
        text.field(label, value if value is not None else "<nil>", indent)


def _smart_label(key: str) -> str:
    """``lastBackupTime`` → ``Last Backup Time`` (kubectl's smartLabelFor)."""
    words, word = [], ""
    for char in key:
        if char.isupper() and word and not word[-1].isupper():
            words.append(word)
            word = char
        else:
            word += char
    words.append(word)
    titled = (w[:1].upper() + w[1:] for w in words if w)
    return " ".join(_ACRONYMS.get(w, w) for w in titled)


DESCRIBERS: dict[str, Describer] = {
    "pods": describe_pod,
    "nodes": describe_node,
    "deployments": describe_deployment,
    "replicasets": describe_replicaset,
    "namespaces": describe_namespace,
}
