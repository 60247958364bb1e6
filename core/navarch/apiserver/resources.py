"""The resources the API serves: where each kind lives in the URL space and the store,
and what discovery says about it."""

from __future__ import annotations

import attrs

from navarch.api.apps_v1 import Deployment, ReplicaSet
from navarch.api.coordination_v1 import Lease
from navarch.api.core_v1 import Event, Namespace, Node, Pod
from navarch.api.meta import TopLevel

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@attrs.frozen
class Resource:
    group: str
    version: str
    plural: str
    kind_cls: type[TopLevel]
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()  # "status", "binding", "eviction", "scale", "log", "exec"
    has_status: bool = False  # status is a subresource: the main resource ignores it

    @property
    def kind(self) -> str:
        return self.kind_cls.KIND

    @property
    def namespaced(self) -> bool:
        return self.kind_cls.NAMESPACED

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def url_path(self, namespace: str | None = None, name: str = "", subresource: str = "") -> str:
        """The URL path of the collection (in ``namespace``), an object or its
        subresource: ``/apis/apps/v1/namespaces/default/deployments/web/scale``."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        path = f"{base}/{self.plural}"
        if name:
            path += f"/{name}"
        if subresource:
            path += f"/{subresource}"
        return path

    def store_prefix(self, namespace: str = "") -> bytes:
        base = f"/registry/{self.group or 'core'}/{self.plural}/"
        return (base + f"{namespace}/" if namespace else base).encode()

    def store_key(self, namespace: str, name: str) -> bytes:
        if self.namespaced:
            return f"/registry/{self.group or 'core'}/{self.plural}/{namespace}/{name}".encode()
        return f"/registry/{self.group or 'core'}/{self.plural}/{name}".encode()


RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "namespaces", Namespace, ("ns",), ("status", "finalize"), has_status=True),
    Resource(
        "",
        "v1",
        "pods",
        Pod,
        ("po",),
        ("status", "binding", "eviction", "log", "exec", "attach", "ephemeralcontainers"),
        has_status=True,
    ),
    Resource("", "v1", "nodes", Node, ("no",), ("status",), has_status=True),
    Resource("", "v1", "events", Event, ("ev",)),
    Resource(
        "apps", "v1", "replicasets", ReplicaSet, ("rs",), ("status", "scale"), has_status=True
    ),
    Resource(
        "apps", "v1", "deployments", Deployment, ("deploy",), ("status", "scale"), has_status=True
    ),
    Resource("coordination.k8s.io", "v1", "leases", Lease),
)
BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
BY_KIND = {r.kind: r for r in RESOURCES}


def groups() -> dict[str, list[Resource]]:
    """API group name ('' for core) -> its resources."""
    out: dict[str, list[Resource]] = {}
    for resource in RESOURCES:
        out.setdefault(resource.group, []).append(resource)
    return out
