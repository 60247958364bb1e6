"""Volumes, their sources, and the mounts and devices through which containers use them.

Rare volume sources (cloud disks, iSCSI, Ceph, ...) stay verbatim ``kubernetes_only``
fields of :class:`Volume`: they still count as "a volume source".
"""

from __future__ import annotations

from navarch.api.meta import LabelSelector
from navarch.api.pod_kept.env import ObjectFieldSelector, ResourceFieldSelector
from navarch.api.quantity import Quantity
from navarch.api.schema import Model, model, wire


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
