"""The resource spec: everything the API server, the clients and navctl know about one
kind, in one record (Kubernetes' generic registry: a ``registry.Store`` whose per-kind
behaviour is a strategy, plus what discovery, OpenAPI and ``kubectl get`` say about it).

A plugin builds one per kind and hands it to ``register`` in
``navarch_register_resources``; :class:`navarch.resources.registry.ResourceRegistry`
keeps them. This module imports nothing of the API server: clients import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from navarch.resources.fields import Getter
from navarch.resources.strategy import DEFAULT, Strategy

if TYPE_CHECKING:
    from navarch.api.meta import TopLevel
    from navarch.api.schema import Model
    from navarch.printers.cells import Printer

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
# Subresources the API server knows how to serve (each a small REST object of its own in
# navarch.apiserver.subresources / podproxy / eviction); a spec may list only these.
KNOWN_SUBRESOURCES = frozenset(
    {
        "status",
        "scale",
        "binding",
        "eviction",
        "finalize",
        "log",
        "exec",
        "attach",
        "portforward",
        "ephemeralcontainers",
    }
)


@runtime_checkable
class Unstructured(Protocol):
    """The strategy of a resource without a model (a CustomResourceDefinition's): its
    objects stay plain dicts, and this admits them — defaults, pruning and validation
    against its schema — in place of decoding into a model."""

    def admit_unstructured(
        self, obj: dict[str, Any], field_validation: str
    ) -> tuple[dict[str, Any], tuple[str, ...]]:
        """The object to store and the warnings for the client; raises
        :class:`navarch.api.errors.InvalidObject` with every error."""
        ...


@attrs.frozen
class ScalePaths:
    """Where the scale subresource finds its numbers (a CRD's ``subresources.scale``):
    dotted paths in the object. The label selector is a string (``a=b,c=d``) or a
    LabelSelector object (a Deployment's ``spec.selector``)."""

    spec_replicas: str = "spec.replicas"
    status_replicas: str = "status.replicas"
    label_selector: str = "spec.selector"


@attrs.frozen(eq=False)
class Resource:
    """One served resource. ``model`` is the attrs class objects decode into, and the
    source of its OpenAPI schema (a field typed ``Any`` or ``dict`` is an object with
    any fields); ``printer`` its Table columns (None: Name and Age); ``strategy`` what
    differs on its write path. ``model`` is None for unstructured objects (a
    CustomResourceDefinition's): their strategy is then :class:`Unstructured` and
    ``openapi_schema`` their OpenAPI v3 schema."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    model: type[TopLevel] | None = None
    singular: str = attrs.field(
        default=attrs.Factory(lambda self: self.kind.lower(), takes_self=True)
    )
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    strategy: Strategy = DEFAULT
    field_selectors: Mapping[str, Getter] = attrs.field(factory=dict)
    printer: Printer | None = None
    description: str = ""
    scale: ScalePaths | None = None
    verbs: tuple[str, ...] = ALL_VERBS
    openapi_schema: Mapping[str, Any] | None = None
    list_model: type[Model] | None = attrs.field(
        default=attrs.Factory(
            lambda self: list_kind(self.model) if self.model is not None else None,
            takes_self=True,
        )
    )

    @classmethod
    def for_model(cls, model: type[TopLevel], **fields: Any) -> Resource:
        """The spec of ``model``: group, version, kind, plural and scope from its class
        attributes (``API_VERSION``, ``KIND``, ``RESOURCE``, ``NAMESPACED``)."""
        group, _, version = model.API_VERSION.rpartition("/")
        if "scale" in fields.get("subresources", ()) and "scale" not in fields:
            fields["scale"] = ScalePaths()
        return cls(
            group=group,
            version=version,
            kind=model.KIND,
            plural=model.RESOURCE,
            namespaced=model.NAMESPACED,
            model=model,
            **fields,
        )

    @property
    def unstructured(self) -> bool:
        """Objects stay plain dicts, admitted by the strategy (no model)."""
        return self.model is None

    @property
    def has_status(self) -> bool:
        """Status is a subresource: the main resource ignores it."""
        return "status" in self.subresources

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    api_version = group_version

    @property
    def group_resource(self) -> str:
        """``deployments.apps``; ``pods`` for the core group."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def problems(self) -> list[str]:
        """What makes this spec unservable (the registry refuses it)."""
        out = []
        for name, value in (("version", self.version), ("kind", self.kind)):
            if not value:
                out.append(f"{name} is empty")
        if not self.plural or self.plural != self.plural.lower() or "/" in self.plural:
            out.append(f"plural {self.plural!r} must be a lower-case path segment")
        unknown = sorted(set(self.subresources) - KNOWN_SUBRESOURCES)
        if unknown:
            out.append(f"unknown subresources {unknown}; known: {sorted(KNOWN_SUBRESOURCES)}")
        if "scale" in self.subresources and self.scale is None:
            out.append("a scale subresource needs its paths (scale=ScalePaths(...))")
        if self.model is None:
            if not isinstance(self.strategy, Unstructured):
                out.append(
                    "it has no model and its strategy cannot admit unstructured objects: "
                    "give the attrs class its objects decode into, or a strategy with "
                    "admit_unstructured (navarch.resources.spec.Unstructured)"
                )
        elif (
            self.group_version,
            self.kind,
        ) != (self.model.API_VERSION, self.model.KIND):
            out.append(
                f"model {self.model.__name__} is {self.model.API_VERSION}/{self.model.KIND}, "
                f"not {self.group_version}/{self.kind}"
            )
        return out

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


def list_kind(cls: type[TopLevel]) -> type[Model]:
    """The ``<Kind>List`` class of ``cls`` (apiVersion, kind, metadata, items)."""
    from navarch.api.meta import ListMeta
    from navarch.api.schema import Model, wire

    fields = {"api_version": wire(), "kind": wire(), "metadata": wire(), "items": wire()}
    # made at run time: typed Any, as mypy sees no ITEM, KIND or API_VERSION on it
    list_cls: Any = attrs.make_class(
        f"{cls.KIND}List", fields, bases=(Model,), frozen=True, kw_only=True
    )
    # make_class has no annotations to resolve; give the converter the real types.
    list_cls.__annotations__ = {
        "api_version": str | None,
        "kind": str | None,
        "metadata": ListMeta | None,
        # a type made from a variable: right at run time, which is all the converter needs
        "items": tuple[cls, ...] | None,  # type: ignore[valid-type]
    }
    list_cls.ITEM = cls
    list_cls.KIND = f"{cls.KIND}List"
    list_cls.API_VERSION = cls.API_VERSION
    list_cls.__module__ = cls.__module__
    return list_cls
