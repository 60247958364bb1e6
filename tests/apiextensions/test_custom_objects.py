"""Custom objects against their schema: validation (each keyword), pruning, defaulting,
and the Kubernetes docs' CronTab example through the whole write path."""

from __future__ import annotations

import copy

import pytest

from navarch.api.errors import InvalidObject
from navarch.apiextensions.custom_objects import CustomKind, admit, prepare
from navarch.apiextensions.defaulting import default
from navarch.apiextensions.pruning import prune
from navarch.apiextensions.structural import build, structural
from navarch.apiextensions.validation import validate

CRONTAB = CustomKind("stable.example.com/v1", "CronTab", namespaced=True)


def _crontab_schema(crontab_crd):
    return structural(crontab_crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


def _field(schema):
    # built without the CRD's structural check: uniqueItems, refused in a CRD, is still a
    # keyword the validator knows
    return build({"type": "object", "properties": {"f": schema}})


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        (
            {"type": "integer"},
            "3",
            'f: Invalid value: "string": f in body must be of type integer: "string"',
        ),
        (
            {"type": "integer"},
            1.5,
            'f: Invalid value: "number": f in body must be of type integer: "number"',
        ),
        (
            {"type": "string"},
            None,
            'f: Invalid value: "null": f in body must be of type string: "null"',
        ),
        ({"type": "boolean"}, "true", "f in body must be of type boolean"),
        ({"type": "object"}, [], "f in body must be of type object"),
        ({"type": "array", "items": {"type": "string"}}, {}, "f in body must be of type array"),
        (
            {"type": "array", "items": {"type": "string"}},
            ["a", 1],
            'f[1]: Invalid value: "integer"',
        ),
        (
            {"type": "string", "enum": ["a", "b"]},
            "c",
            'f: Unsupported value: "c": supported values: "a", "b"',
        ),
        ({"type": "integer", "enum": [1]}, True, "must be of type integer"),
        (
            {"type": "integer", "maximum": 10},
            11,
            "f: Invalid value: 11: f in body should be less than or equal to 10",
        ),
        (
            {"type": "integer", "maximum": 10, "exclusiveMaximum": True},
            10,
            "f in body should be less than 10",
        ),
        ({"type": "number", "minimum": 0.5}, 0, "f in body should be greater than or equal to 0.5"),
        (
            {"type": "integer", "minimum": 1, "exclusiveMinimum": True},
            1,
            "f in body should be greater than 1",
        ),
        ({"type": "integer", "multipleOf": 3}, 4, "f in body should be a multiple of 3"),
        (
            {"type": "string", "maxLength": 2},
            "abc",
            "f: Too long: may not be more than 2 characters",
        ),
        (
            {"type": "string", "minLength": 2},
            "a",
            'f: Invalid value: "a": f in body should be at least 2 chars long',
        ),
        ({"type": "string", "pattern": "^[a-z]+$"}, "A1", "f in body should match '^[a-z]+$'"),
        (
            {"type": "array", "items": {"type": "integer"}, "maxItems": 1},
            [1, 2],
            "f: Too many: 2: must have at most 1 items",
        ),
        (
            {"type": "array", "items": {"type": "integer"}, "minItems": 2},
            [1],
            "f in body should have at least 2 items",
        ),
        (
            {"type": "array", "items": {"type": "integer"}, "uniqueItems": True},
            [1, 1],
            "f[1]: Duplicate value: 1",
        ),
        (
            {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}},
            {},
            "f.a: Required value",
        ),
        (
            {"type": "object", "additionalProperties": {"type": "integer"}},
            {"k": "v"},
            'f.k: Invalid value: "string"',
        ),
        ({"type": "object", "additionalProperties": False}, {"k": 1}, "f.k: Forbidden"),
        ({"x-kubernetes-int-or-string": True}, 1.5, "must be of type integer-or-string"),
        (
            {"type": "integer", "format": "int32"},
            2**31,
            'f in body must be of type int32: "2147483648"',
        ),
        (
            {"type": "string", "format": "date-time"},
            "yesterday",
            "f in body must be of type date-time",
        ),
        ({"type": "string", "format": "date"}, "2024-13-01", "f in body must be of type date"),
        ({"type": "string", "format": "uuid"}, "nope", "must be of type uuid"),
        ({"type": "string", "format": "ipv4"}, "1.2.3", "must be of type ipv4"),
        ({"type": "string", "format": "byte"}, "%%%", "must be of type byte"),
        ({"type": "string", "format": "duration"}, "soon", "must be of type duration"),
        (
            {"type": "string", "anyOf": [{"pattern": "^a"}, {"pattern": "^b"}]},
            "c",
            "must validate at least one schema (anyOf)",
        ),
        (
            {"type": "string", "oneOf": [{"pattern": "^a"}, {"pattern": "b$"}]},
            "ab",
            "must validate one and only one schema (oneOf)",
        ),
        ({"type": "string", "not": {"pattern": "^a"}}, "a", "must not validate the schema (not)"),
    ],
)
def test_each_keyword_refuses_in_kubernetes_words(schema, value, expected):
    messages = [e.describe() for e in validate({"f": value}, _field(schema))]
    assert any(expected in m for m in messages), messages


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        ({"type": "integer"}, 3.0),  # JSON has one number type
        ({"type": "number"}, 3),
        ({"type": "string", "nullable": True}, None),
        ({"x-kubernetes-int-or-string": True}, "25%"),
        ({"x-kubernetes-int-or-string": True}, 3),
        ({"x-kubernetes-preserve-unknown-fields": True}, {"any": ["thing"]}),
        ({"type": "string", "format": "date-time"}, "2024-05-01T10:00:00Z"),
        ({"type": "string", "format": "duration"}, "1h30m"),
        ({"type": "string", "format": "quantity"}, "whatever"),  # unchecked format
        ({"type": "integer", "format": "int64"}, 2**40),
        ({"type": "object", "additionalProperties": {"type": "integer"}}, {"a": 1}),
    ],
)
def test_valid_values_pass(schema, value):
    assert validate({"f": value}, _field(schema)) == []


def test_every_error_is_reported_at_once():
    schema = structural(
        {
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["cronSpec"],
                    "properties": {
                        "replicas": {"type": "integer"},
                        "image": {"type": "string"},
                        "cronSpec": {"type": "string"},
                    },
                }
            },
        }
    )
    errs = validate({"spec": {"replicas": "x", "image": 3}}, schema)
    assert sorted(e.path for e in errs) == ["spec.cronSpec", "spec.image", "spec.replicas"]


# --- pruning ----------------------------------------------------------------------------


def test_pruning_drops_unknown_fields_and_leaves_the_input_alone():
    schema = _field({"type": "object", "properties": {"a": {"type": "string"}}})
    obj = {
        "apiVersion": "x/v1",
        "kind": "X",
        "metadata": {"name": "n"},
        "f": {"a": "1", "b": 2},
        "g": 1,
    }
    before = copy.deepcopy(obj)
    removed: list[str] = []
    assert prune(obj, schema, removed=removed) == {
        "apiVersion": "x/v1",
        "kind": "X",
        "metadata": {"name": "n"},
        "f": {"a": "1"},
    }
    assert removed == ["f.b", "g"]
    assert obj == before


@pytest.mark.parametrize(
    ("schema", "value", "kept"),
    [
        (
            {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            {"x": {"y": 1}},
            {"x": {"y": 1}},
        ),
        (
            {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
                "properties": {
                    "known": {"type": "object", "properties": {"a": {"type": "integer"}}}
                },
            },
            {"other": 1, "known": {"a": 1, "b": 2}},
            {"other": 1, "known": {"a": 1}},
        ),
        (
            {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {"a": {"type": "integer"}},
                },
            },
            {"k": {"a": 1, "b": 2}},
            {"k": {"a": 1}},
        ),
        (
            {
                "type": "array",
                "items": {"type": "object", "properties": {"a": {"type": "integer"}}},
            },
            [{"a": 1, "b": 2}],
            [{"a": 1}],
        ),
        (
            {
                "type": "object",
                "x-kubernetes-embedded-resource": True,
                "properties": {"spec": {"type": "object"}},
            },
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p", "junk": 1},
                "spec": {},
                "extra": 1,
            },
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}},
        ),
    ],
)
def test_pruning_rules(schema, value, kept):
    assert prune({"f": value}, _field(schema), resource_root=False) == {"f": kept}


# --- defaulting -------------------------------------------------------------------------


def test_defaults_are_applied_deep_copied_and_inside_defaults():
    schema = _field(
        {
            "type": "object",
            "default": {},
            "properties": {
                "replicas": {"type": "integer", "default": 1},
                "tags": {"type": "array", "items": {"type": "string"}, "default": ["a"]},
                "nested": {
                    "type": "object",
                    "nullable": True,
                    "default": {"x": 1},
                    "properties": {"x": {"type": "integer"}},
                },
            },
        }
    )
    first = default({}, schema)
    second = default({}, schema)
    assert first == {"f": {"replicas": 1, "tags": ["a"], "nested": {"x": 1}}}
    first["f"]["tags"].append("b")
    assert second["f"]["tags"] == ["a"]  # each object its own copy
    assert default({"f": {"nested": None}}, schema)["f"]["nested"] is None  # nullable keeps null


def test_nulls_of_non_nullable_fields_are_defaulted_or_dropped():
    schema = _field(
        {
            "type": "object",
            "properties": {"a": {"type": "integer", "default": 1}, "b": {"type": "string"}},
        }
    )
    assert default({"f": {"a": None, "b": None}}, schema) == {"f": {"a": 1}}


def test_defaults_in_array_items_and_maps():
    item = {"type": "object", "properties": {"port": {"type": "integer", "default": 80}}}
    schema = structural(
        {
            "type": "object",
            "properties": {
                "list": {"type": "array", "items": item},
                "map": {"type": "object", "additionalProperties": item},
            },
        }
    )
    assert default({"list": [{}], "map": {"a": {}}}, schema) == {
        "list": [{"port": 80}],
        "map": {"a": {"port": 80}},
    }


# --- the Kubernetes documentation's CronTab example ------------------------------------


def test_the_documentation_crontab_is_admitted(crontab_crd, crontab):
    admitted = admit(crontab, _crontab_schema(crontab_crd), CRONTAB)
    assert admitted.obj["spec"] == crontab["spec"]
    assert admitted.warnings == ()


def test_a_wrong_type_is_refused_naming_the_field(crontab_crd, crontab):
    crontab["spec"]["replicas"] = "three"
    with pytest.raises(InvalidObject) as caught:
        admit(crontab, _crontab_schema(crontab_crd), CRONTAB)
    assert caught.value.message() == (
        'CronTab.stable.example.com "my-new-cron-object" is invalid: [spec.replicas: Invalid '
        'value: "string": spec.replicas in body must be of type integer: "string"]'
    )
    assert [e.to_cause()["field"] for e in caught.value.errors] == ["spec.replicas"]


def test_unknown_fields_are_pruned_with_warnings(crontab_crd, crontab):
    crontab["spec"]["someRandomField"] = 42
    crontab["status"] = {"phase": "x"}
    admitted = admit(crontab, _crontab_schema(crontab_crd), CRONTAB)
    assert "someRandomField" not in admitted.obj["spec"]
    assert "status" not in admitted.obj
    assert admitted.warnings == ('unknown field "spec.someRandomField"', 'unknown field "status"')


def test_defaults_are_applied_before_validation(crontab_crd, crontab):
    spec_schema = crontab_crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"][
        "spec"
    ]
    spec_schema["properties"]["replicas"].update({"default": 1, "minimum": 1, "maximum": 10})
    spec_schema["properties"]["image"]["default"] = "busybox"
    del crontab["spec"]["image"]
    schema = _crontab_schema(crontab_crd)
    assert prepare(crontab, schema).obj["spec"] == {
        "cronSpec": "* * * * */5",
        "image": "busybox",
        "replicas": 1,
    }
    crontab["spec"]["replicas"] = 11
    with pytest.raises(
        InvalidObject, match=r"spec\.replicas in body should be less than or equal to 10"
    ):
        admit(crontab, schema, CRONTAB)


def test_metadata_and_type_are_checked_as_for_every_object(crontab_crd, crontab):
    crontab["kind"] = "CronTabs"
    crontab["metadata"]["name"] = "Not_A_Name"
    crontab["metadata"]["labels"] = {"a": 1}
    with pytest.raises(InvalidObject) as caught:
        admit(crontab, _crontab_schema(crontab_crd), CRONTAB)
    assert [e.path for e in caught.value.errors] == ["kind", "metadata.labels[a]", "metadata.name"]
