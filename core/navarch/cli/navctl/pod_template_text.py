"""A pod template in words, as kubectl's DescribePodTemplate writes it for ``rollout
history --revision=N``: tab-separated lines (kubectl prints them without aligning),
labels, annotations when there are any, each container's image, ports, command,
environment and mounts, the volumes with their sources, node selectors and
tolerations."""

from __future__ import annotations

from typing import Any

from navarch.cli.navctl.describe_sections import toleration_text


def describe_template(template: dict[str, Any]) -> str:
    """kubectl's DescribePodTemplate, as ``rollout history --revision=N`` prints it
    (tab-separated, not aligned): labels, annotations when there are any, each
    container's image, ports, command, environment and mounts, then volumes, node
    selectors and tolerations."""
    meta, spec = template.get("metadata") or {}, template.get("spec") or {}
    lines = ["Pod Template:"]
    lines += _pairs("  Labels:", meta.get("labels"))
    if meta.get("annotations"):
        lines += _pairs("  Annotations:", meta.get("annotations"), ": ")
    if spec.get("serviceAccountName"):
        lines.append(f"  Service Account:\t{spec['serviceAccountName']}")
    if spec.get("initContainers"):
        lines += _containers("Init Containers", spec["initContainers"])
    lines += _containers("Containers", spec.get("containers") or [])
    lines += volume_lines(spec.get("volumes") or [])
    if spec.get("priorityClassName"):
        lines.append(f"  Priority Class Name:\t{spec['priorityClassName']}")
    lines += _pairs("  Node-Selectors:", spec.get("nodeSelector"))
    tolerations = [toleration_text(t) for t in spec.get("tolerations") or []]
    lines.append(f"  Tolerations:\t{tolerations[0] if tolerations else '<none>'}")
    lines += [f"  \t{t}" for t in tolerations[1:]]
    return "\n".join(lines) + "\n\n"


def _containers(title: str, containers: list[dict[str, Any]]) -> list[str]:
    lines = [f"  {title}:"]
    for container in containers:
        ports = container.get("ports") or []
        container_ports = [f"{p.get('containerPort')}/{p.get('protocol') or 'TCP'}" for p in ports]
        host_ports = [f"{p.get('hostPort') or 0}/{p.get('protocol') or 'TCP'}" for p in ports]
        lines.append(f"   {container.get('name')}:")
        lines.append(f"    Image:\t{container.get('image', '<none>')}")
        plural = "s" if len(ports) > 1 else ""  # kubectl's describeContainerPorts
        lines.append(f"    Port{plural}:\t{', '.join(container_ports) or '<none>'}")
        lines.append(f"    Host Port{plural}:\t{', '.join(host_ports) or '<none>'}")
        for field, label in (("command", "Command"), ("args", "Args")):
            if container.get(field):
                lines.append(f"    {label}:")
                lines += [f"      {word}" for word in container[field]]
        env = container.get("env") or []
        if env:
            lines.append("    Environment:")
            lines += [f"      {e.get('name')}:\t{e.get('value', '')}" for e in env]
        else:
            lines.append("    Environment:\t<none>")
        mounts = [
            f"      {m.get('mountPath')} from {m.get('name')} "
            f"({'ro' if m.get('readOnly') else 'rw'})"
            for m in container.get("volumeMounts") or []
        ]
        lines += ["    Mounts:", *mounts] if mounts else ["    Mounts:\t<none>"]
    return lines


def _pairs(title: str, values: dict[str, str] | None, separator: str = "=") -> list[str]:
    """printLabelsMultilineWithIndent: ``Title:\tk=v``, each further pair under the
    first (the title's indent, then a tab)."""
    if not values:
        return [f"{title}\t<none>"]
    indent = title[: len(title) - len(title.lstrip())]
    items = [f"{key}{separator}{value}" for key, value in sorted(values.items())]
    return [f"{title}\t{items[0]}", *(f"{indent}\t{item}" for item in items[1:])]


def volume_lines(volumes: list[dict[str, Any]]) -> list[str]:
    """kubectl's describeVolumes under a template: each volume's name and source, for
    the sources kubectl explains (others as ``<unknown>``, as it prints them)."""
    if not volumes:
        return ["  Volumes:\t<none>"]
    lines = ["  Volumes:"]
    for volume in volumes:
        lines.append(f"   {volume.get('name')}:")
        lines += [f"    {line}" for line in _source_lines(volume)]
    return lines


def _source_lines(volume: dict[str, Any]) -> list[str]:
    if (source := volume.get("hostPath")) is not None:
        return [
            "Type:\tHostPath (bare host directory volume)",
            f"Path:\t{source.get('path')}",
            f"HostPathType:\t{source.get('type') or '<none>'}",
        ]
    if (source := volume.get("local")) is not None:  # a PersistentVolume's
        return [
            "Type:\tLocalVolume (a persistent volume backed by local storage on a node)",
            f"Path:\t{source.get('path')}",
        ]
    if (source := volume.get("emptyDir")) is not None:
        return [
            "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)",
            f"Medium:\t{source.get('medium') or ''}",
            f"SizeLimit:\t{source.get('sizeLimit') or '<unset>'}",
        ]
    if (source := volume.get("configMap")) is not None:
        return [
            "Type:\tConfigMap (a volume populated by a ConfigMap)",
            f"Name:\t{source.get('name')}",
            f"Optional:\t{str(bool(source.get('optional'))).lower()}",
        ]
    if (source := volume.get("secret")) is not None:
        return [
            "Type:\tSecret (a volume populated by a Secret)",
            f"SecretName:\t{source.get('secretName')}",
            f"Optional:\t{str(bool(source.get('optional'))).lower()}",
        ]
    if (source := volume.get("persistentVolumeClaim")) is not None:
        return [
            "Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the "
            "same namespace)",
            f"ClaimName:\t{source.get('claimName')}",
            f"ReadOnly:\t{str(bool(source.get('readOnly'))).lower()}",
        ]
    return ["<unknown>"]
