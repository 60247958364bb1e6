"""The apps/v1 kinds."""

from __future__ import annotations

from typing import Any

from navarch.api.core_v1 import PodTemplateSpec
from navarch.api.core_v1_storage import PersistentVolumeClaim
from navarch.api.meta import LabelSelector, TopLevel
from navarch.api.schema import IntOrString, Model, model, wire


@model()
class ReplicaSetCondition(Model):
    type: str | None = wire()
    status: str | None = wire()
    last_transition_time: str | None = wire()
    reason: str | None = wire()
    message: str | None = wire()


@model()
class ReplicaSetSpec(Model):
    replicas: int | None = wire()
    min_ready_seconds: int | None = wire()
    selector: LabelSelector | None = wire()
    template: PodTemplateSpec | None = wire()


@model(kubernetes_only=("terminatingReplicas",))
class ReplicaSetStatus(Model):
    replicas: int | None = wire()
    fully_labeled_replicas: int | None = wire()
    ready_replicas: int | None = wire()
    available_replicas: int | None = wire()
    observed_generation: int | None = wire()
    conditions: tuple[ReplicaSetCondition, ...] | None = wire()


@model()
class ReplicaSet(TopLevel):
    API_VERSION, KIND, RESOURCE = "apps/v1", "ReplicaSet", "replicasets"

    spec: ReplicaSetSpec | None = wire()
    status: ReplicaSetStatus | None = wire()


@model()
class RollingUpdateDeployment(Model):
    max_unavailable: IntOrString | None = wire()
    max_surge: IntOrString | None = wire()


@model()
class DeploymentStrategy(Model):
    type: str | None = wire()
    rolling_update: RollingUpdateDeployment | None = wire()


@model()
class DeploymentSpec(Model):
    replicas: int | None = wire()
    selector: LabelSelector | None = wire()
    template: PodTemplateSpec | None = wire()
    strategy: DeploymentStrategy | None = wire()
    min_ready_seconds: int | None = wire()
    revision_history_limit: int | None = wire()
    paused: bool | None = wire()
    progress_deadline_seconds: int | None = wire()


@model()
class DeploymentCondition(Model):
    type: str | None = wire()
    status: str | None = wire()
    last_update_time: str | None = wire()
    last_transition_time: str | None = wire()
    reason: str | None = wire()
    message: str | None = wire()


@model(kubernetes_only=("terminatingReplicas",))
class DeploymentStatus(Model):
    observed_generation: int | None = wire()
    replicas: int | None = wire()
    updated_replicas: int | None = wire()
    ready_replicas: int | None = wire()
    available_replicas: int | None = wire()
    unavailable_replicas: int | None = wire()
    conditions: tuple[DeploymentCondition, ...] | None = wire()
    collision_count: int | None = wire()


@model()
class Deployment(TopLevel):
    API_VERSION, KIND, RESOURCE = "apps/v1", "Deployment", "deployments"

    spec: DeploymentSpec | None = wire()
    status: DeploymentStatus | None = wire()


@model()
class ControllerRevision(TopLevel):
    """An immutable snapshot of a DaemonSet's or StatefulSet's pod template: what
    ``kubectl rollout history`` lists and ``rollout undo`` goes back to."""

    API_VERSION, KIND, RESOURCE = "apps/v1", "ControllerRevision", "controllerrevisions"

    data: Any = wire()
    revision: int | None = wire()


@model()
class RollingUpdateDaemonSet(Model):
    max_unavailable: IntOrString | None = wire()
    max_surge: IntOrString | None = wire()


@model()
class DaemonSetUpdateStrategy(Model):
    type: str | None = wire()
    rolling_update: RollingUpdateDaemonSet | None = wire()


@model()
class DaemonSetSpec(Model):
    selector: LabelSelector | None = wire()
    template: PodTemplateSpec | None = wire()
    update_strategy: DaemonSetUpdateStrategy | None = wire()
    min_ready_seconds: int | None = wire()
    revision_history_limit: int | None = wire()


@model()
class DaemonSetCondition(Model):
    type: str | None = wire()
    status: str | None = wire()
    last_transition_time: str | None = wire()
    reason: str | None = wire()
    message: str | None = wire()


@model()
class DaemonSetStatus(Model):
    current_number_scheduled: int | None = wire()
    number_misscheduled: int | None = wire()
    desired_number_scheduled: int | None = wire()
    number_ready: int | None = wire()
    observed_generation: int | None = wire()
    updated_number_scheduled: int | None = wire()
    number_available: int | None = wire()
    number_unavailable: int | None = wire()
    collision_count: int | None = wire()
    conditions: tuple[DaemonSetCondition, ...] | None = wire()


@model()
class DaemonSet(TopLevel):
    """One pod per eligible node, placed through the scheduler; rolled out through
    ControllerRevisions."""

    API_VERSION, KIND, RESOURCE = "apps/v1", "DaemonSet", "daemonsets"

    spec: DaemonSetSpec | None = wire()
    status: DaemonSetStatus | None = wire()


# --- StatefulSets ----------------------------------------------------------------------


@model()
class RollingUpdateStatefulSetStrategy(Model):
    partition: int | None = wire()
    max_unavailable: IntOrString | None = wire()


@model()
class StatefulSetUpdateStrategy(Model):
    type: str | None = wire()
    rolling_update: RollingUpdateStatefulSetStrategy | None = wire()


@model()
class StatefulSetPersistentVolumeClaimRetentionPolicy(Model):
    when_deleted: str | None = wire()
    when_scaled: str | None = wire()


@model()
class StatefulSetOrdinals(Model):
    start: int | None = wire()


@model()
class StatefulSetSpec(Model):
    replicas: int | None = wire()
    selector: LabelSelector | None = wire()
    template: PodTemplateSpec | None = wire()
    volume_claim_templates: tuple[PersistentVolumeClaim, ...] | None = wire()
    service_name: str | None = wire()
    pod_management_policy: str | None = wire()
    update_strategy: StatefulSetUpdateStrategy | None = wire()
    revision_history_limit: int | None = wire()
    min_ready_seconds: int | None = wire()
    persistent_volume_claim_retention_policy: (
        StatefulSetPersistentVolumeClaimRetentionPolicy | None
    ) = wire()
    ordinals: StatefulSetOrdinals | None = wire()


@model()
class StatefulSetCondition(Model):
    type: str | None = wire()
    status: str | None = wire()
    last_transition_time: str | None = wire()
    reason: str | None = wire()
    message: str | None = wire()


@model()
class StatefulSetStatus(Model):
    observed_generation: int | None = wire()
    replicas: int | None = wire()
    ready_replicas: int | None = wire()
    current_replicas: int | None = wire()
    updated_replicas: int | None = wire()
    current_revision: str | None = wire()
    update_revision: str | None = wire()
    collision_count: int | None = wire()
    conditions: tuple[StatefulSetCondition, ...] | None = wire()
    available_replicas: int | None = wire()


@model()
class StatefulSet(TopLevel):
    """Pods with a stable identity (``<set>-<ordinal>``) and storage of their own."""

    API_VERSION, KIND, RESOURCE = "apps/v1", "StatefulSet", "statefulsets"

    spec: StatefulSetSpec | None = wire()
    status: StatefulSetStatus | None = wire()
