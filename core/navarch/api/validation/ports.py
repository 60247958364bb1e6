"""Validation of ports: port names (IANA service names), a port given by number or name
(probes and hooks), and host ports (one user each, equal to the container port on the
host's network).
"""

from __future__ import annotations

import re

from navarch.api import errors
from navarch.api.core_v1 import PodSpec
from navarch.api.field_checks import Errors, in_range
from navarch.api.schema import IntOrString, join

_PORT_NAME_CHARS = re.compile(r"[-a-z0-9]+")


def validate_port_name(name: str, path: str) -> Errors:
    """IANA_SVC_NAME, as Kubernetes checks a port name."""
    problems = []
    if len(name) > 15:
        problems.append("must be no more than 15 characters")
    if not _PORT_NAME_CHARS.fullmatch(name):
        problems.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if "--" in name:
        problems.append("must not contain consecutive hyphens")
    if not re.search("[a-z]", name):
        problems.append("must contain at least one letter (a-z)")
    if name.startswith("-") or name.endswith("-"):
        problems.append("must not begin or end with a hyphen")
    return [errors.invalid(path, name, problem) for problem in problems]


def validate_port_num_or_name(port: IntOrString | None, path: str) -> Errors:
    if port is None or port == "":
        return [errors.required(path)]
    if isinstance(port, int):
        return in_range(port, path, 1, 65535)
    if port.isdigit():
        return [errors.invalid(path, port, "must contain at least one letter (a-z)")]
    return validate_port_name(port, path)


def validate_host_ports(spec: PodSpec, path: str) -> Errors:
    """Host ports: equal to the container port on the host's network; one user each."""
    errs: Errors = []
    groups = (("containers", spec.containers), ("initContainers", spec.init_containers))
    for key, containers in groups:
        seen: set[tuple[str, int, str]] = set()  # per list, as Kubernetes checks them
        for i, container in enumerate(containers or ()):
            for j, port in enumerate(container.ports or ()):
                port_path = f"{join(path, key)}[{i}].ports[{j}]"
                if not port.host_port:
                    continue
                if spec.host_network and port.host_port != port.container_port:
                    errs.append(
                        errors.invalid(
                            join(port_path, "hostPort"),
                            port.host_port,
                            "must match `containerPort` when `hostNetwork` is true",
                        )
                    )
                entry = (port.host_ip or "", port.host_port, port.protocol or "TCP")
                if entry in seen:
                    errs.append(
                        errors.duplicate(
                            join(port_path, "hostPort"), f"{port.host_port}/{entry[2]}"
                        )
                    )
                seen.add(entry)
    return errs
