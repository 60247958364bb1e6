"""Validation of the PodSpec fields Navarch keeps without acting on, as Kubernetes
validates them (pkg/apis/core/validation): volumes and their sources, mounts and
devices referring to declared volumes, probes and lifecycle hooks with exactly one
handler, environment sources, security contexts, init and ephemeral containers, pod
(anti-)affinity, topology spread, DNS, host aliases, scheduling gates, ...

Messages follow Kubernetes' wording so that users recognise them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from navarch.api import errors, names
from navarch.api.core_v1 import Container, EnvVar, PodSpec
from navarch.api.errors import FieldError
from navarch.api.field_checks import (
    INT32_MAX,
    enum,
    in_range,
    named,
    non_negative,
    positive,
    required_name,
    validate_label_selector,
)
from navarch.api.pod_kept import (
    DownwardAPIVolumeFile,
    EnvFromSource,
    HTTPGetAction,
    KeySelector,
    KeyToPath,
    Lifecycle,
    LifecycleHandler,
    ObjectFieldSelector,
    PodAffinity,
    PodAffinityTerm,
    PodSecurityContext,
    Probe,
    ProfileRef,
    ResourceFieldSelector,
    SecurityContext,
    Volume,
)
from navarch.api.schema import IntOrString, join

Errors = list[FieldError]

HOST_PATH_TYPES = (
    "",
    "DirectoryOrCreate",
    "Directory",
    "FileOrCreate",
    "File",
    "Socket",
    "CharDevice",
    "BlockDevice",
)
MOUNT_PROPAGATIONS = ("None", "HostToContainer", "Bidirectional")
RECURSIVE_READ_ONLY = ("Disabled", "IfPossible", "Enabled")
TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
URI_SCHEMES = ("HTTP", "HTTPS")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PREEMPTION_POLICIES = ("PreemptLowerPriority", "Never")
UNSATISFIABLE_ACTIONS = ("DoNotSchedule", "ScheduleAnyway")
INCLUSION_POLICIES = ("Ignore", "Honor")
PROC_MOUNTS = ("Default", "Unmasked")
PROFILE_TYPES = ("RuntimeDefault", "Unconfined", "Localhost")
FS_GROUP_CHANGE_POLICIES = ("OnRootMismatch", "Always")
SUPPLEMENTAL_GROUPS_POLICIES = ("Merge", "Strict")
SE_LINUX_CHANGE_POLICIES = ("MountOption", "Recursive")
OS_NAMES = ("linux", "windows")
RESIZE_RESOURCES = ("cpu", "memory")
RESIZE_RESTART_POLICIES = ("NotRequired", "RestartContainer")
IMAGE_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
ENV_FIELD_PATHS = (
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
)
VOLUME_FIELD_PATHS = (
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
)
RESOURCE_FIELDS = (
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
)
MAX_FILE_MODE = 0o777
MAX_NAMESERVERS = 3
MAX_SEARCH_PATHS = 32
MIN_TOKEN_SECONDS = 600
MAX_TOKEN_SECONDS = 2**32

_SUBSCRIPTED_FIELD = re.compile(r"metadata\.(labels|annotations)\['([^']+)'\]")
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_HTTP_HEADER = re.compile(r"[-A-Za-z0-9]+")
_PORT_NAME_CHARS = re.compile(r"[-a-z0-9]+")
_SYSCTL = re.compile(r"([a-z0-9]([-_a-z0-9]*[a-z0-9])?[./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?")


# --- the pod ---------------------------------------------------------------------------


def validate_kept_pod_fields(spec: PodSpec, path: str, *, template: bool) -> Errors:
    """Errors in the fields of ``spec`` Navarch keeps but does not act on (the modelled
    ones are checked by ``validation.validate_pod_spec``)."""
    errs, volumes = validate_volumes(spec.volumes, join(path, "volumes"))
    containers_path = join(path, "containers")
    for i, container in enumerate(spec.containers or ()):
        errs += validate_kept_container_fields(
            container, f"{containers_path}[{i}]", volumes, spec, init=False
        )
    init_path = join(path, "initContainers")
    for i, container in enumerate(spec.init_containers or ()):
        errs += validate_kept_container_fields(
            container, f"{init_path}[{i}]", volumes, spec, init=True
        )
    if spec.ephemeral_containers:
        detail = (
            "ephemeral containers not allowed in pod template"
            if template
            else "cannot be set on create"
        )
        errs.append(errors.forbidden(join(path, "ephemeralContainers"), detail))
    errs += _host_ports(spec, path)
    for attr, wire, check in _POD_SCALARS:
        value = getattr(spec, attr)
        if value is not None:
            errs += check(value, join(path, wire))
    if spec.dns_policy == "None" or spec.dns_config is not None:
        errs += _dns(spec, path)
    if spec.share_process_namespace and spec.host_pid:
        errs.append(
            errors.invalid(
                join(path, "shareProcessNamespace"),
                True,
                "ShareProcessNamespace and HostPID cannot both be enabled",
            )
        )
    for i, alias in enumerate(spec.host_aliases or ()):
        alias_path = f"{join(path, 'hostAliases')}[{i}]"
        errs += _ip(alias.ip, join(alias_path, "ip"), required=True)
        for j, hostname in enumerate(alias.hostnames or ()):
            errs += named(
                hostname, f"{join(alias_path, 'hostnames')}[{j}]", names.dns1123_subdomain
            )
    for i, gate in enumerate(spec.readiness_gates or ()):
        errs += required_name(
            gate.condition_type,
            f"{join(path, 'readinessGates')}[{i}].conditionType",
            names.qualified_name,
        )
    for name, quantity in (spec.overhead or {}).items():
        item = f"{join(path, 'overhead')}[{name}]"
        errs += [errors.invalid(item, name, p) for p in names.qualified_name(name)]
        if quantity.value < 0:
            errs.append(errors.invalid(item, quantity.text, "must be greater than or equal to 0"))
    affinity = spec.affinity
    if affinity is not None:
        errs += _pod_affinity(affinity.pod_affinity, join(path, "affinity.podAffinity"))
        errs += _pod_affinity(affinity.pod_anti_affinity, join(path, "affinity.podAntiAffinity"))
    if spec.security_context is not None and spec.security_context != _EMPTY_POD_CONTEXT:
        errs += _pod_security_context(spec.security_context, join(path, "securityContext"))
    if spec.topology_spread_constraints:
        errs += _topology_spread(spec, path)
    if spec.os is not None:
        os_path = join(path, "os.name")
        errs += (
            [errors.required(os_path)]
            if not spec.os.name
            else enum(spec.os.name, os_path, OS_NAMES)
        )
    if spec.scheduling_gates:
        errs += _unique_names(
            [gate.name for gate in spec.scheduling_gates],
            join(path, "schedulingGates"),
            names.qualified_name,
        )
    if spec.resource_claims:
        errs += _resource_claims(spec, path)
    return errs


_EMPTY_POD_CONTEXT = PodSecurityContext()

# Pod-level scalars: (attribute, wire name, check of a present value). A table, so a
# field left absent (the usual case) costs one getattr on the API server's hot path.
_POD_SCALARS: tuple[tuple[str, str, Callable[[Any, str], Errors]], ...] = (
    ("dns_policy", "dnsPolicy", lambda v, p: enum(v, p, DNS_POLICIES)),
    ("active_deadline_seconds", "activeDeadlineSeconds", lambda v, p: in_range(v, p, 1, INT32_MAX)),
    (
        "service_account_name",
        "serviceAccountName",
        lambda v, p: named(v, p, names.dns1123_subdomain),
    ),
    ("service_account", "serviceAccount", lambda v, p: named(v, p, names.dns1123_subdomain)),
    ("priority_class_name", "priorityClassName", lambda v, p: named(v, p, names.dns1123_subdomain)),
    ("runtime_class_name", "runtimeClassName", lambda v, p: named(v, p, names.dns1123_subdomain)),
    ("hostname", "hostname", lambda v, p: named(v, p, names.dns1123_label)),
    ("subdomain", "subdomain", lambda v, p: named(v, p, names.dns1123_label)),
    ("preemption_policy", "preemptionPolicy", lambda v, p: enum(v, p, PREEMPTION_POLICIES)),
)


def _dns(spec: PodSpec, path: str) -> Errors:
    errs: Errors = []
    config = spec.dns_config
    config_path = join(path, "dnsConfig")
    if spec.dns_policy == "None":
        if config is None:
            return [
                errors.required(config_path, "must provide `dnsConfig` when `dnsPolicy` is None")
            ]
        if not config.nameservers:
            errs.append(
                errors.required(
                    join(config_path, "nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                )
            )
    if config is None:
        return errs
    servers_path = join(config_path, "nameservers")
    if len(config.nameservers or ()) > MAX_NAMESERVERS:
        errs.append(
            errors.invalid(
                servers_path,
                list(config.nameservers or ()),
                f"must not have more than {MAX_NAMESERVERS} nameservers",
            )
        )
    for i, server in enumerate(config.nameservers or ()):
        errs += _ip(server, f"{servers_path}[{i}]", required=True)
    searches_path = join(config_path, "searches")
    if len(config.searches or ()) > MAX_SEARCH_PATHS:
        errs.append(
            errors.invalid(
                searches_path,
                list(config.searches or ()),
                f"must not have more than {MAX_SEARCH_PATHS} search paths",
            )
        )
    for i, search in enumerate(config.searches or ()):
        # A trailing dot (a fully qualified name) is allowed.
        errs += named(search.removesuffix("."), f"{searches_path}[{i}]", names.dns1123_subdomain)
    for i, option in enumerate(config.options or ()):
        if not option.name:
            errs.append(errors.required(f"{join(config_path, 'options')}[{i}].name"))
    return errs


def _ip(value: str | None, path: str, *, required: bool) -> Errors:
    if not value:
        return [errors.required(path)] if required else []
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return [
            errors.invalid(
                path, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
            )
        ]
    return []


def _host_ports(spec: PodSpec, path: str) -> Errors:
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


def _topology_spread(spec: PodSpec, path: str) -> Errors:
    errs: Errors = []
    seen: set[tuple[str, str]] = set()
    for i, constraint in enumerate(spec.topology_spread_constraints or ()):
        item = f"{join(path, 'topologySpreadConstraints')}[{i}]"
        if constraint.max_skew is None or constraint.max_skew <= 0:
            errs.append(
                errors.invalid(
                    join(item, "maxSkew"), constraint.max_skew, "must be greater than zero"
                )
            )
        key_path = join(item, "topologyKey")
        if not constraint.topology_key:
            errs.append(errors.required(key_path, "can not be empty"))
        else:
            errs += named(constraint.topology_key, key_path, names.qualified_name)
        action_path = join(item, "whenUnsatisfiable")
        if not constraint.when_unsatisfiable:
            errs.append(errors.required(action_path))
        else:
            errs += enum(constraint.when_unsatisfiable, action_path, UNSATISFIABLE_ACTIONS)
        if constraint.min_domains is not None:
            errs += positive(constraint.min_domains, join(item, "minDomains"))
            if constraint.when_unsatisfiable != "DoNotSchedule":
                errs.append(
                    errors.invalid(
                        join(item, "minDomains"),
                        constraint.min_domains,
                        "can only use minDomains if whenUnsatisfiable=DoNotSchedule, "
                        f"not {constraint.when_unsatisfiable}",
                    )
                )
        pair = (constraint.topology_key or "", constraint.when_unsatisfiable or "")
        if pair in seen:
            errs.append(errors.duplicate(item, f"{{{pair[0]}, {pair[1]}}}"))
        seen.add(pair)
        errs += enum(
            constraint.node_affinity_policy, join(item, "nodeAffinityPolicy"), INCLUSION_POLICIES
        )
        errs += enum(
            constraint.node_taints_policy, join(item, "nodeTaintsPolicy"), INCLUSION_POLICIES
        )
        if constraint.label_selector is not None:
            errs += validate_label_selector(constraint.label_selector, join(item, "labelSelector"))[
                0
            ]
        elif constraint.match_label_keys:
            errs.append(
                errors.forbidden(
                    join(item, "matchLabelKeys"),
                    "must not be specified when labelSelector is not set",
                )
            )
        for j, key in enumerate(constraint.match_label_keys or ()):
            errs += named(key, f"{join(item, 'matchLabelKeys')}[{j}]", names.qualified_name)
    return errs


def _pod_affinity(affinity: PodAffinity | None, path: str) -> Errors:
    if affinity is None:
        return []
    errs: Errors = []
    required_path = join(path, "requiredDuringSchedulingIgnoredDuringExecution")
    for i, term in enumerate(affinity.required_during_scheduling_ignored_during_execution or ()):
        errs += _pod_affinity_term(term, f"{required_path}[{i}]")
    preferred_path = join(path, "preferredDuringSchedulingIgnoredDuringExecution")
    for i, weighted in enumerate(
        affinity.preferred_during_scheduling_ignored_during_execution or ()
    ):
        item = f"{preferred_path}[{i}]"
        if weighted.weight is None or not 1 <= weighted.weight <= 100:
            errs.append(
                errors.invalid(join(item, "weight"), weighted.weight, "must be in the range 1-100")
            )
        term_path = join(item, "podAffinityTerm")
        if weighted.pod_affinity_term is None:
            errs.append(errors.required(term_path))
        else:
            errs += _pod_affinity_term(weighted.pod_affinity_term, term_path)
    return errs


def _pod_affinity_term(term: PodAffinityTerm, path: str) -> Errors:
    errs: Errors = []
    key_path = join(path, "topologyKey")
    if not term.topology_key:
        errs.append(errors.required(key_path, "can not be empty"))
    else:
        errs += named(term.topology_key, key_path, names.qualified_name)
    if term.label_selector is not None:
        errs += validate_label_selector(term.label_selector, join(path, "labelSelector"))[0]
    if term.namespace_selector is not None:
        errs += validate_label_selector(term.namespace_selector, join(path, "namespaceSelector"))[0]
    for i, namespace in enumerate(term.namespaces or ()):
        errs += named(namespace, f"{join(path, 'namespaces')}[{i}]", names.dns1123_label)
    for field, wire in (
        (term.match_label_keys, "matchLabelKeys"),
        (term.mismatch_label_keys, "mismatchLabelKeys"),
    ):
        for i, key in enumerate(field or ()):
            errs += named(key, f"{join(path, wire)}[{i}]", names.qualified_name)
    return errs


def _resource_claims(spec: PodSpec, path: str) -> Errors:
    errs: Errors = []
    seen: set[str] = set()
    for i, claim in enumerate(spec.resource_claims or ()):
        item = f"{join(path, 'resourceClaims')}[{i}]"
        errs += required_name(claim.name, join(item, "name"), names.dns1123_label)
        if claim.name in seen:
            errs.append(errors.duplicate(join(item, "name"), claim.name))
        seen.add(claim.name or "")
        given = [n for n in (claim.resource_claim_name, claim.resource_claim_template_name) if n]
        if len(given) != 1:
            errs.append(
                errors.invalid(
                    item,
                    claim.name,
                    "must specify exactly one of: `resourceClaimName`, `resourceClaimTemplateName`",
                )
            )
    return errs


def _pod_security_context(context: PodSecurityContext, path: str) -> Errors:
    errs: Errors = []
    for attr, wire in (
        ("run_as_user", "runAsUser"),
        ("run_as_group", "runAsGroup"),
        ("fs_group", "fsGroup"),
    ):
        errs += in_range(getattr(context, attr), join(path, wire), 0, INT32_MAX)
    for i, group in enumerate(context.supplemental_groups or ()):
        errs += in_range(group, f"{join(path, 'supplementalGroups')}[{i}]", 0, INT32_MAX)
    errs += enum(
        context.fs_group_change_policy, join(path, "fsGroupChangePolicy"), FS_GROUP_CHANGE_POLICIES
    )
    errs += enum(
        context.supplemental_groups_policy,
        join(path, "supplementalGroupsPolicy"),
        SUPPLEMENTAL_GROUPS_POLICIES,
    )
    errs += enum(
        context.se_linux_change_policy, join(path, "seLinuxChangePolicy"), SE_LINUX_CHANGE_POLICIES
    )
    seen: set[str] = set()
    for i, sysctl in enumerate(context.sysctls or ()):
        name_path = f"{join(path, 'sysctls')}[{i}].name"
        if not sysctl.name:
            errs.append(errors.required(name_path))
            continue
        if len(sysctl.name) > 253 or not _SYSCTL.fullmatch(sysctl.name):
            errs.append(
                errors.invalid(
                    name_path,
                    sysctl.name,
                    "sysctl name must have at most 253 characters and be dot- or "
                    "slash-separated lower case alphanumeric words (e.g. 'kernel.shm_rmid_forced')",
                )
            )
        if sysctl.name in seen:
            errs.append(errors.duplicate(name_path, sysctl.name))
        seen.add(sysctl.name)
    errs += _profile(context.seccomp_profile, join(path, "seccompProfile"))
    errs += _profile(context.app_armor_profile, join(path, "appArmorProfile"))
    return errs


def _profile(profile: ProfileRef | None, path: str) -> Errors:
    if profile is None:
        return []
    type_path = join(path, "type")
    if not profile.type:
        return [errors.required(type_path)]
    errs = enum(profile.type, type_path, PROFILE_TYPES)
    local_path = join(path, "localhostProfile")
    if profile.type == "Localhost" and not profile.localhost_profile:
        errs.append(errors.required(local_path, 'must be set when type is "Localhost"'))
    elif profile.type != "Localhost" and profile.localhost_profile:
        errs.append(
            errors.invalid(
                local_path, profile.localhost_profile, 'can only be set when type is "Localhost"'
            )
        )
    return errs


# --- volumes ---------------------------------------------------------------------------


def validate_volumes(
    volumes: Sequence[Volume] | None, path: str
) -> tuple[Errors, dict[str, Volume]]:
    """Errors of ``spec.volumes`` and the declared volumes by name (for mounts)."""
    errs: Errors = []
    declared: dict[str, Volume] = {}
    for i, volume in enumerate(volumes or ()):
        item = f"{path}[{i}]"
        name_errs = required_name(volume.name, join(item, "name"), names.dns1123_label)
        errs += name_errs
        if volume.name and volume.name in declared:
            errs.append(errors.duplicate(join(item, "name"), volume.name))
        elif volume.name and not name_errs:
            declared[volume.name] = volume
        errs += _volume_source(volume, item)
    return errs, declared


def _volume_source(volume: Volume, path: str) -> Errors:
    sources = volume.source_names()
    if not sources:
        return [errors.required(path, "must specify a volume type")]
    errs = [
        errors.forbidden(join(path, extra), "may not specify more than 1 volume type")
        for extra in sources[1:]
    ]
    if volume.host_path is not None:
        source_path = join(path, "hostPath")
        errs += _absolute_or_required(
            volume.host_path.path, join(source_path, "path"), absolute=False
        )
        errs += enum(volume.host_path.type, join(source_path, "type"), HOST_PATH_TYPES)
    size_limit = volume.empty_dir.size_limit if volume.empty_dir else None
    if size_limit is not None and size_limit.value < 0:
        errs.append(
            errors.forbidden(
                join(path, "emptyDir.sizeLimit"),
                "SizeLimit field must be a valid resource quantity",
            )
        )
    if volume.secret is not None:
        source_path = join(path, "secret")
        errs += required_name(
            volume.secret.secret_name, join(source_path, "secretName"), names.dns1123_subdomain
        )
        errs += _file_mode(volume.secret.default_mode, join(source_path, "defaultMode"))
        errs += _key_to_paths(volume.secret.items, join(source_path, "items"))
    if volume.config_map is not None:
        source_path = join(path, "configMap")
        errs += required_name(
            volume.config_map.name, join(source_path, "name"), names.dns1123_subdomain
        )
        errs += _file_mode(volume.config_map.default_mode, join(source_path, "defaultMode"))
        errs += _key_to_paths(volume.config_map.items, join(source_path, "items"))
    if volume.persistent_volume_claim is not None:
        claim = volume.persistent_volume_claim.claim_name
        if not claim:
            errs.append(errors.required(join(path, "persistentVolumeClaim.claimName")))
    if volume.downward_api is not None:
        source_path = join(path, "downwardAPI")
        errs += _file_mode(volume.downward_api.default_mode, join(source_path, "defaultMode"))
        errs += _downward_files(volume.downward_api.items, join(source_path, "items"))
    if volume.projected is not None:
        errs += _projected(volume, join(path, "projected"))
    if volume.nfs is not None:
        source_path = join(path, "nfs")
        if not volume.nfs.server:
            errs.append(errors.required(join(source_path, "server")))
        errs += _absolute_or_required(volume.nfs.path, join(source_path, "path"), absolute=True)
    if volume.csi is not None and not volume.csi.driver:
        errs.append(errors.required(join(path, "csi.driver")))
    if volume.image is not None:
        errs += enum(volume.image.pull_policy, join(path, "image.pullPolicy"), IMAGE_PULL_POLICIES)
    return errs


def _projected(volume: Volume, path: str) -> Errors:
    projected = volume.projected
    assert projected is not None
    errs = _file_mode(projected.default_mode, join(path, "defaultMode"))
    paths: set[str] = set()
    for i, source in enumerate(projected.sources or ()):
        item = f"{join(path, 'sources')}[{i}]"
        kinds = [
            wire
            for wire, value in (
                ("secret", source.secret),
                ("downwardAPI", source.downward_api),
                ("configMap", source.config_map),
                ("serviceAccountToken", source.service_account_token),
                ("clusterTrustBundle", source.cluster_trust_bundle),
                ("podCertificate", source.unmodeled.get("podCertificate")),
            )
            if value is not None
        ]
        if not kinds:
            errs.append(errors.required(item, "must specify exactly one projection type"))
        if len(kinds) > 1:
            errs.append(
                errors.forbidden(item, "may not specify more than 1 volume type per source")
            )
        file_paths: list[str] = []
        for wire, ref in (("secret", source.secret), ("configMap", source.config_map)):
            if ref is not None:
                errs += required_name(ref.name, join(item, f"{wire}.name"), names.dns1123_subdomain)
                errs += _key_to_paths(ref.items, join(item, f"{wire}.items"))
                file_paths += [k.path for k in ref.items or () if k.path]
        if source.downward_api is not None:
            errs += _downward_files(source.downward_api.items, join(item, "downwardAPI.items"))
            file_paths += [f.path for f in source.downward_api.items or () if f.path]
        token = source.service_account_token
        if token is not None:
            token_path = join(item, "serviceAccountToken")
            seconds = token.expiration_seconds
            if seconds is not None and seconds < MIN_TOKEN_SECONDS:
                errs.append(
                    errors.invalid(
                        join(token_path, "expirationSeconds"),
                        seconds,
                        "may not specify a duration less than 10 minutes",
                    )
                )
            elif seconds is not None and seconds > MAX_TOKEN_SECONDS:
                errs.append(
                    errors.invalid(
                        join(token_path, "expirationSeconds"),
                        seconds,
                        "may not specify a duration larger than 2^32 seconds",
                    )
                )
            errs += _relative_path(token.path, join(token_path, "path"))
            if token.path:
                file_paths.append(token.path)
        bundle = source.cluster_trust_bundle
        if bundle is not None:
            bundle_path = join(item, "clusterTrustBundle")
            errs += _relative_path(bundle.path, join(bundle_path, "path"))
            if bool(bundle.name) == bool(bundle.signer_name):
                errs.append(
                    errors.invalid(
                        bundle_path, bundle.name, "must specify exactly one of name or signerName"
                    )
                )
            if bundle.path:
                file_paths.append(bundle.path)
        for file_path in file_paths:
            if file_path in paths:
                errs.append(errors.invalid(item, file_path, "conflicting duplicate paths"))
            paths.add(file_path)
    return errs


def _key_to_paths(items: Sequence[KeyToPath] | None, path: str) -> Errors:
    errs: Errors = []
    for i, item in enumerate(items or ()):
        item_path = f"{path}[{i}]"
        errs += _config_key(item.key, join(item_path, "key"))
        errs += _relative_path(item.path, join(item_path, "path"))
        errs += _file_mode(item.mode, join(item_path, "mode"))
    return errs


def _downward_files(items: Sequence[DownwardAPIVolumeFile] | None, path: str) -> Errors:
    errs: Errors = []
    for i, item in enumerate(items or ()):
        item_path = f"{path}[{i}]"
        errs += _relative_path(item.path, join(item_path, "path"))
        errs += _file_mode(item.mode, join(item_path, "mode"))
        if item.field_ref is not None and item.resource_field_ref is not None:
            errs.append(
                errors.invalid(
                    item_path,
                    "resource",
                    "fieldRef and resourceFieldRef can not be specified simultaneously",
                )
            )
        elif item.field_ref is not None:
            errs += _field_ref(item.field_ref, join(item_path, "fieldRef"), VOLUME_FIELD_PATHS)
        elif item.resource_field_ref is not None:
            ref_path = join(item_path, "resourceFieldRef")
            if not item.resource_field_ref.container_name:
                errs.append(errors.required(join(ref_path, "containerName")))
            errs += _resource_field_ref(item.resource_field_ref, ref_path)
        else:
            errs.append(
                errors.required(item_path, "one of fieldRef and resourceFieldRef is required")
            )
    return errs


def _file_mode(mode: int | None, path: str) -> Errors:
    if mode is not None and not 0 <= mode <= MAX_FILE_MODE:
        return [
            errors.invalid(
                path, mode, "must be a number between 0 and 0777 (octal), both inclusive"
            )
        ]
    return []


def _relative_path(value: str | None, path: str) -> Errors:
    """Kubernetes' local descending path: relative, no '..' element."""
    if not value:
        return [errors.required(path)]
    if value.startswith("/"):
        return [errors.invalid(path, value, "must be a relative path")]
    if ".." in value.split("/"):
        return [errors.invalid(path, value, "must not contain '..'")]
    return []


def _absolute_or_required(value: str | None, path: str, *, absolute: bool) -> Errors:
    if not value:
        return [errors.required(path)]
    if absolute and not value.startswith("/"):
        return [errors.invalid(path, value, "must be an absolute path")]
    if ".." in value.split("/"):
        return [errors.invalid(path, value, "must not contain '..'")]
    return []


def _config_key(value: str | None, path: str) -> Errors:
    if not value:
        return [errors.required(path)]
    if (
        len(value) > 253
        or not _CONFIG_KEY.fullmatch(value)
        or value in (".", "..")
        or value.startswith("..")
    ):
        return [
            errors.invalid(
                path,
                value,
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
                "(e.g. 'key.name', or 'KEY_NAME', or 'key-name'), not '.' or '..'",
            )
        ]
    return []


# --- containers ------------------------------------------------------------------------


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
            errs += _probe(
                container.liveness_probe, join(path, "livenessProbe"), single_success=True
            )
        if container.readiness_probe is not None:
            errs += _probe(container.readiness_probe, join(path, "readinessProbe"), readiness=True)
        if container.startup_probe is not None:
            errs += _probe(container.startup_probe, join(path, "startupProbe"), single_success=True)
        if container.lifecycle is not None:
            errs += _lifecycle(container.lifecycle, join(path, "lifecycle"))
    for i, env in enumerate(container.env or ()):
        if env.value_from is not None:
            errs += _env_value_from(env, f"{join(path, 'env')}[{i}]", spec)
    for i, source in enumerate(container.env_from or ()):
        errs += _env_from(source, f"{join(path, 'envFrom')}[{i}]")
    if container.volume_mounts or container.volume_devices:
        errs += _volume_mounts(container, path, volumes)
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
        errs += _security_context(container.security_context, join(path, "securityContext"))
    for i, port in enumerate(container.ports or ()):
        if port.name:
            errs += _port_name(port.name, f"{join(path, 'ports')}[{i}].name")
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


def _volume_mounts(container: Container, path: str, volumes: dict[str, Volume]) -> Errors:
    errs: Errors = []
    mount_paths: set[str] = set()
    privileged = bool(container.security_context and container.security_context.privileged)
    for i, mount in enumerate(container.volume_mounts or ()):
        item = f"{join(path, 'volumeMounts')}[{i}]"
        if not mount.name:
            errs.append(errors.required(join(item, "name")))
        elif mount.name not in volumes:
            errs.append(errors.not_found(join(item, "name"), mount.name))
        if not mount.mount_path:
            errs.append(errors.required(join(item, "mountPath")))
        elif mount.mount_path in mount_paths:
            errs.append(errors.invalid(join(item, "mountPath"), mount.mount_path, "must be unique"))
        mount_paths.add(mount.mount_path or "")
        if mount.sub_path:
            errs += _relative_path(mount.sub_path, join(item, "subPath"))
        if mount.sub_path_expr:
            if mount.sub_path:
                errs.append(
                    errors.invalid(
                        join(item, "subPathExpr"),
                        mount.sub_path_expr,
                        "subPathExpr and subPath are mutually exclusive",
                    )
                )
            errs += _relative_path(mount.sub_path_expr, join(item, "subPathExpr"))
        propagation_path = join(item, "mountPropagation")
        errs += enum(mount.mount_propagation, propagation_path, MOUNT_PROPAGATIONS)
        if mount.mount_propagation == "Bidirectional" and not privileged:
            errs.append(
                errors.forbidden(
                    propagation_path,
                    "Bidirectional mount propagation is available only to privileged containers",
                )
            )
        rro_path = join(item, "recursiveReadOnly")
        errs += enum(mount.recursive_read_only, rro_path, RECURSIVE_READ_ONLY)
        if mount.recursive_read_only not in (None, "Disabled") and not mount.read_only:
            errs.append(errors.forbidden(rro_path, "may only be specified when readOnly is true"))
        if mount.recursive_read_only == "Enabled" and mount.mount_propagation not in (None, "None"):
            errs.append(
                errors.forbidden(
                    rro_path, "may only be specified when mountPropagation is None or not specified"
                )
            )
    device_paths: set[str] = set()
    for i, device in enumerate(container.volume_devices or ()):
        item = f"{join(path, 'volumeDevices')}[{i}]"
        volume = volumes.get(device.name or "")
        if not device.name:
            errs.append(errors.required(join(item, "name")))
        elif volume is None:
            errs.append(errors.not_found(join(item, "name"), device.name))
        elif volume.persistent_volume_claim is None and "ephemeral" not in volume.unmodeled:
            errs.append(
                errors.invalid(
                    join(item, "name"),
                    device.name,
                    "can only use volume source type of PersistentVolumeClaim or Ephemeral "
                    "for block mode",
                )
            )
        device_path = join(item, "devicePath")
        if not device.device_path:
            errs.append(errors.required(device_path))
        elif device.device_path in device_paths:
            errs.append(errors.invalid(device_path, device.device_path, "must be unique"))
        elif device.device_path in mount_paths:
            errs.append(
                errors.invalid(
                    device_path, device.device_path, "must not already exist in volumeMounts"
                )
            )
        device_paths.add(device.device_path or "")
    return errs


def _probe(
    probe: Probe | None, path: str, *, single_success: bool = False, readiness: bool = False
) -> Errors:
    if probe is None:
        return []
    handlers = [
        (wire, value)
        for wire, value in (
            ("exec", probe.exec),
            ("httpGet", probe.http_get),
            ("tcpSocket", probe.tcp_socket),
            ("grpc", probe.grpc),
        )
        if value is not None
    ]
    errs = _handlers(handlers, path)
    for attr, wire in (
        ("initial_delay_seconds", "initialDelaySeconds"),
        ("timeout_seconds", "timeoutSeconds"),
        ("period_seconds", "periodSeconds"),
        ("success_threshold", "successThreshold"),
        ("failure_threshold", "failureThreshold"),
    ):
        value = getattr(probe, attr)
        if value is not None and value < 0:
            errs += non_negative(value, join(path, wire))
    if single_success and probe.success_threshold not in (None, 1):
        errs.append(
            errors.invalid(join(path, "successThreshold"), probe.success_threshold, "must be 1")
        )
    if probe.termination_grace_period_seconds is not None:
        grace_path = join(path, "terminationGracePeriodSeconds")
        if readiness:
            errs.append(
                errors.invalid(
                    grace_path,
                    probe.termination_grace_period_seconds,
                    "must not be set for readinessProbes",
                )
            )
        else:
            errs += positive(probe.termination_grace_period_seconds, grace_path)
    if probe.grpc is not None:
        errs += in_range(probe.grpc.port, join(path, "grpc.port"), 1, 65535)
        if probe.grpc.port is None:
            errs.append(errors.required(join(path, "grpc.port")))
    return errs


def _lifecycle(lifecycle: Lifecycle | None, path: str) -> Errors:
    if lifecycle is None:
        return []
    errs: Errors = []
    for hook, wire in ((lifecycle.post_start, "postStart"), (lifecycle.pre_stop, "preStop")):
        if hook is not None:
            errs += _lifecycle_handler(hook, join(path, wire))
    return errs


def _lifecycle_handler(handler: LifecycleHandler, path: str) -> Errors:
    handlers = [
        (wire, value)
        for wire, value in (
            ("exec", handler.exec),
            ("httpGet", handler.http_get),
            ("tcpSocket", handler.tcp_socket),
            ("sleep", handler.sleep),
        )
        if value is not None
    ]
    errs = _handlers(handlers, path)
    if handler.sleep is not None:
        # Zero is allowed since Kubernetes 1.32 (PodLifecycleSleepActionAllowZero).
        errs += non_negative(handler.sleep.seconds, join(path, "sleep.seconds"))
    return errs


def _handlers(handlers: Sequence[tuple[str, object]], path: str) -> Errors:
    """Exactly one handler, each checked."""
    if not handlers:
        return [errors.required(path, "must specify a handler type")]
    errs = [
        errors.forbidden(join(path, wire), "may not specify more than 1 handler type")
        for wire, _ in handlers[1:]
    ]
    for wire, value in handlers:
        handler_path = join(path, wire)
        if wire == "exec":
            if not getattr(value, "command", None):
                errs.append(errors.required(join(handler_path, "command")))
        elif wire == "httpGet":
            assert isinstance(value, HTTPGetAction)
            errs += _port_num_or_name(value.port, join(handler_path, "port"))
            errs += enum(value.scheme, join(handler_path, "scheme"), URI_SCHEMES)
            for i, header in enumerate(value.http_headers or ()):
                name_path = f"{join(handler_path, 'httpHeaders')}[{i}].name"
                if not header.name or not _HTTP_HEADER.fullmatch(header.name):
                    errs.append(
                        errors.invalid(
                            name_path,
                            header.name or "",
                            "a valid HTTP header must consist of alphanumeric characters or "
                            "'-' (e.g. 'X-Header-Name')",
                        )
                    )
        elif wire == "tcpSocket":
            errs += _port_num_or_name(getattr(value, "port", None), join(handler_path, "port"))
    return errs


def _port_num_or_name(port: IntOrString | None, path: str) -> Errors:
    if port is None or port == "":
        return [errors.required(path)]
    if isinstance(port, int):
        return in_range(port, path, 1, 65535)
    if port.isdigit():
        return [errors.invalid(path, port, "must contain at least one letter (a-z)")]
    return _port_name(port, path)


def _port_name(name: str, path: str) -> Errors:
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


def _env_value_from(env: EnvVar, path: str, spec: PodSpec) -> Errors:
    source = env.value_from
    if source is None:
        return []
    source_path = join(path, "valueFrom")
    errs: Errors = []
    kinds = [
        wire
        for wire, value in (
            ("fieldRef", source.field_ref),
            ("resourceFieldRef", source.resource_field_ref),
            ("configMapKeyRef", source.config_map_key_ref),
            ("secretKeyRef", source.secret_key_ref),
            ("fileKeyRef", source.file_key_ref),
        )
        if value is not None
    ]
    if env.value:
        errs.append(
            errors.invalid(source_path, "", "may not be specified when `value` is not empty")
        )
    if not kinds:
        errs.append(
            errors.invalid(
                source_path,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef`, "
                "`secretKeyRef` or `fileKeyRef`",
            )
        )
    elif len(kinds) > 1:
        errs.append(
            errors.invalid(source_path, "", "may not have more than one field specified at a time")
        )
    if source.field_ref is not None:
        errs += _field_ref(source.field_ref, join(source_path, "fieldRef"), ENV_FIELD_PATHS)
    if source.resource_field_ref is not None:
        ref = source.resource_field_ref
        ref_path = join(source_path, "resourceFieldRef")
        errs += _resource_field_ref(ref, ref_path)
        containers = {c.name for c in (*(spec.containers or ()), *(spec.init_containers or ()))}
        if ref.container_name and ref.container_name not in containers:
            errs.append(errors.not_found(join(ref_path, "containerName"), ref.container_name))
    for wire, selector in (
        ("configMapKeyRef", source.config_map_key_ref),
        ("secretKeyRef", source.secret_key_ref),
    ):
        if selector is not None:
            errs += _key_selector(selector, join(source_path, wire))
    file_ref = source.file_key_ref
    if file_ref is not None:
        file_path = join(source_path, "fileKeyRef")
        for value, wire in ((file_ref.volume_name, "volumeName"), (file_ref.key, "key")):
            if not value:
                errs.append(errors.required(join(file_path, wire)))
        errs += _relative_path(file_ref.path, join(file_path, "path"))
    return errs


def _key_selector(selector: KeySelector, path: str) -> Errors:
    errs = required_name(selector.name, join(path, "name"), names.dns1123_subdomain)
    return errs + _config_key(selector.key, join(path, "key"))


def _field_ref(ref: ObjectFieldSelector, path: str, supported: tuple[str, ...]) -> Errors:
    field_path = join(path, "fieldPath")
    if not ref.field_path:
        return [errors.required(field_path)]
    if ref.api_version not in (None, "v1"):
        return [errors.invalid(join(path, "apiVersion"), ref.api_version, 'only "v1" is supported')]
    subscripted = _SUBSCRIPTED_FIELD.fullmatch(ref.field_path)
    if subscripted is not None:
        return named(subscripted.group(2), field_path, names.qualified_name)
    return enum(ref.field_path, field_path, supported)


def _resource_field_ref(ref: ResourceFieldSelector, path: str) -> Errors:
    resource_path = join(path, "resource")
    if not ref.resource:
        return [errors.required(resource_path)]
    errs: Errors = []
    hugepages = ref.resource.startswith(("limits.hugepages-", "requests.hugepages-"))
    if not hugepages:
        errs += enum(ref.resource, resource_path, RESOURCE_FIELDS)
    if ref.divisor is not None and ref.divisor.value <= 0:
        errs.append(
            errors.invalid(join(path, "divisor"), ref.divisor.text, "must be greater than 0")
        )
    return errs


def _env_from(source: EnvFromSource, path: str) -> Errors:
    errs: Errors = []
    refs = [
        (wire, ref)
        for wire, ref in (("configMapRef", source.config_map_ref), ("secretRef", source.secret_ref))
        if ref is not None
    ]
    if not refs:
        errs.append(errors.invalid(path, "", "must specify one of: `configMapRef` or `secretRef`"))
    elif len(refs) > 1:
        errs.append(
            errors.invalid(path, "", "may not have more than one field specified at a time")
        )
    for wire, ref in refs:
        errs += required_name(ref.name, join(path, f"{wire}.name"), names.dns1123_subdomain)
    if source.prefix:
        errs += named(source.prefix, join(path, "prefix"), names.env_var_name)
    return errs


def _security_context(context: SecurityContext, path: str) -> Errors:
    errs: Errors = []
    for attr, wire in (("run_as_user", "runAsUser"), ("run_as_group", "runAsGroup")):
        errs += in_range(getattr(context, attr), join(path, wire), 0, INT32_MAX)
    errs += enum(context.proc_mount, join(path, "procMount"), PROC_MOUNTS)
    if context.allow_privilege_escalation is False:
        if context.privileged:
            errs.append(
                errors.invalid(
                    path,
                    "",
                    "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
                )
            )
        added = context.capabilities.add if context.capabilities else None
        if added and "CAP_SYS_ADMIN" in added:
            errs.append(
                errors.invalid(
                    path,
                    "",
                    "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` "
                    "CAP_SYS_ADMIN",
                )
            )
    errs += _profile(context.seccomp_profile, join(path, "seccompProfile"))
    errs += _profile(context.app_armor_profile, join(path, "appArmorProfile"))
    return errs


def _unique_names(
    values: Iterable[str | None], path: str, rule: Callable[[str], list[str]]
) -> Errors:
    errs: Errors = []
    seen: set[str] = set()
    for i, value in enumerate(values):
        item = f"{path}[{i}].name"
        errs += required_name(value, item, rule)
        if value and value in seen:
            errs.append(errors.duplicate(item, value))
        seen.add(value or "")
    return errs
