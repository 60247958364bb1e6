"""The parts of a PodSpec that Kubernetes defines and Navarch keeps without acting on:
volumes, probes, lifecycle hooks, security contexts, environment sources, pod
(anti-)affinity, topology spread, DNS settings, ...

They are typed, not kept as raw JSON, so that they are decoded strictly (a misspelt
``httpGett`` or ``emptyDirr`` is an unknown field at its path) and validated as
Kubernetes validates them (see ``pod_validation``). Navarch stores and returns them
unchanged; the API server warns that they are ignored.

Rare volume sources (cloud disks, iSCSI, Ceph, ...) stay verbatim ``kubernetes_only``
fields of :class:`Volume`: they still count as "a volume source".
"""

from __future__ import annotations

from navarch.api.meta import LabelSelector
from navarch.api.quantity import Quantity
from navarch.api.schema import IntOrString, Model, model, wire

# --- environment ---------------------------------------------------------------------


@model()
class ObjectFieldSelector(Model):
    api_version: str | None = wire()
    field_path: str | None = wire()


@model()
class ResourceFieldSelector(Model):
    container_name: str | None = wire()
    resource: str | None = wire()
    divisor: Quantity | None = wire()


@model()
class KeySelector(Model):
    """ConfigMapKeySelector and SecretKeySelector: the same three fields."""

    name: str | None = wire()
    key: str | None = wire()
    optional: bool | None = wire()


@model()
class FileKeySelector(Model):
    volume_name: str | None = wire()
    path: str | None = wire()
    key: str | None = wire()
    optional: bool | None = wire()


@model()
class EnvVarSource(Model):
    field_ref: ObjectFieldSelector | None = wire()
    resource_field_ref: ResourceFieldSelector | None = wire()
    config_map_key_ref: KeySelector | None = wire()
    secret_key_ref: KeySelector | None = wire()
    file_key_ref: FileKeySelector | None = wire()


@model()
class EnvSourceRef(Model):
    """ConfigMapEnvSource and SecretEnvSource."""

    name: str | None = wire()
    optional: bool | None = wire()


@model()
class EnvFromSource(Model):
    prefix: str | None = wire()
    config_map_ref: EnvSourceRef | None = wire()
    secret_ref: EnvSourceRef | None = wire()


# --- mounts, probes, hooks -----------------------------------------------------------


@model()
class VolumeMount(Model):
    name: str | None = wire()
    read_only: bool | None = wire()
    recursive_read_only: str | None = wire()
    mount_path: str | None = wire()
    sub_path: str | None = wire()
    mount_propagation: str | None = wire()
    sub_path_expr: str | None = wire()


@model()
class VolumeDevice(Model):
    name: str | None = wire()
    device_path: str | None = wire()


@model()
class ExecAction(Model):
    command: tuple[str, ...] | None = wire()


@model()
class HTTPHeader(Model):
    name: str | None = wire()
    value: str | None = wire()


@model()
class HTTPGetAction(Model):
    path: str | None = wire()
    port: IntOrString | None = wire()
    host: str | None = wire()
    scheme: str | None = wire()
    http_headers: tuple[HTTPHeader, ...] | None = wire()


@model()
class TCPSocketAction(Model):
    port: IntOrString | None = wire()
    host: str | None = wire()


@model()
class GRPCAction(Model):
    port: int | None = wire()
    service: str | None = wire()


@model()
class SleepAction(Model):
    seconds: int | None = wire()


@model()
class Probe(Model):
    exec: ExecAction | None = wire()
    http_get: HTTPGetAction | None = wire()
    tcp_socket: TCPSocketAction | None = wire()
    grpc: GRPCAction | None = wire()
    initial_delay_seconds: int | None = wire()
    timeout_seconds: int | None = wire()
    period_seconds: int | None = wire()
    success_threshold: int | None = wire()
    failure_threshold: int | None = wire()
    termination_grace_period_seconds: int | None = wire()


@model()
class LifecycleHandler(Model):
    exec: ExecAction | None = wire()
    http_get: HTTPGetAction | None = wire()
    tcp_socket: TCPSocketAction | None = wire()
    sleep: SleepAction | None = wire()


@model()
class Lifecycle(Model):
    post_start: LifecycleHandler | None = wire()
    pre_stop: LifecycleHandler | None = wire()
    stop_signal: str | None = wire()


@model()
class ContainerResizePolicy(Model):
    resource_name: str | None = wire()
    restart_policy: str | None = wire()


@model()
class ResourceClaim(Model):
    name: str | None = wire()
    request: str | None = wire()


# --- security ------------------------------------------------------------------------


@model()
class Capabilities(Model):
    add: tuple[str, ...] | None = wire()
    drop: tuple[str, ...] | None = wire()


@model()
class SELinuxOptions(Model):
    user: str | None = wire()
    role: str | None = wire()
    type: str | None = wire()
    level: str | None = wire()


@model()
class WindowsSecurityContextOptions(Model):
    gmsa_credential_spec_name: str | None = wire()
    gmsa_credential_spec: str | None = wire()
    run_as_user_name: str | None = wire()
    host_process: bool | None = wire()


@model()
class ProfileRef(Model):
    """SeccompProfile and AppArmorProfile."""

    type: str | None = wire()
    localhost_profile: str | None = wire()


@model()
class SecurityContext(Model):
    capabilities: Capabilities | None = wire()
    privileged: bool | None = wire()
    se_linux_options: SELinuxOptions | None = wire()
    windows_options: WindowsSecurityContextOptions | None = wire()
    run_as_user: int | None = wire()
    run_as_group: int | None = wire()
    run_as_non_root: bool | None = wire()
    read_only_root_filesystem: bool | None = wire()
    allow_privilege_escalation: bool | None = wire()
    proc_mount: str | None = wire()
    seccomp_profile: ProfileRef | None = wire()
    app_armor_profile: ProfileRef | None = wire()


@model()
class Sysctl(Model):
    name: str | None = wire()
    value: str | None = wire()


@model()
class PodSecurityContext(Model):
    se_linux_options: SELinuxOptions | None = wire()
    windows_options: WindowsSecurityContextOptions | None = wire()
    run_as_user: int | None = wire()
    run_as_group: int | None = wire()
    run_as_non_root: bool | None = wire()
    supplemental_groups: tuple[int, ...] | None = wire()
    supplemental_groups_policy: str | None = wire()
    fs_group: int | None = wire()
    sysctls: tuple[Sysctl, ...] | None = wire()
    fs_group_change_policy: str | None = wire()
    seccomp_profile: ProfileRef | None = wire()
    app_armor_profile: ProfileRef | None = wire()
    se_linux_change_policy: str | None = wire()


# --- volumes -------------------------------------------------------------------------


@model()
class LocalObjectReference(Model):
    name: str | None = wire()


@model()
class KeyToPath(Model):
    key: str | None = wire()
    path: str | None = wire()
    mode: int | None = wire()


@model()
class HostPathVolumeSource(Model):
    path: str | None = wire()
    type: str | None = wire()


@model()
class EmptyDirVolumeSource(Model):
    medium: str | None = wire()
    size_limit: Quantity | None = wire()


@model()
class SecretVolumeSource(Model):
    secret_name: str | None = wire()
    items: tuple[KeyToPath, ...] | None = wire()
    default_mode: int | None = wire()
    optional: bool | None = wire()


@model()
class ConfigMapVolumeSource(Model):
    name: str | None = wire()
    items: tuple[KeyToPath, ...] | None = wire()
    default_mode: int | None = wire()
    optional: bool | None = wire()


@model()
class PersistentVolumeClaimVolumeSource(Model):
    claim_name: str | None = wire()
    read_only: bool | None = wire()


@model()
class DownwardAPIVolumeFile(Model):
    path: str | None = wire()
    field_ref: ObjectFieldSelector | None = wire()
    resource_field_ref: ResourceFieldSelector | None = wire()
    mode: int | None = wire()


@model()
class DownwardAPIVolumeSource(Model):
    items: tuple[DownwardAPIVolumeFile, ...] | None = wire()
    default_mode: int | None = wire()


@model()
class ProjectionRef(Model):
    """SecretProjection and ConfigMapProjection."""

    name: str | None = wire()
    items: tuple[KeyToPath, ...] | None = wire()
    optional: bool | None = wire()


@model()
class DownwardAPIProjection(Model):
    items: tuple[DownwardAPIVolumeFile, ...] | None = wire()


@model()
class ServiceAccountTokenProjection(Model):
    audience: str | None = wire()
    expiration_seconds: int | None = wire()
    path: str | None = wire()


@model()
class ClusterTrustBundleProjection(Model):
    name: str | None = wire()
    signer_name: str | None = wire()
    label_selector: LabelSelector | None = wire()
    optional: bool | None = wire()
    path: str | None = wire()


@model(kubernetes_only=("podCertificate",))
class VolumeProjection(Model):
    secret: ProjectionRef | None = wire()
    downward_api: DownwardAPIProjection | None = wire("downwardAPI")
    config_map: ProjectionRef | None = wire()
    service_account_token: ServiceAccountTokenProjection | None = wire()
    cluster_trust_bundle: ClusterTrustBundleProjection | None = wire()


@model()
class ProjectedVolumeSource(Model):
    sources: tuple[VolumeProjection, ...] | None = wire()
    default_mode: int | None = wire()


@model()
class NFSVolumeSource(Model):
    server: str | None = wire()
    path: str | None = wire()
    read_only: bool | None = wire()


@model()
class CSIVolumeSource(Model):
    driver: str | None = wire()
    read_only: bool | None = wire()
    fs_type: str | None = wire()
    volume_attributes: dict[str, str] | None = wire()
    node_publish_secret_ref: LocalObjectReference | None = wire()


@model()
class ImageVolumeSource(Model):
    reference: str | None = wire()
    pull_policy: str | None = wire()


# Volume sources kept verbatim: present in Kubernetes, rare in manifests Navarch runs.
RARE_VOLUME_SOURCES = (
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "ephemeral",
)


# Every volume source's wire name, typed ones first.
VOLUME_SOURCES = (
    "hostPath",
    "emptyDir",
    "secret",
    "configMap",
    "persistentVolumeClaim",
    "downwardAPI",
    "projected",
    "nfs",
    "csi",
    "image",
    *RARE_VOLUME_SOURCES,
)


@model(kubernetes_only=RARE_VOLUME_SOURCES)
class Volume(Model):
    name: str | None = wire()
    host_path: HostPathVolumeSource | None = wire()
    empty_dir: EmptyDirVolumeSource | None = wire()
    secret: SecretVolumeSource | None = wire()
    config_map: ConfigMapVolumeSource | None = wire()
    persistent_volume_claim: PersistentVolumeClaimVolumeSource | None = wire()
    downward_api: DownwardAPIVolumeSource | None = wire("downwardAPI")
    projected: ProjectedVolumeSource | None = wire()
    nfs: NFSVolumeSource | None = wire()
    csi: CSIVolumeSource | None = wire()
    image: ImageVolumeSource | None = wire()

    def source_names(self) -> list[str]:
        """The wire names of the volume sources set (Kubernetes requires exactly one)."""
        typed = [  # in Kubernetes' order: the second one found is reported
            ("emptyDir", self.empty_dir),
            ("hostPath", self.host_path),
            ("secret", self.secret),
            ("nfs", self.nfs),
            ("persistentVolumeClaim", self.persistent_volume_claim),
            ("downwardAPI", self.downward_api),
            ("configMap", self.config_map),
            ("projected", self.projected),
            ("csi", self.csi),
            ("image", self.image),
        ]
        names = [name for name, source in typed if source is not None]
        return names + [name for name in RARE_VOLUME_SOURCES if name in self.unmodeled]


# --- pod-level scheduling and naming -------------------------------------------------


@model()
class PodAffinityTerm(Model):
    label_selector: LabelSelector | None = wire()
    namespaces: tuple[str, ...] | None = wire()
    topology_key: str | None = wire()
    namespace_selector: LabelSelector | None = wire()
    match_label_keys: tuple[str, ...] | None = wire()
    mismatch_label_keys: tuple[str, ...] | None = wire()


@model()
class WeightedPodAffinityTerm(Model):
    weight: int | None = wire()
    pod_affinity_term: PodAffinityTerm | None = wire()


@model()
class PodAffinity(Model):
    """PodAffinity and PodAntiAffinity: the same two lists."""

    required_during_scheduling_ignored_during_execution: tuple[PodAffinityTerm, ...] | None = wire()
    preferred_during_scheduling_ignored_during_execution: (
        tuple[WeightedPodAffinityTerm, ...] | None
    ) = wire()


@model()
class TopologySpreadConstraint(Model):
    max_skew: int | None = wire()
    topology_key: str | None = wire()
    when_unsatisfiable: str | None = wire()
    label_selector: LabelSelector | None = wire()
    min_domains: int | None = wire()
    node_affinity_policy: str | None = wire()
    node_taints_policy: str | None = wire()
    match_label_keys: tuple[str, ...] | None = wire()


@model()
class PodDNSConfigOption(Model):
    name: str | None = wire()
    value: str | None = wire()


@model()
class PodDNSConfig(Model):
    nameservers: tuple[str, ...] | None = wire()
    searches: tuple[str, ...] | None = wire()
    options: tuple[PodDNSConfigOption, ...] | None = wire()


@model()
class HostAlias(Model):
    ip: str | None = wire()
    hostnames: tuple[str, ...] | None = wire()


@model()
class PodReadinessGate(Model):
    condition_type: str | None = wire()


@model()
class PodOS(Model):
    name: str | None = wire()


@model()
class PodSchedulingGate(Model):
    name: str | None = wire()


@model()
class PodResourceClaim(Model):
    name: str | None = wire()
    resource_claim_name: str | None = wire()
    resource_claim_template_name: str | None = wire()
