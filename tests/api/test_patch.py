"""The three patch formats, as pure functions."""

from __future__ import annotations

import pytest

from navarch.apiserver.errors import ApiError
from navarch.apiserver.patch import json_patch, merge_patch, strategic_merge_patch

POD = {
    "metadata": {"name": "p", "labels": {"a": "1", "b": "2"}, "finalizers": ["x"]},
    "spec": {
        "containers": [
            {"name": "main", "image": "app:1", "env": [{"name": "A", "value": "1"}]},
            {"name": "side", "image": "side:1"},
        ],
        "tolerations": [{"key": "k", "operator": "Exists"}],
    },
}


def test_merge_patch_rfc7386():
    out = merge_patch(
        POD, {"metadata": {"labels": {"a": None, "c": "3"}}, "spec": {"containers": []}}
    )
    assert out["metadata"]["labels"] == {"b": "2", "c": "3"}
    assert out["spec"]["containers"] == []  # lists are replaced whole
    assert POD["metadata"]["labels"] == {"a": "1", "b": "2"}  # input untouched


def test_json_patch_operations():
    ops = [
        {"op": "add", "path": "/metadata/labels/c", "value": "3"},
        {"op": "remove", "path": "/metadata/labels/a"},
        {"op": "replace", "path": "/spec/containers/0/image", "value": "app:2"},
        {"op": "copy", "from": "/metadata/labels/b", "path": "/metadata/labels/d"},
        {"op": "move", "from": "/metadata/labels/d", "path": "/metadata/labels/e"},
        {"op": "test", "path": "/metadata/name", "value": "p"},
        {"op": "add", "path": "/spec/containers/-", "value": {"name": "third", "image": "t:1"}},
        {"op": "add", "path": "/metadata/labels/x~1y", "value": "escaped"},
    ]
    out = json_patch(POD, ops)
    assert out["metadata"]["labels"] == {"b": "2", "c": "3", "e": "2", "x/y": "escaped"}
    assert out["spec"]["containers"][0]["image"] == "app:2"
    assert [c["name"] for c in out["spec"]["containers"]] == ["main", "side", "third"]


@pytest.mark.parametrize(
    ("ops", "code"),
    [
        ({"op": "add"}, 400),
        ([{"op": "add", "path": "/x"}], 400),
        ([{"op": "jump", "path": "/x"}], 400),
        ([{"op": "remove", "path": "/nope"}], 422),
        ([{"op": "test", "path": "/metadata/name", "value": "q"}], 422),
        ([{"op": "add", "path": "/spec/containers/9", "value": 1}], 422),
        ([{"op": "move", "path": "/a"}], 400),
    ],
)
def test_json_patch_errors(ops, code):
    with pytest.raises(ApiError) as info:
        json_patch(POD, ops)
    assert info.value.code == code


def test_strategic_merge_by_key_and_directives():
    patch = {
        "metadata": {"finalizers": ["y"]},
        "spec": {
            "$setElementOrder/containers": [{"name": "side"}, {"name": "main"}],
            "containers": [
                {"name": "main", "env": [{"name": "B", "value": "2"}]},
                {"name": "side", "$patch": "delete"},
                {"name": "new", "image": "new:1"},
            ],
            "tolerations": [{"key": "other", "operator": "Exists"}],
        },
    }
    out = strategic_merge_patch(POD, patch)
    containers = out["spec"]["containers"]
    assert [c["name"] for c in containers] == ["main", "new"]
    assert containers[0]["image"] == "app:1"  # kept: merged by name
    assert containers[0]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert out["spec"]["tolerations"] == [
        {"key": "other", "operator": "Exists"}
    ]  # no merge key: replaced
    assert out["metadata"]["finalizers"] == ["x", "y"]  # merged as a set


def test_strategic_replace_and_retain_keys():
    out = strategic_merge_patch(POD, {"spec": {"$patch": "replace", "containers": []}})
    assert out["spec"] == {"containers": []}
    out = strategic_merge_patch(POD, {"metadata": {"$retainKeys": ["name"], "name": "p"}})
    assert out["metadata"] == {"name": "p"}
    out = strategic_merge_patch(POD, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}})
    assert out["metadata"]["finalizers"] == []


def test_strategic_list_item_without_its_key_is_rejected():
    with pytest.raises(ApiError) as info:
        strategic_merge_patch(POD, {"spec": {"containers": [{"image": "x"}]}})
    assert info.value.code == 400


def test_merge_patch_nulls_inside_a_new_object_and_non_object_values():
    out = merge_patch({"a": 1}, {"b": {"c": None, "d": 2}, "a": [1, {"x": None}]})
    assert out == {"a": [1, {"x": None}], "b": {"d": 2}}  # arrays are values, kept as sent
    assert merge_patch({"a": 1}, ["whole"]) == ["whole"]


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "add", "path": "nope", "value": 1}],  # a pointer must start with "/"
        [{"op": "add", "path": "/missing/child", "value": 1}],
        [{"op": "replace", "path": "/spec/containers/x/image", "value": 1}],
    ],
)
def test_json_patch_paths_that_do_not_fit_the_document_are_invalid(ops):
    with pytest.raises(ApiError) as info:
        json_patch(POD, ops)
    assert (info.value.code, info.value.reason) == (422, "Invalid")
    assert POD["spec"]["containers"][0]["image"] == "app:1"  # input untouched
