"""``navctl describe``: one object in words, kubectl's sections (Name, Labels, Status,
Containers, Conditions, Tolerations …) and the Events about it. For a pod also the
scheduler's reasoning: the decision it wrote on the pod when binding (the chosen node's
score per plugin, the runners-up, what was filtered out and why), or, while the pod
waits, why no node fits (PodScheduled's message, from the FailedScheduling event).

The sections these describers share are :mod:`navarch.cli.navctl.describe_sections`;
issue 23's kinds (ConfigMaps, Secrets, Jobs, CronJobs, DaemonSets, StatefulSets and
storage) are described by :mod:`navarch.cli.navctl.describers`, kubectl's layout to the
character; any other kind gets kubectl's generic description."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from navarch.cli.navctl.describe_sections import (
    about,
    conditions,
    containers,
    controlled_by,
    events,
    header,
    labels_annotations,
    node_events,
    pod_template,
    selector_text,
    toleration_text,
)
from navarch.cli.navctl.describe_text import NONE, Text, mapping_lines
from navarch.cli.navctl.describers import apps, as_text, batch, configuration, storage
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
    describer = DESCRIBERS.get((res.group, res.plural), describe_generic)
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


# --- shared sections -----------------------------------------------------------------------------


# --- per kind ------------------------------------------------------------------------------------


async def describe_pod(session: Session, pod: dict[str, Any], text: Text) -> None:
    metadata, spec, status = (
        pod.get("metadata") or {},
        pod.get("spec") or {},
        pod.get("status") or {},
    )
    header(pod, text)
    text.field("Priority", spec.get("priority", 0))
    text.field("Service Account", spec.get("serviceAccountName") or "default")
    node = spec.get("nodeName")
    host_ip = status.get("hostIP")
    text.field("Node", (f"{node}/{host_ip}" if host_ip else node) if node else NONE)
    text.field("Start Time", status.get("startTime") or NONE)
    labels_annotations(pod, text, hide=(DECISION_ANNOTATION,))
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
    controlled_by(pod, text)
    containers(spec, status.get("containerStatuses") or [], text, 0)
    conditions(status.get("conditions") or [], text, with_reason=False)
    _scheduling(pod, text)
    text.values("Node-Selectors", mapping_lines(spec.get("nodeSelector")))
    text.values("Tolerations", [toleration_text(t) for t in spec.get("tolerations") or []])
    await events(session, text, about(pod))


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
    header(node, text, namespaced=False)
    labels = metadata.get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    text.field("Roles", ",".join(roles) or NONE)
    labels_annotations(node, text)
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
    await events(session, text, node_events(node))


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
    header(deploy, text)
    text.field("CreationTimestamp", metadata.get("creationTimestamp"))
    labels_annotations(deploy, text)
    text.field("Selector", selector_text(spec.get("selector")))
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
    pod_template(spec.get("template") or {}, text)
    conditions(status.get("conditions") or [], text, with_reason=True)
    await _replicasets_of(session, deploy, text)
    await events(session, text, about(deploy))


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


async def describe_replicaset(session: Session, rs: dict[str, Any], text: Text) -> None:
    metadata, spec, status = rs.get("metadata") or {}, rs.get("spec") or {}, rs.get("status") or {}
    header(rs, text)
    text.field("Selector", selector_text(spec.get("selector")))
    labels_annotations(rs, text)
    controlled_by(rs, text)
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
    pod_template(spec.get("template") or {}, text)
    conditions(status.get("conditions") or [], text, with_reason=True)
    await events(session, text, about(rs))


async def describe_namespace(session: Session, ns: dict[str, Any], text: Text) -> None:
    header(ns, text, namespaced=False)
    labels_annotations(ns, text)
    text.field("Status", (ns.get("status") or {}).get("phase") or "Active")
    text.line("")
    text.line("No resource quota.")
    text.line("")
    text.line("No LimitRange resource.")
    await events(session, text, about(ns))


async def describe_generic(session: Session, obj: dict[str, Any], text: Text) -> None:
    """kubectl's describer of an object it has no describer for: its name, labels,
    annotations, apiVersion and kind, then every other field, nested by indent."""
    metadata = obj.get("metadata") or {}
    header(obj, text, namespaced=bool(metadata.get("namespace")))
    labels_annotations(obj, text)
    text.field("API Version", obj.get("apiVersion"))
    text.field("Kind", obj.get("kind"))
    rest = {k: v for k, v in metadata.items() if k not in _SHOWN_METADATA}
    shown = {**{k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}, "metadata": rest}
    for key in sorted(shown):  # kubectl sorts the fields at every level
        _content(key, shown[key], text, 0)
    await events(session, text, about(obj))


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


# By API group and plural, so that a plugin's kind of the same name in another group
# gets the generic description, not one written for Kubernetes' kind.
DESCRIBERS: dict[tuple[str, str], Describer] = {
    ("", "pods"): describe_pod,
    ("", "nodes"): describe_node,
    ("apps", "deployments"): describe_deployment,
    ("apps", "replicasets"): describe_replicaset,
    ("", "namespaces"): describe_namespace,
    # issue 23's kinds, written as kubectl writes them (navarch.cli.navctl.describers)
    ("", "configmaps"): as_text(configuration.describe_configmap),
    ("", "secrets"): as_text(configuration.describe_secret),
    ("batch", "jobs"): as_text(batch.describe_job),
    ("batch", "cronjobs"): as_text(batch.describe_cronjob),
    ("apps", "daemonsets"): as_text(apps.describe_daemonset),
    ("apps", "statefulsets"): as_text(apps.describe_statefulset),
    ("", "persistentvolumes"): as_text(storage.describe_persistentvolume),
    ("", "persistentvolumeclaims"): as_text(storage.describe_persistentvolumeclaim),
    ("storage.k8s.io", "storageclasses"): as_text(storage.describe_storageclass),
}
