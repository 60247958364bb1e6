"""The OpenAPI documents kubectl downloads: v3 per group-version, v2 for everything.

What kubectl does with them:

- ``kubectl apply/create`` validates a manifest before sending it. It first reads the
  v3 document of the manifest's group-version: a PATCH operation for the kind that
  takes the ``fieldValidation`` parameter means the server validates, and kubectl
  sends the object as is. For a kind the document does not describe (a Service on
  Navarch) it validates against the v2 document instead, finds no schema for the kind,
  and goes on to say ``no matches for kind "Service" in version "v1"``. Without a v2
  document it stops at "failed to download openapi".
- ``kubectl explain pods.spec.containers`` walks the v3 schemas.
- ``kubectl apply`` computes its strategic merge patch from the v3 schemas: each list
  carries ``x-kubernetes-patch-merge-key``/``-strategy`` from the table the server
  merges with (``patch.MERGE_KEYS``), so client and server agree on every list; and
  ``x-kubernetes-list-type`` (``map`` with its keys, ``set`` or ``atomic``) from the
  table server-side apply merges with (``apply.schema``).

The schemas are generated from the object model (the attrs classes of ``navarch.api``):
one definition per model class, named as Kubernetes names it
(``io.k8s.api.core.v1.PodSpec``), each top-level kind tagged with
``x-kubernetes-group-version-kind``. Their descriptions are Kubernetes' own
(``openapi_descriptions.json``, written by ``tools/openapi_descriptions.py`` from the
official Python client's models, Apache-2.0): ``kubectl explain`` prints them.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import types
import typing
from pathlib import Path
from typing import Any

import attrs
import orjson

from navarch.api.quantity import Quantity
from navarch.api.schema import Model
from navarch.apiserver import openapi_proto, patch
from navarch.apiserver.apply import schema as apply_schema
from navarch.resources.registry import Change, registry
from navarch.resources.spec import Resource

V3_REF = "#/components/schemas/"
V2_REF = "#/definitions/"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1"
_PACKAGES = {
    "navarch.api.meta": _META,
    "navarch.api.apps_v1": "io.k8s.api.apps.v1",
    "navarch.api.batch_v1": "io.k8s.api.batch.v1",
    "navarch.api.coordination_v1": "io.k8s.api.coordination.v1",
    "navarch.api.storage_v1": "io.k8s.api.storage.v1",
    "navarch.api.networking_v1": "io.k8s.api.networking.v1",
    "navarch.apiextensions.v1": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1",
}
_CORE = "io.k8s.api.core.v1"  # core_v1 and the modules that split it (pod parts)

# Fields Kubernetes requires, as its schemas say (``kubectl explain`` marks them).
REQUIRED = {
    "Container": ("name",),
    "PodSpec": ("containers",),
    "EnvVar": ("name",),
    "ContainerPort": ("containerPort",),
    "OwnerReference": ("apiVersion", "kind", "name", "uid"),
    "LabelSelectorRequirement": ("key", "operator"),
    "NodeSelectorRequirement": ("key", "operator"),
    "NodeSelector": ("nodeSelectorTerms",),
    "PreferredSchedulingTerm": ("weight", "preference"),
    "Taint": ("key", "effect"),
    "PodCondition": ("type", "status"),
    "NodeCondition": ("type", "status"),
    "NodeAddress": ("type", "address"),
    "ContainerStatus": ("name", "ready", "restartCount", "image", "imageID"),
    "ReplicaSetSpec": ("selector",),
    "DeploymentSpec": ("selector", "template"),
    "ReplicaSetCondition": ("type", "status"),
    "DeploymentCondition": ("type", "status"),
    "Event": ("metadata", "involvedObject"),
    "Volume": ("name",),
    "VolumeMount": ("name", "mountPath"),
}
# Fields whose patches carry $retainKeys in Kubernetes (patchStrategy "retainKeys"): a
# patch that changes a Deployment's strategy type drops the old type's settings.
RETAIN_KEYS = {
    ("DeploymentSpec", "strategy"): "retainKeys",
    ("PodSpec", "volumes"): "merge,retainKeys",
    ("PodSpec", "resourceClaims"): "merge,retainKeys",
}
_FIELD_DOCS = {
    "apiVersion": "APIVersion defines the versioned schema of this representation of an object.",
    "kind": "Kind is a string value representing the REST resource this object represents.",
    "metadata": "Standard object's metadata.",
    "spec": "The desired state of the object.",
    "status": "The most recently observed state of the object; written by the system.",
    "items": "The objects of the list.",
}
_KEPT = "Stored and returned as given; Navarch does not act on it."
DESCRIPTIONS = Path(__file__).with_name("openapi_descriptions.json")
_PATCH_TYPES = (patch.JSON, patch.MERGE, patch.STRATEGIC, "application/apply-patch+yaml")
_QUERY = ("dryRun", "fieldManager", "fieldValidation", "pretty")


def definition_name(cls: type) -> str:
    module = getattr(cls, "ITEM", cls).__module__  # a List kind lives beside its items
    package = _PACKAGES.get(module) or _plugin_packages().get(module, _CORE)
    return f"{package}.{cls.__name__}"


def _plugin_packages() -> dict[str, str]:
    """A plugin's model module -> the definition prefix of its group-version
    (``example.navarch.io/v1`` -> ``io.navarch.example.v1``, as Kubernetes names a
    custom resource's), so its types never take a core name."""
    return {
        r.model.__module__: _reversed_group(r)
        for r in registry()
        if r.model is not None and r.model.__module__ not in _PACKAGES and r.group
    }


def _reversed_group(res: Resource) -> str:
    return ".".join([*reversed(res.group.split(".")), res.version])


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


# --- schemas from the model ----------------------------------------------------------------


@functools.cache
def schemas() -> dict[str, dict[str, Any]]:
    """Every definition, v3 form (``$ref`` to ``#/components/schemas/``), by name, with
    Kubernetes' descriptions."""
    described = _descriptions()
    return {
        name: _describe(schema, described.get(name, {}), described)
        for name, schema in model_schemas().items()
    }


@functools.cache
def model_schemas() -> dict[str, dict[str, Any]]:
    """The definitions as the object model gives them, before Kubernetes' descriptions
    (what ``tools/openapi_descriptions.py`` looks the descriptions up for)."""
    out: dict[str, dict[str, Any]] = {}
    docs = {r.kind: r.description for r in registry() if r.description}
    from navarch.api.meta import ObjectMeta

    meta = definition_name(ObjectMeta)
    for res in registry():
        if res.model is None:  # unstructured: the schema it was given (a CRD's)
            out[_kind_name(res)] = _custom_schema(res, V3_REF + meta)
            out[_kind_name(res, "List")] = _custom_list_schema(res)
            continue
        assert res.list_model is not None  # made from the model
        _define(res.model, out, docs)
        _define(res.list_model, out, docs)
    return dict(sorted(out.items()))


def _custom_schema(res: Resource, meta_ref: str) -> dict[str, Any]:
    """An unstructured kind's schema: its own (a CRD version's openAPIV3Schema) with
    apiVersion, kind and metadata as every object has them."""
    schema = copy.deepcopy(dict(res.openapi_schema or {"type": "object"}))
    properties = schema.setdefault("properties", {})
    properties["apiVersion"] = {"type": "string"}
    properties["kind"] = {"type": "string"}
    properties["metadata"] = {"$ref": meta_ref}
    schema["type"] = "object"
    schema["x-kubernetes-group-version-kind"] = [_res_gvk(res)]
    return schema


def _custom_list_schema(res: Resource) -> dict[str, Any]:
    from navarch.api.meta import ListMeta

    return {
        "type": "object",
        "description": f"{res.kind}List is a list of {res.kind}",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"$ref": V3_REF + definition_name(ListMeta)},
            "items": {"type": "array", "items": {"$ref": V3_REF + _kind_name(res)}},
        },
        "x-kubernetes-group-version-kind": [{**_res_gvk(res), "kind": f"{res.kind}List"}],
    }


# What a v2 (Swagger) schema keeps of a v3 one: Kubernetes publishes custom resources'
# v2 schemas without v3-only keywords (nullable, anyOf, oneOf, not ...).
_V2_KEYWORDS = frozenset(
    {
        "$ref",
        "type",
        "format",
        "description",
        "properties",
        "items",
        "required",
        "enum",
        "maximum",
        "minimum",
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "x-kubernetes-group-version-kind",
        "x-kubernetes-preserve-unknown-fields",
    }
)


def _v2_custom(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in _V2_KEYWORDS:
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _v2_custom(sub) for name, sub in value.items()}
        elif key == "items":
            out[key] = _v2_custom(value)
        else:
            out[key] = value
    return out


def _kind_name(res: Resource, suffix: str = "") -> str:
    """The definition name of ``res``'s kind (``suffix="List"``: of its List)."""
    if res.model is None:  # unstructured: named as Kubernetes names a custom resource's
        return f"{_reversed_group(res)}.{res.kind}{suffix}"
    model = res.list_model if suffix else res.model
    assert model is not None  # made from the model
    return definition_name(model)


def _descriptions() -> dict[str, Any]:
    try:
        data = orjson.loads(DESCRIPTIONS.read_bytes())
    except FileNotFoundError:  # a broken install: schemas without descriptions still work
        return {}
    definitions: dict[str, Any] = data["definitions"]
    return definitions


def _describe(
    schema: dict[str, Any], described: dict[str, Any], everything: dict[str, Any]
) -> dict[str, Any]:
    """``schema`` with the definition's and its fields' descriptions. A description
    beside a reference goes in an allOf wrapper (OpenAPI 3 ignores a ``$ref``'s
    siblings), as in Kubernetes' own documents. A reference whose field has no
    description of its own (the client's models drop those) takes its type's: what
    ``kubectl explain`` prints for the field itself."""
    schema = copy.deepcopy(schema)
    if described.get("description"):
        schema["description"] = described["description"]
    fields = described.get("fields", {})
    for wire, prop in schema.get("properties", {}).items():
        text = fields.get(wire) or _type_description(prop, everything)
        if not text:
            continue
        if prop.get("description") == _KEPT:
            text = f"{text}\n\n{_KEPT}"
        if "$ref" in prop:
            prop["allOf"] = [{"$ref": prop.pop("$ref")}]
        prop["description"] = text
    return schema


def _type_description(prop: dict[str, Any], everything: dict[str, Any]) -> str:
    ref = prop.get("$ref") or next((r["$ref"] for r in prop.get("allOf", ())), "")
    found: str = everything.get(ref.removeprefix(V3_REF), {}).get("description", "")
    return found


def _define(cls: type, out: dict[str, dict[str, Any]], docs: dict[str, str] | None = None) -> str:
    name = definition_name(cls)
    if name in out:
        return name
    out[name] = {}  # placed first: model types may refer to themselves
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    for field in attrs.fields(cls):
        if field.name == "unmodeled":
            continue
        wire = field.metadata.get("wire") or _camel(field.name)
        prop = _field_schema(wire, hints.get(field.name, field.type), out)
        if (cls.__name__, wire) in RETAIN_KEYS:
            # Beside a reference it goes in an allOf wrapper, as in Kubernetes' documents.
            if "$ref" in prop:
                prop = {"allOf": [{"$ref": prop["$ref"]}]}
            prop["x-kubernetes-patch-strategy"] = RETAIN_KEYS[(cls.__name__, wire)]
        if field.metadata.get("kept"):
            prop.setdefault("description", _KEPT)
        elif wire in _FIELD_DOCS and "$ref" not in prop:
            prop.setdefault("description", _FIELD_DOCS[wire])
        properties[wire] = prop
    for wire in sorted(getattr(cls, "KUBERNETES_ONLY", ())):
        if wire not in properties:
            properties[wire] = _verbatim(wire)
            if (cls.__name__, wire) in RETAIN_KEYS:
                properties[wire]["x-kubernetes-patch-strategy"] = RETAIN_KEYS[(cls.__name__, wire)]
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    doc = (cls.__doc__ or "").strip()
    if doc and not doc.startswith(f"{cls.__name__}("):  # attrs' generated signature
        schema["description"] = " ".join(doc.split("\n\n")[0].split())
    required = [f for f in REQUIRED.get(cls.__name__, ()) if f in properties]
    if required:
        schema["required"] = required
    gvk = _gvk(cls)
    if gvk is not None:
        schema["x-kubernetes-group-version-kind"] = [gvk]
        kind = gvk["kind"]
        schema.setdefault(
            "description",
            (docs or {}).get(kind) or f"{kind} is a list of {kind.removesuffix('List')} objects.",
        )
    out[name] = schema
    return name


def _res_gvk(res: Resource) -> dict[str, str]:
    return {"group": res.group, "kind": res.kind, "version": res.version}


def _gvk(cls: type) -> dict[str, str] | None:
    api_version, kind = getattr(cls, "API_VERSION", ""), getattr(cls, "KIND", "")
    if not api_version or not kind:
        return None
    group, _, version = api_version.rpartition("/")
    return {"group": group, "kind": kind, "version": version}


def _field_schema(wire: str, tp: Any, out: dict[str, dict[str, Any]]) -> dict[str, Any]:
    schema = _type_schema(tp, out)
    if schema.get("type") == "array":
        if wire in patch.MERGE_KEYS:
            schema["x-kubernetes-patch-merge-key"] = patch.MERGE_KEYS[wire]
            schema["x-kubernetes-patch-strategy"] = "merge"
        elif wire in patch.MERGED_SCALAR_LISTS:
            schema["x-kubernetes-patch-strategy"] = "merge"
        schema.update(_list_type(wire))
    return schema


def _list_type(wire: str) -> dict[str, Any]:
    """How server-side apply treats the list ``wire`` (Kubernetes' ``+listType``): a map
    keyed by some of its items' fields, a set of scalars, or atomic (replaced whole, as a
    Node's ``taints`` and a pod's ``tolerations`` are)."""
    if wire in apply_schema.LIST_MAP_KEYS:
        return {
            "x-kubernetes-list-map-keys": list(apply_schema.LIST_MAP_KEYS[wire]),
            "x-kubernetes-list-type": "map",
        }
    if wire in apply_schema.SET_LISTS:
        return {"x-kubernetes-list-type": "set"}
    return {"x-kubernetes-list-type": "atomic"}


def _type_schema(tp: Any, out: dict[str, dict[str, Any]]) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        options = [t for t in typing.get_args(tp) if t is not type(None)]
        if set(options) == {int, str}:
            return {"type": "string", "format": "int-or-string", "x-kubernetes-int-or-string": True}
        return _type_schema(options[0], out) if len(options) == 1 else _anything()
    if isinstance(tp, type) and issubclass(tp, Model):
        return {"$ref": V3_REF + _define(tp, out)}
    if origin is tuple:
        return {"type": "array", "items": _type_schema(typing.get_args(tp)[0], out)}
    if origin is dict:
        return {"type": "object", "additionalProperties": _type_schema(typing.get_args(tp)[1], out)}
    simple = {
        str: {"type": "string"},
        bool: {"type": "boolean"},
        int: {"type": "integer", "format": "int64"},
        float: {"type": "number", "format": "double"},
        Quantity: {"type": "string", "format": "quantity"},
    }.get(tp)
    return dict(simple) if simple is not None else _anything()


def _anything() -> dict[str, Any]:
    return {"x-kubernetes-preserve-unknown-fields": True}


def _verbatim(wire: str) -> dict[str, Any]:
    """A field Kubernetes has that the model keeps verbatim: any shape, but a keyed list
    still merges by its key."""
    if wire in patch.MERGE_KEYS:
        return {
            "type": "array",
            "description": _KEPT,
            "items": {"type": "object", **_anything()},
            "x-kubernetes-patch-merge-key": patch.MERGE_KEYS[wire],
            "x-kubernetes-patch-strategy": "merge",
            **_list_type(wire),
        }
    return {"description": _KEPT, **_anything()}


def _v2(value: Any) -> Any:
    """A v3 schema in v2 form: references to ``#/definitions/``, and an allOf of one
    reference (v3's way to put extensions beside it) a plain reference."""
    if isinstance(value, dict):
        all_of = value.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and set(all_of[0]) == {"$ref"}:
            value = {**{k: v for k, v in value.items() if k != "allOf"}, **all_of[0]}
        return {k: (v.replace(V3_REF, V2_REF) if k == "$ref" else _v2(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_v2(v) for v in value]
    return value


# --- paths -----------------------------------------------------------------------------------


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _collection_path(res: Resource) -> str:
    base = f"/{_gv_path(res.group, res.version)}"
    if res.namespaced:
        return f"{base}/namespaces/{{namespace}}/{res.plural}"
    return f"{base}/{res.plural}"


def _operations(res: Resource, ref: str) -> dict[str, dict[str, Any]]:
    """Path -> method -> (action, body media types or None, response $ref)."""
    kind_ref, list_ref = (
        ref + _kind_name(res),
        ref + _kind_name(res, "List"),
    )
    collection = _collection_path(res)
    item = f"{collection}/{{name}}"
    json_body = ("application/json",)
    paths: dict[str, dict[str, Any]] = {
        collection: {
            "get": ("list", None, list_ref),
            "post": ("post", json_body, kind_ref),
            "delete": ("deletecollection", None, None),
        },
        item: {
            "get": ("get", None, kind_ref),
            "put": ("put", json_body, kind_ref),
            "patch": ("patch", _patch_types(res), kind_ref),
            "delete": ("delete", None, None),
        },
    }
    if "status" in res.subresources:
        paths[f"{item}/status"] = {
            "get": ("get", None, kind_ref),
            "put": ("put", json_body, kind_ref),
            "patch": ("patch", _patch_types(res), kind_ref),
        }
    return paths


def _patch_types(res: Resource) -> tuple[str, ...]:
    """kubectl apply sends a strategic merge patch to a kind whose v3 document lists
    it; an unstructured kind takes none (Kubernetes' custom resources neither)."""
    if res.unstructured:
        return tuple(t for t in _PATCH_TYPES if t != patch.STRATEGIC)
    return _PATCH_TYPES


def _v3_operation(res: Resource, action: str, body: Any, response: str | None) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": f"{action}{res.kind}",
        "parameters": [
            {"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
            for n in _QUERY
        ],
        "responses": {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": {"$ref": response}}} if response else {},
            }
        },
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _res_gvk(res),
    }
    if body:
        schema = {"$ref": V3_REF + _kind_name(res)}
        if action == "patch":
            schema = {"type": "object", **_anything()}
        operation["requestBody"] = {"content": {m: {"schema": schema} for m in body}}
    return operation


def _v2_operation(res: Resource, action: str, body: Any, response: str | None) -> dict[str, Any]:
    # No fieldValidation here, unlike Kubernetes' v2 document. kubectl reads v2 only for a
    # kind the v3 documents lack (one Navarch does not serve); if the v2 Namespace says
    # the server validates fields, kubectl concludes the kind must be a custom resource
    # and lists CustomResourceDefinitions, which Navarch does not serve either, and fails
    # there. Without it, kubectl validates locally, finds no schema for the kind, and
    # says "no matches for kind". Served kinds are judged by their v3 documents.
    parameters: list[dict[str, Any]] = [
        {"name": n, "in": "query", "type": "string", "uniqueItems": True}
        for n in _QUERY
        if n != "fieldValidation"
    ]
    if body:
        schema = {"$ref": V2_REF + _kind_name(res)}
        if action == "patch":
            schema = {"type": "object"}
        parameters.insert(0, {"name": "body", "in": "body", "required": True, "schema": schema})
    ok: dict[str, Any] = {"description": "OK"}
    if response:
        ok["schema"] = {"$ref": response}
    return {
        "operationId": f"{action}{res.kind}",
        "consumes": list(body) if body else [],
        "produces": ["application/json"],
        "parameters": parameters,
        "responses": {"200": ok},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _res_gvk(res),
    }


def _path_parameters(path: str) -> list[dict[str, Any]]:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    return [{"name": n, "in": "path", "required": True} for n in names]


# --- documents -------------------------------------------------------------------------------


@functools.cache
def document(group: str, version: str) -> dict[str, Any] | None:
    """The v3 document of one group-version (``/openapi/v3/api/v1``), None if not served.

    It holds the schemas of every kind: references cross group-versions (a Deployment's
    pod template is a core/v1 PodTemplateSpec), as in Kubernetes' own documents."""
    served = [r for r in registry() if (r.group, r.version) == (group, version)]
    if not served:
        return None
    paths: dict[str, Any] = {}
    for res in served:
        for path, methods in _operations(res, V3_REF).items():
            paths[path] = {
                "parameters": [{**p, "schema": {"type": "string"}} for p in _path_parameters(path)],
                **{m: _v3_operation(res, *spec) for m, spec in methods.items()},
            }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Navarch", "version": version},
        "paths": paths,
        "components": {"schemas": schemas()},
    }


@functools.cache
def document_v2(kubernetes_version: str = "v1.31.0") -> dict[str, Any]:
    """The whole API as one OpenAPI (Swagger) 2.0 document (``/openapi/v2``)."""
    paths: dict[str, Any] = {}
    for res in registry():
        for path, methods in _operations(res, V2_REF).items():
            paths[path] = {
                "parameters": [{**p, "type": "string"} for p in _path_parameters(path)],
                **{m: _v2_operation(res, *spec) for m, spec in methods.items()},
            }
    return {
        "swagger": "2.0",
        "info": {"title": "Navarch", "version": kubernetes_version},
        "paths": paths,
        "definitions": _v2(_v2_definitions()),
    }


def _v2_definitions() -> dict[str, Any]:
    out = dict(schemas())
    for res in registry():
        if res.unstructured:
            name = _kind_name(res)
            out[name] = _v2_custom(out[name])
    return out


@functools.cache
def document_v2_protobuf() -> bytes:
    """The v2 document as kubectl reads it (see :mod:`openapi_proto`)."""
    return openapi_proto.document(document_v2())


def index() -> dict[str, Any]:
    """``/openapi/v3``: each group-version's document, with a hash that changes with it."""
    paths = {}
    for group, version in sorted({(r.group, r.version) for r in registry()}):
        digest = hashlib.sha256(orjson.dumps(document(group, version))).hexdigest()[:16].upper()
        gv = _gv_path(group, version)
        paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest}"}
    return {"paths": paths}


def _forget(change: Change, res: Resource) -> None:
    """A kind came or went (a plugin's, later a CustomResourceDefinition's): every
    document is built again on its next read."""
    for cached in (model_schemas, schemas, document, document_v2, document_v2_protobuf):
        cached.cache_clear()


registry().subscribe(_forget)
