"""The parts of a PodSpec that Kubernetes defines and Navarch keeps without acting on:
volumes, probes, lifecycle hooks, security contexts, environment sources, pod
(anti-)affinity, topology spread, DNS settings, ...

They are typed, not kept as raw JSON, so that they are decoded strictly (a misspelt
``httpGett`` or ``emptyDirr`` is an unknown field at its path) and validated as
Kubernetes validates them (see ``navarch.api.validation``). Navarch stores and returns
them unchanged; the API server warns that they are ignored.

One module per concern, all re-exported here:

- ``env``: environment sources (``valueFrom``, ``envFrom``);
- ``probes``: probes, lifecycle hooks and their handlers, readiness gates;
- ``security``: container and pod security contexts;
- ``volumes``: volumes and their sources, volume mounts and devices;
- ``scheduling``: pod (anti-)affinity, topology spread, OS, scheduling gates;
- ``dns``: DNS configuration and host aliases;
- ``resources``: resource claims and resize policies.
"""

from __future__ import annotations

from navarch.api.pod_kept.dns import (
    HostAlias,
    PodDNSConfig,
    PodDNSConfigOption,
)
from navarch.api.pod_kept.env import (
    EnvFromSource,
    EnvSourceRef,
    EnvVarSource,
    FileKeySelector,
    KeySelector,
    ObjectFieldSelector,
    ResourceFieldSelector,
)
from navarch.api.pod_kept.probes import (
    ExecAction,
    GRPCAction,
    HTTPGetAction,
    HTTPHeader,
    Lifecycle,
    LifecycleHandler,
    PodReadinessGate,
    Probe,
    SleepAction,
    TCPSocketAction,
)
from navarch.api.pod_kept.resources import (
    ContainerResizePolicy,
    PodResourceClaim,
    ResourceClaim,
)
from navarch.api.pod_kept.scheduling import (
    PodAffinity,
    PodAffinityTerm,
    PodOS,
    PodSchedulingGate,
    TopologySpreadConstraint,
    WeightedPodAffinityTerm,
)
from navarch.api.pod_kept.security import (
    Capabilities,
    PodSecurityContext,
    ProfileRef,
    SecurityContext,
    SELinuxOptions,
    Sysctl,
    WindowsSecurityContextOptions,
)
from navarch.api.pod_kept.volumes import (
    RARE_VOLUME_SOURCES,
    VOLUME_SOURCES,
    ClusterTrustBundleProjection,
    ConfigMapVolumeSource,
    CSIVolumeSource,
    DownwardAPIProjection,
    DownwardAPIVolumeFile,
    DownwardAPIVolumeSource,
    EmptyDirVolumeSource,
    HostPathVolumeSource,
    ImageVolumeSource,
    KeyToPath,
    LocalObjectReference,
    NFSVolumeSource,
    PersistentVolumeClaimVolumeSource,
    ProjectedVolumeSource,
    ProjectionRef,
    SecretVolumeSource,
    ServiceAccountTokenProjection,
    Volume,
    VolumeDevice,
    VolumeMount,
    VolumeProjection,
)

__all__ = [
    "RARE_VOLUME_SOURCES",
    "VOLUME_SOURCES",
    "CSIVolumeSource",
    "Capabilities",
    "ClusterTrustBundleProjection",
    "ConfigMapVolumeSource",
    "ContainerResizePolicy",
    "DownwardAPIProjection",
    "DownwardAPIVolumeFile",
    "DownwardAPIVolumeSource",
    "EmptyDirVolumeSource",
    "EnvFromSource",
    "EnvSourceRef",
    "EnvVarSource",
    "ExecAction",
    "FileKeySelector",
    "GRPCAction",
    "HTTPGetAction",
    "HTTPHeader",
    "HostAlias",
    "HostPathVolumeSource",
    "ImageVolumeSource",
    "KeySelector",
    "KeyToPath",
    "Lifecycle",
    "LifecycleHandler",
    "LocalObjectReference",
    "NFSVolumeSource",
    "ObjectFieldSelector",
    "PersistentVolumeClaimVolumeSource",
    "PodAffinity",
    "PodAffinityTerm",
    "PodDNSConfig",
    "PodDNSConfigOption",
    "PodOS",
    "PodReadinessGate",
    "PodResourceClaim",
    "PodSchedulingGate",
    "PodSecurityContext",
    "Probe",
    "ProfileRef",
    "ProjectedVolumeSource",
    "ProjectionRef",
    "ResourceClaim",
    "ResourceFieldSelector",
    "SELinuxOptions",
    "SecretVolumeSource",
    "SecurityContext",
    "ServiceAccountTokenProjection",
    "SleepAction",
    "Sysctl",
    "TCPSocketAction",
    "TopologySpreadConstraint",
    "Volume",
    "VolumeDevice",
    "VolumeMount",
    "VolumeProjection",
    "WeightedPodAffinityTerm",
    "WindowsSecurityContextOptions",
]
