"""The apps/v1 kinds."""

from __future__ import annotations

from typing import Any

from navarch.api.core_v1 import PodTemplateSpec
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
