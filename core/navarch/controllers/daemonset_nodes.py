"""Which nodes a DaemonSet's pod belongs on, and the pod it puts there (Kubernetes'
``NodeShouldRunDaemonPod``, ``AddOrUpdateDaemonPodTolerations`` and
``ReplaceDaemonSetPodNodeNameNodeAffinity``), without any I/O.

A node is eligible when the template's ``nodeName`` (if any), ``nodeSelector`` and
required node affinity match it and it has no NoSchedule or NoExecute taint the pod
does not tolerate. The pod tolerates, besides what its template says, the taints
Kubernetes tolerates for every daemon pod: a node not ready or unreachable
(NoExecute, for ever: a daemon stays on its node through a blip), under disk, memory
or PID pressure, cordoned, and for a ``hostNetwork`` pod a node whose network is not
ready (NoSchedule). A node tainted NoSchedule after the pod started keeps the pod
(``should_continue``); an untolerated NoExecute taint evicts it.

The pod is not bound by the controller: it gets a required node affinity naming its
node (``matchFields metadata.name In [node]``), and the scheduler binds it there, as in
Kubernetes, so the scheduler's resource and port checks still apply.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import attrs

from navarch import api
from navarch.api.apps_v1 import DaemonSet
from navarch.api.core_v1 import Node, NodeSelectorTerm, Pod, Toleration
from navarch.controllers.history import HASH_LABEL
from navarch.controllers.owners import owner_reference
from navarch.scheduler.filters import term_matches
from navarch.scheduler.framework import tolerates
from navarch.scheduler.nodeinfo import NodeInfo

NODE_NAME_FIELD = "metadata.name"

# Kubernetes' AddOrUpdateDaemonPodTolerations, in its order.
AUTOMATIC_TOLERATIONS: tuple[dict[str, str], ...] = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)
HOST_NETWORK_TOLERATION = {
    "key": "node.kubernetes.io/network-unavailable",
    "operator": "Exists",
    "effect": "NoSchedule",
}


def with_daemon_tolerations(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The template's tolerations plus the automatic ones (an automatic one replaces a
    template's toleration of the same key and effect, as Kubernetes' helper does)."""
    automatic = list(AUTOMATIC_TOLERATIONS)
    if spec.get("hostNetwork"):
        automatic.append(HOST_NETWORK_TOLERATION)
    replaced = {(t["key"], t["effect"]) for t in automatic}
    kept = [
        dict(t)
        for t in spec.get("tolerations") or []
        if isinstance(t, dict) and (t.get("key"), t.get("effect")) not in replaced
    ]
    return kept + [dict(t) for t in automatic]


@attrs.frozen
class Placement:
    """What a DaemonSet's pod asks of a node, read from its template once per sync."""

    node_name: str | None
    selector: Mapping[str, str]
    terms: tuple[NodeSelectorTerm, ...]
    tolerations: tuple[Toleration, ...]

    @classmethod
    def of(cls, ds: DaemonSet) -> Placement:
        template = ds.spec.template if ds.spec else None
        spec = template.spec if template else None
        affinity = spec.affinity.node_affinity if spec and spec.affinity else None
        required = (
            affinity.required_during_scheduling_ignored_during_execution if affinity else None
        )
        wire = api.dump(spec) if spec is not None else {}
        tolerations = tuple(
            Toleration(
                key=t.get("key"),
                operator=t.get("operator"),
                value=t.get("value"),
                effect=t.get("effect"),
            )
            for t in with_daemon_tolerations(wire)
        )
        return cls(
            node_name=spec.node_name if spec else None,
            selector=dict((spec.node_selector if spec else None) or {}),
            terms=tuple((required.node_selector_terms if required else None) or ()),
            tolerations=tolerations,
        )

    def should_run(self, node: Node) -> tuple[bool, bool]:
        """(whether a daemon pod should be started on ``node``, whether one already
        there may keep running)."""
        info = NodeInfo.of(node)
        if self.node_name and self.node_name != info.name:
            return False, False
        labels = info.labels
        if any(labels.get(k) != v for k, v in self.selector.items()):
            return False, False
        if self.terms and not any(term_matches(term, info) for term in self.terms):
            return False, False
        untolerated = [
            taint
            for taint in info.taints
            if taint.effect in ("NoSchedule", "NoExecute")
            and not any(tolerates(t, taint) for t in self.tolerations)
        ]
        if not untolerated:
            return True, True
        return False, not any(taint.effect == "NoExecute" for taint in untolerated)


def target_node(pod: Pod) -> str | None:
    """The node a daemon pod is for: its ``nodeName`` once bound, else the node its
    required affinity names (Kubernetes' GetTargetNodeName), so a pod the scheduler has
    not bound yet still counts for its node."""
    spec = pod.spec
    if spec is None:
        return None
    if spec.node_name:
        return spec.node_name
    affinity = spec.affinity.node_affinity if spec.affinity else None
    required = affinity.required_during_scheduling_ignored_during_execution if affinity else None
    for term in (required.node_selector_terms if required else None) or ():
        for field in term.match_fields or ():
            if field.key == NODE_NAME_FIELD and field.operator == "In" and field.values:
                return field.values[0] if len(field.values) == 1 else None
    return None


def pod_for_node(ds: DaemonSet, node_name: str, hash_: str) -> dict[str, Any]:
    """The pod the DaemonSet's template describes for ``node_name``: owned by the
    DaemonSet, labelled with the revision's hash, tolerating what daemon pods
    tolerate, and required (by node affinity, replacing the template's required terms,
    which the controller has already checked) to land on that node."""
    template = api.dump(ds.spec.template) if ds.spec and ds.spec.template else {}
    meta = template.get("metadata") or {}
    spec = copy.deepcopy(template.get("spec") or {})
    spec["tolerations"] = with_daemon_tolerations(spec)
    affinity = spec.setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
        "nodeSelectorTerms": [
            {"matchFields": [{"key": NODE_NAME_FIELD, "operator": "In", "values": [node_name]}]}
        ]
    }
    labels = dict(meta.get("labels") or {})
    labels[HASH_LABEL] = hash_
    metadata: dict[str, Any] = {
        "generateName": f"{ds.name}-",
        "namespace": ds.namespace,
        "labels": labels,
        "ownerReferences": [owner_reference(ds)],
    }
    if meta.get("annotations"):
        metadata["annotations"] = dict(meta["annotations"])
    if meta.get("finalizers"):
        metadata["finalizers"] = list(meta["finalizers"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}
