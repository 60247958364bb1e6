"""A pod template in words, as kubectl's DescribePodTemplate writes it for ``rollout
history --revision=N``: tab-separated lines (kubectl prints them without aligning),
labels, annotations when there are any, each container's image, ports, command,
environment and mounts, the volumes with their sources, node selectors and
tolerations."""

from __future__ import annotations

import math
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
                # kubectl writes each line of a word on a line of its own
                lines += [f"      {line}" for word in container[field] for line in word.split("\n")]
        lines += _resource_lines(container.get("resources") or {})
        if container.get("envFrom"):
            lines.append("    Environment Variables from:")
            lines += [f"      {_env_from_text(source)}" for source in container["envFrom"]]
        env = container.get("env") or []
        if env:
            lines.append("    Environment:")
            for var in env:
                lines += _env_lines(var, container)
        else:
            lines.append("    Environment:\t<none>")
        mounts = [
            f"      {m.get('mountPath')} from {m.get('name')} "
            f"({'ro' if m.get('readOnly') else 'rw'})"
            for m in container.get("volumeMounts") or []
        ]
        lines += ["    Mounts:", *mounts] if mounts else ["    Mounts:\t<none>"]
    return lines


def _resource_lines(resources: dict[str, Any]) -> list[str]:
    """kubectl's describeContainerResources: limits, then requests, by name."""
    lines = []
    for field, label in (("limits", "Limits"), ("requests", "Requests")):
        if resources.get(field):
            lines.append(f"    {label}:")
            lines += [f"      {name}:\t{value}" for name, value in sorted(resources[field].items())]
    return lines


def _env_from_text(source: dict[str, Any]) -> str:
    """kubectl's describeContainerEnvFrom: ``NAME\tKind[ with prefix 'P']\tOptional: b``."""
    kind, ref = (
        ("ConfigMap", source["configMapRef"])
        if source.get("configMapRef")
        else (
            "Secret",
            source.get("secretRef") or {},
        )
    )
    prefix = f" with prefix '{source['prefix']}'" if source.get("prefix") else ""
    return f"{ref.get('name')}\t{kind}{prefix}\tOptional: {str(bool(ref.get('optional'))).lower()}"


def _env_lines(var: dict[str, Any], container: dict[str, Any]) -> list[str]:
    """kubectl's describeContainerEnvVars without a resolver (a template has no pod): a
    value line by line, a reference as what it refers to."""
    name, source = var.get("name"), var.get("valueFrom")
    if source is None:
        first, *rest = str(var.get("value", "")).split("\n")
        return [f"      {name}:\t{first}", *(f"      \t{line}" for line in rest)]
    if (ref := source.get("fieldRef")) is not None:
        return [f"      {name}:\t ({ref.get('apiVersion', 'v1')}:{ref.get('fieldPath')})"]
    if (ref := source.get("resourceFieldRef")) is not None:
        return [f"      {name}:\t{_resource_value(ref, container)} ({ref.get('resource')})"]
    for key, words in (
        ("secretKeyRef", "in secret"),
        ("configMapKeyRef", "of config map"),
    ):
        if (ref := source.get(key)) is not None:
            optional = str(bool(ref.get("optional"))).lower()
            return [
                f"      {name}:\t<set to the key '{ref.get('key')}' {words} "
                f"'{ref.get('name')}'>\tOptional: {optional}"
            ]
    return [f"      {name}:\t"]


def _resource_value(ref: dict[str, Any], container: dict[str, Any]) -> str:
    """The container's own limit or request a resourceFieldRef names, in its divisor's
    units (kubectl's ExtractContainerResourceValue); "node allocatable" for an unset
    limit, as kubectl prints it."""
    from navarch.api.quantity import Quantity  # only describe of a template needs it

    field, _, resource = str(ref.get("resource", "")).partition(".")
    value = ((container.get("resources") or {}).get(field) or {}).get(resource)
    if value is None:
        return "node allocatable" if field == "limits" else "0"
    divisor = Quantity.parse(str(ref.get("divisor") or "1"))
    return str(math.ceil(Quantity.parse(str(value)).value / divisor.value))


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
            f"HostPathType:\t{source.get('type') or ''}",
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
