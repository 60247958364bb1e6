"""kubectl's PersistentVolume, PersistentVolumeClaim and StorageClass describers."""

from __future__ import annotations

from typing import Any

from navarch.cli.navctl.describers import (
    NONE,
    Lines,
    annotation_lines,
    bool_ptr,
    events,
    format_labels,
    go_list,
    labels,
    meta,
)
from navarch.cli.navctl.pod_template_text import volume_lines
from navarch.cli.navctl.printing import age
from navarch.cli.navctl.session import Session, find_resource, resource_path

# storageutil.GetAccessModesAsString's order and short names
ACCESS_MODES = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)
DEFAULT_CLASS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


def access_modes(modes: list[str] | None) -> str:
    return ",".join(short for mode, short in ACCESS_MODES if mode in (modes or []))


def _status(obj: dict[str, Any]) -> str:
    deleted = meta(obj).get("deletionTimestamp")
    if deleted:
        return f"Terminating (lasts {age(deleted)})"
    return str((obj.get("status") or {}).get("phase") or "")


async def describe_persistentvolume(session: Session, volume: dict[str, Any]) -> Lines:
    metadata, spec = meta(volume), volume.get("spec") or {}
    out = [f"Name:\t{metadata.get('name')}"]
    out += labels("Labels", metadata.get("labels"))
    out += annotation_lines(metadata.get("annotations"))
    out.append(f"Finalizers:\t{go_list(metadata.get('finalizers'))}")
    out.append(f"StorageClass:\t{spec.get('storageClassName') or ''}")
    out.append(f"Status:\t{_status(volume)}")
    claim = spec.get("claimRef") or {}
    out.append(
        f"Claim:\t{claim.get('namespace', '')}/{claim.get('name', '')}" if claim else "Claim:\t"
    )
    out.append(f"Reclaim Policy:\t{spec.get('persistentVolumeReclaimPolicy', '')}")
    out.append(f"Access Modes:\t{access_modes(spec.get('accessModes'))}")
    if spec.get("volumeMode"):
        out.append(f"VolumeMode:\t{spec['volumeMode']}")
    out.append(f"Capacity:\t{(spec.get('capacity') or {}).get('storage', '0')}")
    out += _node_affinity(spec.get("nodeAffinity"))
    out.append(f"Message:\t{(volume.get('status') or {}).get('message') or ''}")
    out.append("Source:")
    # the volume source lines of a pod's volume, without the volume's name line
    out += volume_lines([{"name": "", **_source(spec)}])[2:]
    return out + await events(session, volume)


def _source(spec: dict[str, Any]) -> dict[str, Any]:
    for key in ("hostPath", "local", "nfs", "csi"):
        if key in spec:
            return {key: spec[key]}
    return {}


def _node_affinity(affinity: dict[str, Any] | None) -> Lines:
    if affinity is None:
        return [f"Node Affinity:\t{NONE}"]
    out = ["Node Affinity:\t"]
    required = affinity.get("required")
    terms = (required or {}).get("nodeSelectorTerms") or []
    if not terms:
        return [*out, f"  Required Terms:\t{NONE}"]
    out.append("  Required Terms:\t")
    for index, term in enumerate(terms):
        expressions = [_expression(e) for e in term.get("matchExpressions") or []] or [NONE]
        out.append(f"    Term {index}:\t{expressions[0]}")
        out += [f"    \t{text}" for text in expressions[1:]]
    return out


def _expression(requirement: dict[str, Any]) -> str:
    text = f"{requirement.get('key')} {str(requirement.get('operator', '')).lower()}"
    values = requirement.get("values") or []
    return f"{text} [{', '.join(values)}]" if values else text


async def describe_persistentvolumeclaim(session: Session, claim: dict[str, Any]) -> Lines:
    metadata, spec, status = meta(claim), claim.get("spec") or {}, claim.get("status") or {}
    out = [
        f"Name:\t{metadata.get('name')}",
        f"Namespace:\t{metadata.get('namespace')}",
        f"StorageClass:\t{spec.get('storageClassName') or ''}",
        f"Status:\t{_status(claim)}",
        f"Volume:\t{spec.get('volumeName') or ''}",
    ]
    out += labels("Labels", metadata.get("labels"))
    out += annotation_lines(metadata.get("annotations"))
    out.append(f"Finalizers:\t{go_list(metadata.get('finalizers'))}")
    capacity = modes = ""
    if spec.get("volumeName"):  # what the bound volume gives, not what was asked
        capacity = str((status.get("capacity") or {}).get("storage") or "")
        modes = access_modes(status.get("accessModes"))
    out += [f"Capacity:\t{capacity}", f"Access Modes:\t{modes}"]
    if spec.get("volumeMode"):
        out.append(f"VolumeMode:\t{spec['volumeMode']}")
    users = await _pods_using(session, claim)
    out.append(f"Used By:\t{users[0] if users else NONE}")
    out += [f"\t{name}" for name in users[1:]]
    conditions = status.get("conditions") or []
    if conditions:
        out += ["Conditions:", "  Type\tStatus\tLastProbeTime\tLastTransitionTime\tReason\tMessage"]
        out.append("  ----\t------\t-----------------\t------------------\t------\t-------")
        for c in conditions:
            out.append(
                f"  {c.get('type')}\t{c.get('status')}\t{c.get('lastProbeTime') or ''}\t"
                f"{c.get('lastTransitionTime') or ''}\t{c.get('reason') or ''}\t"
                f"{c.get('message') or ''}"
            )
    return out + await events(session, claim)


async def _pods_using(session: Session, claim: dict[str, Any]) -> list[str]:
    """The pods of the claim's namespace with a volume naming it (kubectl's Used By)."""
    metadata = meta(claim)
    listed = await session.request(
        "GET", resource_path(find_resource("pods"), metadata.get("namespace"))
    )
    return sorted(
        str(meta(pod).get("name"))
        for pod in listed.get("items") or []
        if any(
            (volume.get("persistentVolumeClaim") or {}).get("claimName") == metadata.get("name")
            for volume in (pod.get("spec") or {}).get("volumes") or []
        )
    )


async def describe_storageclass(session: Session, storage_class: dict[str, Any]) -> Lines:
    metadata = meta(storage_class)
    notes = metadata.get("annotations") or {}
    default = any(notes.get(key) == "true" for key in DEFAULT_CLASS)
    out = [
        f"Name:\t{metadata.get('name')}",
        f"IsDefaultClass:\t{'Yes' if default else 'No'}",
        *f"Annotations:\t{format_labels(notes)}".split("\n"),
        f"Provisioner:\t{storage_class.get('provisioner', '')}",
        f"Parameters:\t{format_labels(storage_class.get('parameters'))}",
        f"AllowVolumeExpansion:\t{bool_ptr(storage_class.get('allowVolumeExpansion'))}",
    ]
    options = storage_class.get("mountOptions") or []
    out += (
        ["MountOptions:", *(f"  {o}" for o in options)] if options else [f"MountOptions:\t{NONE}"]
    )
    if storage_class.get("reclaimPolicy"):
        out.append(f"ReclaimPolicy:\t{storage_class['reclaimPolicy']}")
    if storage_class.get("volumeBindingMode"):
        out.append(f"VolumeBindingMode:\t{storage_class['volumeBindingMode']}")
    return out + await events(session, storage_class)
