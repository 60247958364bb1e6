"""Pods (``/api/v1/pods``): how the API server serves them."""

from __future__ import annotations

from typing import Any

from navarch import api
from navarch.api.core_v1 import Pod
from navarch.api.defaults import default_pod
from navarch.api.errors import FieldError
from navarch.api.validation import ephemeral
from navarch.api.validation.pods import validate_pod
from navarch.printers.pods import POD_PRINTER
from navarch.resources.fields import dotted, flag
from navarch.resources.spec import Resource
from navarch.resources.strategy import DELETE_DEPENDENTS, Obj, Strategy


class PodStrategy(Strategy):
    has_status = True
    tracks_generation = True
    removes_without_finalizers = False  # the agent confirms, or the grace period ends
    garbage_collection = DELETE_DEPENDENTS
    initial_status: Obj = {"phase": "Pending"}

    def default(self, obj: Obj) -> None:
        default_pod(obj)

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_pod(obj)

    def validate_create(self, new: Any) -> list[FieldError]:
        return ephemeral.forbidden_on_create(new)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return api.pod_update_errors(old, new)

    def validate_subresource_update(self, subresource: str, new: Any, old: Any) -> list[FieldError]:
        if subresource == "ephemeralcontainers":
            return ephemeral.ephemeral_update_errors(old, new)
        return []

    def grace_period(self, obj: Obj, requested: Any) -> int | None:
        """Seconds a pod bound to a node is given to stop (None: delete at once)."""
        if not (obj.get("spec") or {}).get("nodeName"):
            return None
        if (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return None  # nothing left running to stop
        if requested is not None:
            if not isinstance(requested, int) or isinstance(requested, bool) or requested < 0:
                from navarch.apiserver import errors  # only the server deletes

                raise errors.bad_request(
                    f"gracePeriodSeconds must be a non-negative integer, got {requested!r}"
                )
            return requested or None
        return (obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30) or None


def _pod_ip(obj: dict[str, Any]) -> str:
    # Kubernetes selects on the first of status.podIPs (the primary IP), which is podIP.
    status = obj.get("status") or {}
    ips = status.get("podIPs") or []
    if ips and isinstance(ips[0], dict) and ips[0].get("ip"):
        return str(ips[0]["ip"])
    return str(status.get("podIP") or "")


PODS = Resource.for_model(
    Pod,
    short_names=("po",),
    categories=("all",),
    subresources=(
        "status",
        "binding",
        "eviction",
        "log",
        "exec",
        "attach",
        "portforward",
        "ephemeralcontainers",
    ),
    strategy=PodStrategy(),
    field_selectors={
        **dotted(
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
        ),
        "spec.hostNetwork": flag("spec", "hostNetwork"),
        **dotted("status.phase"),
        "status.podIP": _pod_ip,
        **dotted("status.nominatedNodeName"),
    },
    printer=POD_PRINTER,
    description="Pod is a collection of containers that can run on a host.",
)
