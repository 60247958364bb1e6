"""Sections many of ``navctl describe``'s descriptions share, as kubectl's describers
write them: the object's name and metadata, its controller, a selector, conditions, a
pod template with its containers, tolerations, and the Events it ends with."""

from __future__ import annotations

from typing import Any

from navarch.cli.navctl.describe_text import NONE, Text, add_events, mapping_lines
from navarch.cli.navctl.session import Session, find_resource, resource_path


async def events(session: Session, text: Text, selector: str) -> None:
    """The Events section every description ends with: the events ``selector`` finds."""
    listed = await session.request(
        "GET", resource_path(find_resource("events"), None), params={"fieldSelector": selector}
    )
    add_events(text, list(listed.get("items") or []))


def about(obj: dict[str, Any]) -> str:
    """Events about ``obj``, by its uid."""
    return f"involvedObject.uid={(obj.get('metadata') or {}).get('uid')}"


def node_events(node: dict[str, Any]) -> str:
    """Events about a node, by kind and name: agents report about a node by its name."""
    return (
        f"involvedObject.kind=Node,involvedObject.name={(node.get('metadata') or {}).get('name')}"
    )


def header(obj: dict[str, Any], text: Text, *, namespaced: bool = True) -> None:
    """Name and (for a namespaced object) Namespace, the lines every description opens with."""
    metadata = obj.get("metadata") or {}
    text.field("Name", metadata.get("name"))
    if namespaced:
        text.field("Namespace", metadata.get("namespace"))


def labels_annotations(obj: dict[str, Any], text: Text, hide: tuple[str, ...] = ()) -> None:
    metadata = obj.get("metadata") or {}
    text.values("Labels", mapping_lines(metadata.get("labels")))
    annotations = {k: v for k, v in (metadata.get("annotations") or {}).items() if k not in hide}
    text.values("Annotations", mapping_lines(annotations))


def controlled_by(obj: dict[str, Any], text: Text) -> None:
    for owner in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if owner.get("controller"):
            text.field("Controlled By", f"{owner.get('kind')}/{owner.get('name')}")


def conditions(conditions: list[dict[str, Any]], text: Text, *, with_reason: bool) -> None:
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


def containers(
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
            container_state("State", status.get("state") or {}, text, at)
            if status.get("lastState"):
                container_state("Last State", status["lastState"], text, at)
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


def container_state(label: str, state: dict[str, Any], text: Text, indent: int) -> None:
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


def pod_template(template: dict[str, Any], text: Text) -> None:
    text.line("Pod Template:")
    metadata = template.get("metadata") or {}
    text.values("Labels", mapping_lines(metadata.get("labels")), 1)
    containers(template.get("spec") or {}, [], text, 1)


def selector_text(selector: dict[str, Any] | None) -> str:
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
