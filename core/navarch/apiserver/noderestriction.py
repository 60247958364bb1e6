"""NodeRestriction: what a node may write about itself (Kubernetes' admission plugin of
that name). The authoriser lets a node update its own Node; this plugin decides which
changes of it are allowed. A node may not:

* create a Node or Lease other than its own;
* change its own taints, or cordon or uncordon itself (``spec.unschedulable``): those
  are the administrator's and the controllers' decisions;
* set, change or remove labels in the ``kubernetes.io`` / ``k8s.io`` namespaces other
  than the ones kubelet itself sets (hostname, os, arch, instance type, topology, and
  the ``kubelet.kubernetes.io/`` and ``node.kubernetes.io/`` prefixes) — in particular
  ``node-role.kubernetes.io/*`` and ``node-restriction.kubernetes.io/*``, which exist so
  that workloads can trust them.

A refusal is 403 Forbidden, as in Kubernetes (not 422: the object is valid, the writer
is not allowed to make it).
"""

from __future__ import annotations

from typing import Any

from navarch import hookimpl
from navarch.admission import CREATE, UPDATE, AdmissionRequest, handles
from navarch.apiserver import errors
from navarch.apiserver.auth import NODE

_ALLOWED_LABELS = frozenset(
    {
        "kubernetes.io/hostname",
        "kubernetes.io/arch",
        "kubernetes.io/os",
        "beta.kubernetes.io/arch",
        "beta.kubernetes.io/os",
        "beta.kubernetes.io/instance-type",
        "node.kubernetes.io/instance-type",
        "failure-domain.beta.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "topology.kubernetes.io/zone",
    }
)
_ALLOWED_LABEL_PREFIXES = ("kubelet.kubernetes.io/", "node.kubernetes.io/")


def restricted_label(key: str) -> bool:
    """Whether a node may not set or remove this label on itself."""
    if "/" not in key:
        return False
    domain = key.split("/", 1)[0]
    in_k8s = domain in ("kubernetes.io", "k8s.io") or domain.endswith((".kubernetes.io", ".k8s.io"))
    if not in_k8s:
        return False
    if key.startswith("node-restriction.kubernetes.io/"):
        return True
    return key not in _ALLOWED_LABELS and not key.startswith(_ALLOWED_LABEL_PREFIXES)


@hookimpl
@handles(kinds=("Node", "Lease"), operations=(CREATE, UPDATE))
def navarch_admission_validate(request: AdmissionRequest) -> None:
    user = request.user
    if user is None or getattr(user, "role", None) != NODE:
        return None
    node = user.node_name
    obj, old = request.obj, request.old
    name = obj.metadata.name if obj is not None and obj.metadata is not None else ""
    resource = "nodes" if request.kind == "Node" else "leases"
    group = "" if request.kind == "Node" else "coordination.k8s.io"

    def refuse(why: str) -> None:
        raise errors.forbidden(
            user.name, request.operation.lower(), resource, group, "", name or "", why
        )

    if name != node:
        refuse(f"a node may only write its own {request.kind} ({node})")
    if request.kind != "Node":
        return None
    labels = dict(obj.metadata.labels or {})
    old_labels = dict(old.metadata.labels or {}) if old is not None and old.metadata else {}
    changed = {k for k in labels.keys() | old_labels.keys() if labels.get(k) != old_labels.get(k)}
    forbidden = sorted(k for k in changed if restricted_label(k))
    if forbidden:
        refuse(f"a node may not set or remove the labels {', '.join(forbidden)} on itself")
    if old is not None:
        spec, old_spec = obj.spec, old.spec
        if _taints(spec) != _taints(old_spec):
            refuse(f"node {node!r} is not allowed to modify taints")
        if bool(spec and spec.unschedulable) != bool(old_spec and old_spec.unschedulable):
            refuse(f"node {node!r} is not allowed to cordon or uncordon itself")
    return None


def _taints(spec: Any) -> tuple[Any, ...]:
    return tuple(spec.taints or ()) if spec is not None else ()
