"""The CustomResourceDefinition kind: decoding, defaults, Kubernetes' validation rules
and Navarch's one-version limit, and the serialise -> parse round trip."""

from __future__ import annotations

import copy
from typing import Any

import attrs
import orjson
import pytest
from hypothesis import given

from navarch.api.errors import InvalidObject
from navarch.api.meta import OBJECT_META_FIELDS, ObjectMeta
from navarch.api.schema import _plan
from navarch.apiextensions.crd_defaults import apply_crd_defaults
from navarch.apiextensions.crd_validation import validate_crd, validate_crd_update
from navarch.apiextensions.v1 import (
    ESTABLISHED,
    CustomResourceDefinition,
    CustomResourceDefinitionCondition,
    CustomResourceDefinitionList,
    CustomResourceDefinitionStatus,
    set_condition,
)
from tests.test_model_properties import PROPERTY, model_strategy, top_level_strategy


def _load(data: dict[str, Any]) -> CustomResourceDefinition:
    return CustomResourceDefinition.from_dict(apply_crd_defaults(data))


def _messages(data: dict[str, Any]) -> list[str]:
    return [e.describe() for e in validate_crd(_load(data))]


def test_the_documentation_crontab_crd_is_valid_and_defaulted(crontab_crd):
    crd = _load(crontab_crd)
    assert validate_crd(crd) == []
    assert crd.spec.names.list_kind == "CronTabList"
    assert crd.spec.names.short_names == ("ct",)
    assert crd.spec.conversion.strategy == "None"
    assert crd.status.stored_versions == ("v1",)
    assert crd.storage_version().name == "v1"
    assert crd.version("v1").open_api_v3_schema()["properties"]["spec"]["type"] == "object"


def test_decoding_round_trips_and_keeps_kubernetes_only_fields(crontab_crd):
    crontab_crd["spec"]["versions"][0]["selectableFields"] = [{"jsonPath": ".spec.image"}]
    wire = apply_crd_defaults(copy.deepcopy(crontab_crd))
    assert CustomResourceDefinition.from_dict(wire).to_dict() == wire


def test_an_unknown_field_is_refused_at_its_path(crontab_crd):
    crontab_crd["spec"]["names"]["plurall"] = "x"
    with pytest.raises(InvalidObject) as caught:
        _load(crontab_crd)
    assert [e.path for e in caught.value.errors] == ["spec.names.plurall"]


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for key in parents:
        data = data[int(key)] if key.isdigit() else data[key]
    if value is _DELETE:
        del data[last]
    else:
        data[int(last) if last.isdigit() else last] = value


_DELETE = object()
_V2 = {
    "name": "v2",
    "served": True,
    "storage": False,
    "schema": {"openAPIV3Schema": {"type": "object"}},
}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("metadata.name", "crontab.stable.example.com"),
            'metadata.name: Invalid value: "crontab.stable.example.com": '
            'must be spec.names.plural+"."+spec.group',
        ),
        (("spec.group", "example"), 'spec.group: Invalid value: "example": should be a domain'),
        (("spec.scope", "Global"), 'spec.scope: Unsupported value: "Global"'),
        (("spec.names.plural", "Crontabs"), 'spec.names.plural: Invalid value: "Crontabs"'),
        (("spec.names.kind", "Cron_Tab"), "may have mixed case, but should otherwise match"),
        (("spec.names.listKind", "CronTab"), "kind and listKind may not be the same"),
        (("spec.names.shortNames", ["c t"]), "spec.names.shortNames[0]: Invalid value"),
        (("spec.names.categories", ["All"]), "spec.names.categories[0]: Invalid value"),
        (("spec.versions.0.name", "V1"), "spec.versions[0].name: Invalid value"),
        (
            ("spec.versions.0.storage", False),
            "spec.versions: Invalid value: [{",
        ),
        (("spec.versions.0.served", False), "must have at least one version served"),
        (("spec.versions", []), "spec.versions: Required value"),
        (("spec.versions.0.schema", _DELETE), "openAPIV3Schema: Required value: schemas are"),
        (
            ("spec.versions.0.schema.openAPIV3Schema.properties.spec.type", _DELETE),
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: "
            "must not be empty for specified object fields",
        ),
        (
            (
                "spec.versions.0.schema.openAPIV3Schema.properties.spec.properties.replicas",
                {"type": "integer", "default": "one"},
            ),
            'properties[replicas].default: Invalid value: "string"',
        ),
        (
            ("spec.versions.0.schema.openAPIV3Schema.properties.spec.default", {"bogus": 1}),
            'properties[spec].default: Invalid value: {"bogus":1}: must not have unknown '
            "fields: bogus",
        ),
        (("spec.preserveUnknownFields", True), "spec.preserveUnknownFields: Invalid value: true"),
        (("spec.conversion", {"strategy": "Webhook"}), "conversion webhooks are not supported"),
        (("status", {"storedVersions": ["v0"]}), "status.storedVersions[0]: Invalid value"),
    ],
)
def test_kubernetes_crd_rules(crontab_crd, change, expected):
    _set(crontab_crd, *change)
    messages = _messages(crontab_crd)
    assert any(expected in m for m in messages), messages


def test_several_versions_are_refused_with_a_clear_message(crontab_crd):
    crontab_crd["spec"]["versions"].insert(0, _V2)
    messages = _messages(crontab_crd)
    assert messages == [
        "spec.versions: Forbidden: Navarch serves one version per CustomResourceDefinition: "
        "several versions need conversion between them (conversion webhooks), which Navarch "
        "does not support yet; found 2 (v2, v1): keep only the storage version"
    ]


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ({"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"}, None),
        ({"type": "string", "jsonPath": ".spec.a"}, "[0].name: Required value"),
        (
            {"name": "X", "type": "text", "jsonPath": ".spec.a"},
            '[0].type: Unsupported value: "text"',
        ),
        ({"name": "X", "type": "string", "format": "huge", "jsonPath": ".a"}, "[0].format"),
        ({"name": "X", "type": "string"}, "[0].jsonPath: Required value"),
        ({"name": "X", "type": "string", "jsonPath": "spec.a"}, "starting with ."),
        ({"name": "X", "type": "string", "jsonPath": ".a[?(@.x)]"}, "unsupported syntax"),
    ],
)
def test_printer_column_rules(crontab_crd, column, expected):
    crontab_crd["spec"]["versions"][0]["additionalPrinterColumns"] = [column]
    messages = _messages(crontab_crd)
    if expected is None:
        assert messages == []
    else:
        assert any(expected in m for m in messages), messages


@pytest.mark.parametrize(
    ("scale", "expected"),
    [
        ({"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}, None),
        ({"statusReplicasPath": ".status.replicas"}, "scale.specReplicasPath: Required value"),
        (
            {"specReplicasPath": ".status.replicas", "statusReplicasPath": ".status.replicas"},
            "should be a json path under .spec",
        ),
        (
            {
                "specReplicasPath": ".spec.replicas",
                "statusReplicasPath": ".status.replicas",
                "labelSelectorPath": ".metadata.labels",
            },
            "should be a json path under .spec or .status",
        ),
    ],
)
def test_scale_subresource_paths(crontab_crd, scale, expected):
    crontab_crd["spec"]["versions"][0]["subresources"] = {"status": {}, "scale": scale}
    messages = _messages(crontab_crd)
    if expected is None:
        assert messages == []
    else:
        assert any(expected in m for m in messages), messages


def test_update_keeps_group_plural_and_once_established_kind_and_scope(crontab_crd):
    old = _load(copy.deepcopy(crontab_crd))
    established = attrs.evolve(
        old,
        status=CustomResourceDefinitionStatus(
            conditions=(CustomResourceDefinitionCondition(type=ESTABLISHED, status="True"),),
            stored_versions=("v1",),
        ),
    )
    crontab_crd["spec"]["scope"] = "Cluster"
    crontab_crd["spec"]["names"]["kind"] = "Crontab"
    crontab_crd["spec"]["names"]["listKind"] = "CrontabList"
    new = _load(crontab_crd)
    assert [e.path for e in validate_crd_update(new, old)] == []
    assert [e.path for e in validate_crd_update(new, established)] == [
        "spec.scope",
        "spec.names.kind",
    ]


def test_set_condition_keeps_the_transition_time_while_the_status_holds():
    first = CustomResourceDefinitionCondition(
        type=ESTABLISHED, status="True", last_transition_time="2024-01-01T00:00:00Z"
    )
    again = attrs.evolve(first, last_transition_time="2024-02-02T00:00:00Z", reason="Again")
    flipped = attrs.evolve(again, status="False")
    assert set_condition((first,), again)[0].last_transition_time == "2024-01-01T00:00:00Z"
    assert set_condition((first,), flipped)[0].last_transition_time == "2024-02-02T00:00:00Z"


def test_metadata_pruning_keeps_exactly_object_meta_fields():
    modeled = {f.wire for f in _plan(ObjectMeta)} | ObjectMeta.KUBERNETES_ONLY
    assert modeled == set(OBJECT_META_FIELDS)
    assert len(OBJECT_META_FIELDS) == len(modeled)  # none twice


@PROPERTY
@given(top_level_strategy(CustomResourceDefinition))
def test_serialise_then_parse_is_identity(crd):
    wire = orjson.loads(orjson.dumps(crd.to_dict()))  # through real JSON bytes
    back = CustomResourceDefinition.from_dict(wire)
    assert back == crd
    assert back.to_dict() == crd.to_dict()


@PROPERTY
@given(model_strategy(CustomResourceDefinitionList))
def test_list_round_trips(crd_list):
    wire = orjson.loads(orjson.dumps(crd_list.to_dict()))
    assert CustomResourceDefinitionList.from_dict(wire) == crd_list
