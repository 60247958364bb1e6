"""Validation of one container (of any kind: app, init, ephemeral): name, image, pull
policy, environment, ports, resources, and the fields Navarch keeps without acting on
(probes and hooks, which init containers may carry only as sidecars, env sources,
volume mounts, security context, resize policy, resource claims).
"""

from __future__ import annotations

from navarch.api import errors, names
from navarch.api.core_v1 import Container, PodSpec, ResourceRequirements
from navarch.api.field_checks import Errors, enum
from navarch.api.pod_kept import Volume
from navarch.api.schema import join
from navarch.api.validation.env import validate_env_from, validate_env_value_from
from navarch.api.validation.ports import validate_port_name
from navarch.api.validation.probes import validate_lifecycle, validate_probe
from navarch.api.validation.security import validate_security_context
from navarch.api.validation.volumes import validate_volume_mounts

PULL_POLICIES = ("Always", "IfNotPresent", "Never")
PROTOCOLS = ("TCP", "UDP", "SCTP")
TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
RESIZE_RESOURCES = ("cpu", "memory")
RESIZE_RESTART_POLICIES = ("NotRequired", "RestartContainer")


def validate_container(container: Container, path: str) -> Errors:
    errs: Errors = []
    if not container.name:
        errs.append(errors.required(join(path, "name")))
    else:
        errs += [
            errors.invalid(join(path, "name"), container.name, p)
            for p in names.dns1123_label(container.name)
        ]
    if not container.image or not container.image.strip():
        errs.append(errors.required(join(path, "image")))
    errs += enum(container.image_pull_policy, join(path, "imagePullPolicy"), PULL_POLICIES)
    for i, env in enumerate(container.env or ()):
        env_path = f"{join(path, 'env')}[{i}]"
        if not env.name:
            errs.append(errors.required(join(env_path, "name")))
        else:
            errs += [
                errors.invalid(join(env_path, "name"), env.name, p)
                for p in names.env_var_name(env.name)
            ]
    port_names: set[str] = set()
    for i, port in enumerate(container.ports or ()):
        port_path = f"{join(path, 'ports')}[{i}]"
        if port.container_port is None:
            errs.append(errors.required(join(port_path, "containerPort")))
        elif not 1 <= port.container_port <= 65535:
            errs.append(
                errors.invalid(
                    join(port_path, "containerPort"),
                    port.container_port,
                    "must be between 1 and 65535, inclusive",
                )
            )
        if port.host_port is not None and not 0 <= port.host_port <= 65535:
            errs.append(
                errors.invalid(
                    join(port_path, "hostPort"),
                    port.host_port,
                    "must be between 0 and 65535, inclusive",
                )
            )
        errs += enum(port.protocol, join(port_path, "protocol"), PROTOCOLS)
        if port.name:
            if port.name in port_names:
                errs.append(errors.duplicate(join(port_path, "name"), port.name))
            port_names.add(port.name)
    if container.resources is not None:
        errs += validate_resources(container.resources, join(path, "resources"))
    return errs


def validate_resources(resources: ResourceRequirements, path: str) -> Errors:
    errs: Errors = []
    for section in ("limits", "requests"):
        for name, quantity in (getattr(resources, section) or {}).items():
            item = f"{join(path, section)}[{name}]"
            errs += [errors.invalid(item, name, p) for p in names.qualified_name(name)]
            if quantity.value < 0:
                errs.append(
                    errors.invalid(item, quantity.text, "must be greater than or equal to 0")
                )
    limits, requests = resources.limits or {}, resources.requests or {}
    for name, request in requests.items():
        limit = limits.get(name)
        if limit is not None and request.value > limit.value:
            errs.append(
                errors.invalid(
                    f"{join(path, 'requests')}[{name}]",
                    request.text,
                    f"must be less than or equal to {name} limit of {limit.text}",
                )
            )
    return errs


def validate_kept_container_fields(
    container: Container,
    path: str,
    volumes: dict[str, Volume],
    spec: PodSpec,
    *,
    init: bool,
) -> Errors:
    errs: Errors = []
    sidecar = init and container.restart_policy == "Always"
    if container.restart_policy is not None:
        restart_path = join(path, "restartPolicy")
        if not init:
            errs.append(errors.forbidden(restart_path, "may not be set for non-init containers"))
        else:
            errs += enum(container.restart_policy, restart_path, ("Always",))
    if init and not sidecar:
        for attr, wire in (
            ("lifecycle", "lifecycle"),
            ("liveness_probe", "livenessProbe"),
            ("readiness_probe", "readinessProbe"),
            ("startup_probe", "startupProbe"),
        ):
            if getattr(container, attr) is not None:
                errs.append(
                    errors.forbidden(
                        join(path, wire),
                        "may not be set for init containers without restartPolicy=Always",
                    )
                )
    else:
        if container.liveness_probe is not None:
            errs += validate_probe(
                container.liveness_probe, join(path, "livenessProbe"), single_success=True
            )
        if container.readiness_probe is not None:
            errs += validate_probe(
                container.readiness_probe, join(path, "readinessProbe"), readiness=True
            )
        if container.startup_probe is not None:
            errs += validate_probe(
                container.startup_probe, join(path, "startupProbe"), single_success=True
            )
        if container.lifecycle is not None:
            errs += validate_lifecycle(container.lifecycle, join(path, "lifecycle"))
    for i, env in enumerate(container.env or ()):
        if env.value_from is not None:
            errs += validate_env_value_from(env, f"{join(path, 'env')}[{i}]", spec)
    for i, source in enumerate(container.env_from or ()):
        errs += validate_env_from(source, f"{join(path, 'envFrom')}[{i}]")
    if container.volume_mounts or container.volume_devices:
        errs += validate_volume_mounts(container, path, volumes)
    policy = container.termination_message_policy
    if policy not in (None, "File"):
        policy_path = join(path, "terminationMessagePolicy")
        if policy == "":
            errs.append(errors.required(policy_path))
        errs += enum(policy, policy_path, TERMINATION_MESSAGE_POLICIES)
    seen: set[str] = set()
    for i, resize in enumerate(container.resize_policy or ()):
        item = f"{join(path, 'resizePolicy')}[{i}]"
        errs += enum(resize.resource_name, join(item, "resourceName"), RESIZE_RESOURCES)
        errs += enum(resize.restart_policy, join(item, "restartPolicy"), RESIZE_RESTART_POLICIES)
        if resize.resource_name in seen:
            errs.append(errors.duplicate(join(item, "resourceName"), resize.resource_name))
        seen.add(resize.resource_name or "")
    if container.security_context is not None:
        errs += validate_security_context(container.security_context, join(path, "securityContext"))
    for i, port in enumerate(container.ports or ()):
        if port.name:
            errs += validate_port_name(port.name, f"{join(path, 'ports')}[{i}].name")
    claims = container.resources.claims if container.resources else None
    pod_claims = {claim.name for claim in spec.resource_claims or ()} if claims else set()
    for i, claim in enumerate(claims or ()):
        claim_path = f"{join(path, 'resources.claims')}[{i}].name"
        if not claim.name:
            errs.append(errors.required(claim_path))
        elif claim.name not in pod_claims:
            errs.append(
                errors.invalid(
                    claim_path,
                    claim.name,
                    "must be one of the names in pod.spec.resourceClaims",
                )
            )
    return errs
