"""OpenAPI documents generated from the object model, and discovery's categories."""

from __future__ import annotations

import orjson
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from navarch.apiserver import discovery, openapi, openapi_proto
from navarch.resources.registry import registry
from tools import openapi_descriptions


def _refs(value):
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref":
                yield item
            else:
                yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def test_every_served_kind_and_its_list_has_a_schema_tagged_with_its_gvk():
    tagged = {
        (g["group"], g["version"], g["kind"])
        for s in openapi.schemas().values()
        for g in s.get("x-kubernetes-group-version-kind", [])
    }
    for res in registry():
        assert (res.group, res.version, res.kind) in tagged
        assert (res.group, res.version, f"{res.kind}List") in tagged


def test_schemas_follow_the_model_with_types_required_fields_and_merge_keys():
    schemas = openapi.schemas()
    container = schemas["io.k8s.api.core.v1.Container"]
    assert container["required"] == ["name"]
    assert container["properties"]["image"]["type"] == "string"
    assert container["properties"]["ports"]["x-kubernetes-patch-merge-key"] == "containerPort"
    env = container["properties"]["env"]
    assert env["type"] == "array" and env["x-kubernetes-patch-strategy"] == "merge"
    assert env["items"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.EnvVar"}
    spec = schemas["io.k8s.api.core.v1.PodSpec"]
    assert spec["required"] == ["containers"]
    assert spec["properties"]["nodeSelector"]["additionalProperties"] == {"type": "string"}
    meta = schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]
    assert meta["properties"]["finalizers"]["x-kubernetes-patch-strategy"] == "merge"
    strategy = schemas["io.k8s.api.apps.v1.RollingUpdateDeployment"]
    assert strategy["properties"]["maxSurge"]["x-kubernetes-int-or-string"] is True


def test_every_reference_resolves():
    schemas = openapi.schemas()
    for ref in _refs(schemas):
        assert ref.removeprefix(openapi.V3_REF) in schemas, ref
    v2 = openapi.document_v2()
    for ref in _refs(v2):
        assert (
            ref.startswith(openapi.V2_REF) and ref.removeprefix(openapi.V2_REF) in v2["definitions"]
        )


def test_v3_patch_operations_say_the_server_validates_fields():
    # kubectl's test: a PATCH for the kind that takes fieldValidation.
    for res in registry():
        doc = openapi.document(res.group, res.version)
        patches = [
            op["patch"]
            for op in doc["paths"].values()
            if "patch" in op and op["patch"]["x-kubernetes-group-version-kind"]["kind"] == res.kind
        ]
        assert patches, res.kind
        for op in patches:
            assert "fieldValidation" in {p["name"] for p in op["parameters"]}
            assert "application/strategic-merge-patch+json" in op["requestBody"]["content"]
    assert openapi.document("", "v2") is None


def test_index_lists_each_group_version_with_a_hash():
    paths = openapi.index()["paths"]
    # Exactly what the registry serves (a plugin's kind, registered by another test in
    # this process, included), the core's group-versions among them.
    served = {f"apis/{r.group}/{r.version}" if r.group else f"api/{r.version}" for r in registry()}
    assert set(paths) == served
    assert {
        "api/v1",
        "apis/apps/v1",
        "apis/coordination.k8s.io/v1",
        "apis/apiextensions.k8s.io/v1",
    } <= served
    assert paths["api/v1"]["serverRelativeURL"].startswith("/openapi/v3/api/v1?hash=")


# --- the protobuf form, read back with gnostic's field numbers --------------------------------

_GNOSTIC = {  # message -> [(field, number, type, label, message type)]
    "Document": [
        ("swagger", 1, "string", "optional", None),
        ("info", 2, "message", "optional", "Info"),
        ("paths", 8, "message", "optional", "Paths"),
        ("definitions", 9, "message", "optional", "Definitions"),
    ],
    "Info": [("title", 1, "string", "optional", None), ("version", 2, "string", "optional", None)],
    "Paths": [("path", 2, "message", "repeated", "NamedPathItem")],
    "NamedPathItem": [
        ("name", 1, "string", "optional", None),
        ("value", 2, "message", "optional", "PathItem"),
    ],
    "PathItem": [
        ("get", 2, "message", "optional", "Operation"),
        ("patch", 8, "message", "optional", "Operation"),
    ],
    "Operation": [
        ("operation_id", 5, "string", "optional", None),
        ("vendor_extension", 13, "message", "repeated", "NamedAny"),
    ],
    "Definitions": [("additional_properties", 1, "message", "repeated", "NamedSchema")],
    "NamedSchema": [
        ("name", 1, "string", "optional", None),
        ("value", 2, "message", "optional", "Schema"),
    ],
    "Schema": [
        ("_ref", 1, "string", "optional", None),
        ("required", 19, "string", "repeated", None),
        ("type", 22, "message", "optional", "TypeItem"),
        ("items", 23, "message", "optional", "ItemsItem"),
        ("properties", 25, "message", "optional", "Properties"),
        ("vendor_extension", 31, "message", "repeated", "NamedAny"),
    ],
    "TypeItem": [("value", 1, "string", "repeated", None)],
    "ItemsItem": [("schema", 1, "message", "repeated", "Schema")],
    "Properties": [("additional_properties", 1, "message", "repeated", "NamedSchema")],
    "NamedAny": [
        ("name", 1, "string", "optional", None),
        ("value", 2, "message", "optional", "Any"),
    ],
    "Any": [("yaml", 2, "string", "optional", None)],
}


def _gnostic_document_class():
    file = descriptor_pb2.FileDescriptorProto(
        name="gnostic_subset.proto", package="t", syntax="proto3"
    )
    types = descriptor_pb2.FieldDescriptorProto
    for message, fields in _GNOSTIC.items():
        proto = file.message_type.add(name=message)
        for name, number, kind, label, type_name in fields:
            field = proto.field.add(name=name, number=number)
            field.label = types.LABEL_REPEATED if label == "repeated" else types.LABEL_OPTIONAL
            if kind == "string":
                field.type = types.TYPE_STRING
            else:
                field.type, field.type_name = types.TYPE_MESSAGE, f".t.{type_name}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("t.Document"))


def test_protobuf_v2_document_decodes_with_gnostic_field_numbers():
    doc = _gnostic_document_class().FromString(openapi_proto.document(openapi.document_v2()))
    assert doc.swagger == "2.0" and doc.info.title == "Navarch"
    definitions = {d.name: d.value for d in doc.definitions.additional_properties}
    assert set(definitions) == set(openapi.document_v2()["definitions"])
    pod = definitions["io.k8s.api.core.v1.Pod"]
    gvk = {e.name: orjson.loads(e.value.yaml) for e in pod.vendor_extension}
    assert gvk["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    properties = {p.name: p.value for p in pod.properties.additional_properties}
    assert properties["spec"]._ref == "#/definitions/io.k8s.api.core.v1.PodSpec"
    container = definitions["io.k8s.api.core.v1.Container"]
    assert list(container.required) == ["name"]
    env = {p.name: p.value for p in container.properties.additional_properties}["env"]
    assert list(env.type.value) == ["array"]
    assert env.items.schema[0]._ref == "#/definitions/io.k8s.api.core.v1.EnvVar"
    merge = {e.name: orjson.loads(e.value.yaml) for e in env.vendor_extension}
    assert merge["x-kubernetes-patch-merge-key"] == "name"
    paths = {p.name: p.value for p in doc.paths.path}
    item = paths["/api/v1/namespaces/{namespace}/pods/{name}"]
    assert item.patch.operation_id == "patchPod" and item.get.operation_id == "getPod"


def test_protobuf_varints_and_lengths():
    assert openapi_proto._varint(1) == b"\x01"
    assert openapi_proto._varint(300) == b"\xac\x02"
    assert openapi_proto._string(1, "hi") == b"\x0a\x02hi"
    assert openapi_proto._string(1, "") == b""


# --- discovery ------------------------------------------------------------------------------


def test_pods_deployments_and_replicasets_are_in_the_all_category():
    in_all = set()
    for group, version in {(r.group, r.version) for r in registry()}:
        for entry in discovery.resource_list(group, version)["resources"]:
            if "all" in entry.get("categories", ()):
                in_all.add(entry["name"])
    # Kubernetes' "all": each is in it once served here, nothing else ever is
    kubernetes_all = {
        "pods", "services", "replicationcontrollers", "deployments", "replicasets",
        "statefulsets", "daemonsets", "jobs", "cronjobs", "horizontalpodautoscalers",
    }  # fmt: skip
    assert {"pods", "deployments", "replicasets"} <= in_all <= kubernetes_all


def test_protobuf_is_recognised_in_accept_either_spelling():
    assert openapi_proto.wants_protobuf(openapi_proto.MEDIA_TYPE)
    assert openapi_proto.wants_protobuf(f"application/json, {openapi_proto.RESPONSE_TYPE}")
    assert not openapi_proto.wants_protobuf("application/json")
    assert not openapi_proto.wants_protobuf(None)
    assert "@" not in openapi_proto.RESPONSE_TYPE  # Go's mime parser refuses it


def test_retain_keys_fields_as_in_kubernetes():
    schemas = openapi.schemas()
    strategy = schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]
    assert strategy["x-kubernetes-patch-strategy"] == "retainKeys"
    assert strategy["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy"}
    ]
    volumes = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["volumes"]
    assert volumes["x-kubernetes-patch-strategy"] == "merge,retainKeys"
    v2 = openapi.document_v2()["definitions"]["io.k8s.api.apps.v1.DeploymentSpec"]
    assert (
        v2["properties"]["strategy"]["$ref"]
        == "#/definitions/io.k8s.api.apps.v1.DeploymentStrategy"
    )


def test_list_types_follow_kubernetes_and_node_taints_are_atomic():
    schemas = openapi.schemas()
    taints = schemas["io.k8s.api.core.v1.NodeSpec"]["properties"]["taints"]
    assert taints["x-kubernetes-list-type"] == "atomic"
    assert "x-kubernetes-patch-strategy" not in taints
    assert "x-kubernetes-patch-merge-key" not in taints
    tolerations = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["tolerations"]
    assert tolerations["x-kubernetes-list-type"] == "atomic"
    ports = schemas["io.k8s.api.core.v1.Container"]["properties"]["ports"]
    assert ports["x-kubernetes-list-type"] == "map"
    assert ports["x-kubernetes-list-map-keys"] == ["containerPort", "protocol"]
    assert ports["x-kubernetes-patch-merge-key"] == "containerPort"
    finalizers = schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"][
        "finalizers"
    ]
    assert finalizers["x-kubernetes-list-type"] == "set"
    claims = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["resourceClaims"]
    assert claims["x-kubernetes-patch-strategy"] == "merge,retainKeys"
    assert claims["x-kubernetes-patch-merge-key"] == "name"
    host_ips = schemas["io.k8s.api.core.v1.PodStatus"]["properties"]["hostIPs"]
    assert host_ips["x-kubernetes-patch-merge-key"] == "ip"
    assert host_ips["x-kubernetes-list-type"] == "atomic"  # as in Kubernetes: merge, atomic
    v2 = openapi.document_v2()["definitions"]["io.k8s.api.core.v1.NodeSpec"]
    assert v2["properties"]["taints"]["x-kubernetes-list-type"] == "atomic"


# --- descriptions (issue 21 item 7) ------------------------------------------------------------


def test_fields_carry_kubernetes_descriptions_in_v3_v2_and_protobuf():
    schemas = openapi.schemas()
    image = schemas["io.k8s.api.core.v1.Container"]["properties"]["image"]
    assert image["description"].startswith("Container image name.")
    replicas = schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["replicas"]
    assert replicas["description"].startswith("Number of desired pods.")
    pod = schemas["io.k8s.api.core.v1.Pod"]
    assert pod["description"].startswith("Pod is a collection of containers")
    # A reference with a description: wrapped in allOf in v3, a sibling in v2.
    spec = pod["properties"]["spec"]
    assert spec["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.core.v1.PodSpec"}]
    assert spec["description"]
    v2 = openapi.document_v2()["definitions"]
    assert v2["io.k8s.api.core.v1.Pod"]["properties"]["spec"]["$ref"] == (
        "#/definitions/io.k8s.api.core.v1.PodSpec"
    )
    v2_image = v2["io.k8s.api.core.v1.Container"]["properties"]["image"]
    assert v2_image["description"] == image["description"]
    assert image["description"].encode() in openapi.document_v2_protobuf()
    # A field Navarch keeps without acting on it says both.
    claims = schemas["io.k8s.api.core.v1.ResourceRequirements"]["properties"]["claims"]
    assert claims["description"].startswith("Claims lists the names of resources")
    assert claims["description"].endswith("Navarch does not act on it.")


def test_every_field_of_a_kubernetes_definition_is_described():
    schemas = openapi.schemas()
    undescribed = [
        f"{name}.{wire}"
        for name, schema in schemas.items()
        if openapi_descriptions.client_class(name) is not None
        for wire, prop in schema.get("properties", {}).items()
        if not prop.get("description")
    ]
    assert undescribed == []


def test_the_descriptions_file_is_what_the_generator_writes():
    """Stale after a model change: run tools/openapi_descriptions.py."""
    fresh = openapi_descriptions.extract(openapi.model_schemas())
    committed = orjson.loads(openapi.DESCRIPTIONS.read_bytes())
    assert committed["definitions"] == fresh["definitions"]
    assert "Apache License 2.0" in committed["about"]
