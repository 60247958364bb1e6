"""Discovery documents (/api, /apis, /api/v1, /apis/<group>/<version>), /version, Scale."""

from __future__ import annotations

from typing import Any

from navarch.apiserver import accessreview
from navarch.resources.registry import registry
from navarch.resources.spec import Resource, ScalePaths

KUBERNETES_MINOR = "31"  # the Kubernetes API level whose subset Navarch serves
_SUBRESOURCE_VERBS = {
    "status": ["get", "patch", "update"],
    "scale": ["get", "patch", "update"],
    "binding": ["create"],
    "eviction": ["create"],
    "finalize": ["update"],
    "log": ["get"],
    "exec": ["create", "get"],
    "attach": ["create", "get"],
    "portforward": ["create", "get"],
    "ephemeralcontainers": ["get", "patch", "update"],
}
# The kind discovery names for a subresource whose body is not the resource itself.
_SUBRESOURCE_KINDS = {
    "binding": "Binding",
    "exec": "PodExecOptions",
    "attach": "PodAttachOptions",
    "portforward": "PodPortForwardOptions",
}


def version(navarch_version: str) -> dict[str, Any]:
    return {
        "major": "1",
        "minor": KUBERNETES_MINOR,
        "gitVersion": f"v1.{KUBERNETES_MINOR}.0+navarch-{navarch_version}",
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "python",
        "platform": "linux/amd64",
    }


def api_versions(address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    }


def _group_doc(name: str, resources: list[Resource]) -> dict[str, Any]:
    versions = sorted({r.version for r in resources})
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def _review_group_doc() -> dict[str, Any]:
    """authorization.k8s.io: only SelfSubjectAccessReview, which is not stored."""
    entry = {"groupVersion": f"{accessreview.GROUP}/{accessreview.VERSION}"}
    entry["version"] = accessreview.VERSION
    return {"name": accessreview.GROUP, "versions": [entry], "preferredVersion": entry}


def api_groups() -> dict[str, Any]:
    docs = [_group_doc(name, rs) for name, rs in registry().groups().items() if name]
    docs.append(_review_group_doc())
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": docs}


def api_group(name: str) -> dict[str, Any] | None:
    if name == accessreview.GROUP:
        return {"kind": "APIGroup", "apiVersion": "v1", **_review_group_doc()}
    resources = registry().groups().get(name)
    if not name or not resources:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(name, resources)}


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    if (group, version) == (accessreview.GROUP, accessreview.VERSION):
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}",
            "resources": [dict(accessreview.DISCOVERY_ENTRY)],
        }
    served = [r for r in registry() if r.group == group and r.version == version]
    if not served:
        return None
    entries: list[dict[str, Any]] = []
    for r in served:
        entries.append(
            {
                "name": r.plural,
                "singularName": r.singular,
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": list(r.verbs),
                "shortNames": list(r.short_names),
                **({"categories": list(r.categories)} if r.categories else {}),
            }
        )
        for sub in r.subresources:
            entry = {
                "name": f"{r.plural}/{sub}",
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": _SUBRESOURCE_VERBS[sub],
            }
            if sub == "scale":
                entry.update(group="autoscaling", version="v1", kind="Scale")
            if sub == "eviction":  # kubectl drain looks for this group/version to evict
                entry.update(group="policy", version="v1", kind="Eviction")
            if sub in _SUBRESOURCE_KINDS:
                entry["kind"] = _SUBRESOURCE_KINDS[sub]
            entries.append(entry)
    group_version = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": entries,
    }


def scale_of(obj: dict[str, Any], paths: ScalePaths) -> dict[str, Any]:
    """The autoscaling/v1 Scale view of an object with a scale subresource (a
    Deployment, a ReplicaSet), its numbers read at the spec's ``paths``."""
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": _at(obj, paths.spec_replicas) or 0},
        "status": {
            "replicas": _at(obj, paths.status_replicas) or 0,
            "selector": _selector_text(_at(obj, paths.label_selector)),
        },
    }


def set_scale(obj: dict[str, Any], paths: ScalePaths, replicas: int) -> None:
    """Write ``replicas`` at the spec-replicas path of ``obj`` (in place)."""
    *parents, last = paths.spec_replicas.split(".")
    node = obj
    for key in parents:
        child = node.get(key)
        node[key] = child = {**child} if isinstance(child, dict) else {}
        node = child
    node[last] = replicas


def _at(obj: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def _selector_text(selector: Any) -> str:
    """A label selector as text: as given when it is one (a CRD's status.selector), else
    a LabelSelector's matchLabels (a Deployment's spec.selector)."""
    if isinstance(selector, str):
        return selector
    match_labels = (selector or {}).get("matchLabels") or {} if isinstance(selector, dict) else {}
    return ",".join(f"{k}={v}" for k, v in sorted(match_labels.items()))
