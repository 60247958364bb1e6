"""kubectl's DaemonSet and StatefulSet describers."""

from __future__ import annotations

from typing import Any

from navarch.cli.navctl.describers import (
    NONE,
    Lines,
    annotation_lines,
    events,
    format_labels,
    labels,
    meta,
    pod_phases,
    pod_template,
    rfc1123z,
    selector_string,
)
from navarch.cli.navctl.session import Session


async def describe_daemonset(session: Session, daemonset: dict[str, Any]) -> Lines:
    """No Namespace line: kubectl's DaemonSet describer has none."""
    metadata, spec = meta(daemonset), daemonset.get("spec") or {}
    status = daemonset.get("status") or {}
    template = spec.get("template") or {}
    out = [f"Name:\t{metadata.get('name')}", f"Selector:\t{selector_string(spec.get('selector'))}"]
    node_selector = (template.get("spec") or {}).get("nodeSelector")
    out.append(f"Node-Selector:\t{format_labels(node_selector)}")
    out += labels("Labels", metadata.get("labels"))
    out += annotation_lines(metadata.get("annotations"))
    for label, field in (
        ("Desired Number of Nodes Scheduled", "desiredNumberScheduled"),
        ("Current Number of Nodes Scheduled", "currentNumberScheduled"),
        ("Number of Nodes Scheduled with Up-to-date Pods", "updatedNumberScheduled"),
        ("Number of Nodes Scheduled with Available Pods", "numberAvailable"),
        ("Number of Nodes Misscheduled", "numberMisscheduled"),
    ):
        out.append(f"{label}: {status.get(field, 0)}")  # no tab: kubectl aligns none of them
    out.append(f"Pods Status:\t{await pod_phases(session, daemonset, spec.get('selector'))}")
    out += pod_template(template)
    return out + await events(session, daemonset)


async def describe_statefulset(session: Session, statefulset: dict[str, Any]) -> Lines:
    metadata, spec = meta(statefulset), statefulset.get("spec") or {}
    status = statefulset.get("status") or {}
    out = [
        f"Name:\t{metadata.get('name')}",
        f"Namespace:\t{metadata.get('namespace')}",
        f"CreationTimestamp:\t{rfc1123z(metadata.get('creationTimestamp'))}",
        f"Selector:\t{selector_string(spec.get('selector'))}",
    ]
    out += labels("Labels", metadata.get("labels"))
    out += annotation_lines(metadata.get("annotations"))
    out.append(f"Replicas:\t{spec.get('replicas', 1)} desired | {status.get('replicas', 0)} total")
    strategy = spec.get("updateStrategy") or {}
    out.append(f"Update Strategy:\t{strategy.get('type', '')}")
    rolling = strategy.get("rollingUpdate")
    if rolling is not None and rolling.get("partition") is not None:
        out.append(f"  Partition:\t{rolling['partition']}")
        if rolling.get("maxUnavailable") is not None:
            out.append(f"  MaxUnavailable:\t{rolling['maxUnavailable']}")
    out.append(f"Pods Status:\t{await pod_phases(session, statefulset, spec.get('selector'))}")
    out += pod_template(spec.get("template"))
    out += _claim_templates(spec.get("volumeClaimTemplates") or [])
    return out + await events(session, statefulset)


def _claim_templates(templates: list[dict[str, Any]]) -> Lines:
    """describeVolumeClaimTemplates."""
    if not templates:
        return [f"Volume Claims:\t{NONE}"]
    out = ["Volume Claims:"]
    for claim in templates:
        metadata, spec = meta(claim), claim.get("spec") or {}
        out.append(f"  Name:\t{metadata.get('name')}")
        out.append(f"  StorageClass:\t{spec.get('storageClassName') or ''}")
        out += labels("Labels", metadata.get("labels"), "  ")
        out += labels("Annotations", metadata.get("annotations"), "  ")
        storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        out.append(f"  Capacity:\t{storage if storage is not None else '<default>'}")
        out.append(f"  Access Modes:\t[{' '.join(spec.get('accessModes') or [])}]")
    return out
