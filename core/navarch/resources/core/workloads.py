"""ReplicaSets and Deployments (``/apis/apps/v1``), with their scale subresource."""

from __future__ import annotations

from typing import Any

from navarch.api.apps_v1 import Deployment, ReplicaSet
from navarch.api.defaults import default_deployment, default_replica_set
from navarch.api.errors import FieldError
from navarch.api.validation.workloads import validate_deployment, validate_replica_set
from navarch.printers.workloads import DEPLOYMENT_PRINTER, REPLICASET_PRINTER
from navarch.resources.spec import Resource
from navarch.resources.strategy import DELETE_DEPENDENTS, Obj, Strategy


class WorkloadStrategy(Strategy):
    """Deployments and ReplicaSets."""

    has_status = True
    tracks_generation = True
    garbage_collection = DELETE_DEPENDENTS  # apps/v1's default: Background
    initial_status: Obj = {}


class ReplicaSetStrategy(WorkloadStrategy):
    def default(self, obj: Obj) -> None:
        default_replica_set(obj)

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_replica_set(obj)


class DeploymentStrategy(WorkloadStrategy):
    def default(self, obj: Obj) -> None:
        default_deployment(obj)

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_deployment(obj)


REPLICASETS = Resource.for_model(
    ReplicaSet,
    short_names=("rs",),
    categories=("all",),
    subresources=("status", "scale"),
    strategy=ReplicaSetStrategy(),
    printer=REPLICASET_PRINTER,
    description="ReplicaSet ensures that a specified number of pod replicas are running.",
)
DEPLOYMENTS = Resource.for_model(
    Deployment,
    short_names=("deploy",),
    categories=("all",),
    subresources=("status", "scale"),
    strategy=DeploymentStrategy(),
    printer=DEPLOYMENT_PRINTER,
    description="Deployment enables declarative updates for Pods and ReplicaSets.",
)
