"""Structural schemas: each of Kubernetes' rules, one row each, with its path and words."""

from __future__ import annotations

import pytest

from navarch.apiextensions.structural import NotStructural, check, structural

ROOT = "openAPIV3Schema"


def _obj(**properties):
    return {"type": "object", "properties": properties}


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (
            _obj(spec={"properties": {}}),
            f"{ROOT}.properties[spec].type: Required value: "
            "must not be empty for specified object fields",
        ),
        ({"properties": {}}, f"{ROOT}.type: Required value: must not be empty at the root"),
        ({"type": "string"}, f'{ROOT}.type: Invalid value: "string": must be object at the root'),
        (
            _obj(a={"type": "array"}),
            f"{ROOT}.properties[a].items: Required value: must be specified",
        ),
        (
            _obj(a={"type": "array", "items": {}}),
            f"{ROOT}.properties[a].items.type: Required value: must not be empty for specified array items",
        ),
        (
            {"type": "object", "additionalProperties": {"type": "string"}},
            f"{ROOT}.additionalProperties: Forbidden: must not be used at the root",
        ),
        (
            _obj(
                m={
                    "type": "object",
                    "properties": {"a": {"type": "string"}},
                    "additionalProperties": {"type": "string"},
                }
            ),
            f"{ROOT}.properties[m].additionalProperties: Forbidden: additionalProperties and "
            "properties are mutual exclusive",
        ),
        (
            _obj(metadata={"type": "object", "properties": {"labels": {"type": "object"}}}),
            f"{ROOT}.properties[metadata]: Forbidden: must not specify anything other than name "
            "and generateName",
        ),
        (
            _obj(kind={"type": "integer"}),
            f'{ROOT}.properties[kind].type: Invalid value: "integer": must be string',
        ),
        (
            _obj(a={"type": "string", "anyOf": [{"type": "string"}]}),
            f"{ROOT}.properties[a].anyOf[0].type: Forbidden: must be empty to be structural",
        ),
        (
            _obj(a={"type": "string", "allOf": [{"default": "x"}]}),
            f"{ROOT}.properties[a].allOf[0].default: Forbidden: must be undefined to be structural",
        ),
        (
            _obj(a={"type": "object", "oneOf": [{"properties": {"b": {"minLength": 1}}}]}),
            f"{ROOT}.properties[a].properties[b]: Required value: because it is defined in "
            f"{ROOT}.properties[a].oneOf[0].properties[b]",
        ),
        (
            _obj(
                a={
                    "type": "object",
                    "not": {"properties": {"metadata": {}}},
                    "properties": {"metadata": {"type": "object"}},
                }
            ),
            f"{ROOT}.properties[a].not.properties[metadata]: Forbidden: must not be specified in a nested context",
        ),
        (
            _obj(
                a={"x-kubernetes-int-or-string": True, "x-kubernetes-preserve-unknown-fields": True}
            ),
            "x-kubernetes-preserve-unknown-fields: Invalid value: true: must be false if "
            "x-kubernetes-int-or-string is true",
        ),
        (
            _obj(a={"type": "string", "x-kubernetes-embedded-resource": True}),
            f'{ROOT}.properties[a].type: Invalid value: "string": must be object if '
            "x-kubernetes-embedded-resource is true",
        ),
        (
            _obj(a={"type": "object", "x-kubernetes-embedded-resource": True}),
            f"{ROOT}.properties[a].properties: Required value: must not be empty if "
            "x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
        ),
        (
            _obj(a={"$ref": "#/definitions/x"}),
            f"{ROOT}.properties[a].$ref: Forbidden: $ref is not supported",
        ),
        (_obj(a={"type": "object", "patternProperties": {}}), "patternProperties is not supported"),
        (
            _obj(a={"type": "array", "items": [{"type": "string"}]}),
            f"{ROOT}.properties[a].items: Forbidden: items must be a schema object and not an array",
        ),
        (
            _obj(a={"type": "array", "items": {"type": "string"}, "uniqueItems": True}),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ),
        (
            _obj(a={"type": "null"}),
            f"{ROOT}.properties[a].type: Forbidden: type cannot be set to null",
        ),
        (_obj(a={"type": "text"}), f'{ROOT}.properties[a].type: Unsupported value: "text"'),
        (
            _obj(a={"type": "string", "pattern": "("}),
            "must be a valid regular expression, but isn't",
        ),
        (
            _obj(a={"type": "string", "maxLenght": 3}),
            f'{ROOT}.properties[a].maxLenght: unknown field "maxLenght"',
        ),
        (
            _obj(a={"type": "string", "minLength": "3"}),
            f'{ROOT}.properties[a].minLength: Invalid value: "3": must be an integer',
        ),
        (
            _obj(a={"type": "object", "x-kubernetes-preserve-unknown-fields": False}),
            "must be true or undefined",
        ),
        (
            _obj(a={"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "map"}),
            "x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map",
        ),
    ],
)
def test_each_rule_names_the_path_in_kubernetes_words(schema, expected):
    checked = check(schema)
    messages = [e.describe() for e in checked.errors]
    assert checked.schema is None
    assert any(expected in m for m in messages), messages


@pytest.mark.parametrize(
    "schema",
    [
        _obj(spec=_obj(cronSpec={"type": "string"}, replicas={"type": "integer"})),
        _obj(a={"x-kubernetes-int-or-string": True}),
        _obj(
            a={
                "x-kubernetes-int-or-string": True,
                "anyOf": [{"type": "integer"}, {"type": "string"}],
            }
        ),
        _obj(a={"x-kubernetes-preserve-unknown-fields": True}),
        _obj(a={"type": "object", "additionalProperties": {"type": "string"}}),
        _obj(
            a={
                "type": "object",
                "additionalProperties": True,
                "properties": {"b": {"type": "string"}},
            }
        ),
        _obj(
            metadata={"type": "object", "properties": {"name": {"type": "string", "maxLength": 20}}}
        ),
        _obj(a={"type": "string", "anyOf": [{"pattern": "^a"}, {"pattern": "^b"}]}),
        _obj(
            e={
                "type": "object",
                "x-kubernetes-embedded-resource": True,
                "x-kubernetes-preserve-unknown-fields": True,
            }
        ),
        _obj(a={"type": "string", "x-kubernetes-validations": [{"rule": "self != ''"}]}),
    ],
)
def test_structural_schemas_pass(schema):
    checked = check(schema)
    assert checked.errors == ()
    assert checked.schema is not None


def test_every_violation_is_reported_at_once():
    checked = check(_obj(a={"properties": {}}, b={"type": "array"}, c={"$ref": "x"}))
    assert sorted(e.path for e in checked.errors) == [
        f"{ROOT}.properties[a].type",
        f"{ROOT}.properties[b].items",
        f"{ROOT}.properties[c].$ref",
        f"{ROOT}.properties[c].type",
    ]


def test_cel_rules_are_reported_as_ignored_not_refused():
    checked = check(_obj(a={"type": "string", "x-kubernetes-validations": [{"rule": "true"}]}))
    assert checked.ignored == (f"{ROOT}.properties[a].x-kubernetes-validations",)


def test_the_tree_carries_the_keywords():
    tree = structural(_obj(spec=_obj(replicas={"type": "integer", "default": 1, "maximum": 5})))
    replicas = tree.properties["spec"].properties["replicas"]
    assert (replicas.type, replicas.default, replicas.maximum) == ("integer", 1, 5)
    with pytest.raises(NotStructural):
        structural({"type": "string"})
