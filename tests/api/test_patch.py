"""The three patch formats, as pure functions."""

from __future__ import annotations

import json

import pytest

from navarch.apiserver.errors import ApiError
from navarch.apiserver.patch import (
    MERGE_KEYS,
    MERGED_SCALAR_LISTS,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)
from navarch.apiserver.patch_errors import field_path

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


# --- what a patch that does not fit says -----------------------------------------------------

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"a": "7"}},
    "spec": {"replicas": 7, "selector": {"matchLabels": {"app": "web"}}},
}


def _failure(document: dict, ops: list) -> ApiError:
    with pytest.raises(ApiError) as info:
        json_patch(document, ops)
    return info.value


def test_a_failed_test_names_the_path_and_both_values_as_json():
    error = _failure(DEPLOYMENT, [{"op": "test", "path": "/spec/replicas", "value": 1}])
    assert (error.code, error.reason) == (422, "Invalid")
    message = (
        "testing value /spec/replicas failed: test failed: the value is 7, the patch expects 1"
    )
    assert error.message == f"the patch could not be applied: {message}"
    assert error.details == {
        "name": "web",
        "group": "apps",
        "kind": "Deployment",
        "causes": [{"reason": "FieldValueInvalid", "message": message, "field": "spec.replicas"}],
    }
    error = _failure(
        DEPLOYMENT,
        [{"op": "test", "path": "/spec/selector", "value": {"matchLabels": {"app": True}}}],
    )
    assert error.message.endswith(
        'the value is {"matchLabels":{"app":"web"}}, the patch expects {"matchLabels":{"app":true}}'
    )


@pytest.mark.parametrize(
    ("ops", "says", "field"),
    [
        (
            [{"op": "test", "path": "/metadata/labels/b", "value": "1"}],
            "test operation does not apply: doc is missing path: /metadata/labels/b: "
            '/metadata/labels has no member "b"',
            "metadata.labels.b",
        ),
        (
            [{"op": "remove", "path": "/spec/paused"}],
            "remove operation does not apply: doc is missing path: /spec/paused: /spec has no "
            'member "paused"',
            "spec.paused",
        ),
        (
            [{"op": "add", "path": "/spec/template/spec", "value": {}}],
            "add operation does not apply: doc is missing path: /spec/template/spec: /spec has "
            'no member "template"',
            "spec.template.spec",
        ),
        (
            [{"op": "add", "path": "/metadata/name/x", "value": 1}],
            'add operation does not apply: /metadata/name/x: /metadata/name is "web", not an '
            "object or a list",
            "metadata.name.x",
        ),
        (
            [{"op": "move", "from": "/spec/nope", "path": "/spec/x"}],
            "move operation does not apply: doc is missing from path: /spec/nope: /spec has no "
            'member "nope"',
            "spec.x",
        ),
        (
            [{"op": "move", "from": "/spec", "path": "/spec/x"}],
            "move operation does not apply: /spec/x is inside /spec, which it moves",
            "spec.x",
        ),
        (
            [{"op": "add", "path": "replicas", "value": 1}],
            "add operation does not apply: doc is missing path: replicas: a JSON pointer is "
            'empty or starts with "/"',
            "replicas",
        ),
    ],
)
def test_every_operation_that_does_not_fit_says_why_in_plain_words(ops, says, field):
    error = _failure(DEPLOYMENT, ops)
    assert (error.code, error.message) == (422, f"the patch could not be applied: {says}")
    assert error.details["causes"] == [
        {"reason": "FieldValueInvalid", "message": says, "field": field}
    ]


def test_list_indexes_out_of_range_or_malformed_say_how_long_the_list_is():
    error = _failure(POD, [{"op": "add", "path": "/spec/containers/9", "value": {}}])
    assert error.message.endswith(
        "add operation does not apply: /spec/containers/9: index 9 is out of range for the "
        "list at /spec/containers (it has 2 items)"
    )
    assert error.details["causes"][0]["field"] == "spec.containers[9]"
    error = _failure(POD, [{"op": "replace", "path": "/spec/containers/01/image", "value": "x"}])
    assert '"01" is not an index of the list at /spec/containers' in error.message


@pytest.mark.parametrize(
    ("ops", "says"),
    [
        (["add"], 'operation 0: an operation must be an object, not "add"'),
        ([{"path": "/x"}], 'operation 0: an operation needs an "op" member'),
        ([{"op": "jump", "path": "/x"}], 'operation 0: "op" is "jump"; it must be one of "add"'),
        ([{"op": "add", "path": 5, "value": 1}], 'the "add" operation needs a "path" string'),
        ([{"op": "test", "path": "/a"}], 'the "test" operation needs a "value" member'),
        (
            [{"op": "test", "path": "", "value": {}}, {"op": "copy", "path": "/a"}],
            'operation 1: the "copy" operation needs a "from" string',
        ),
    ],
)
def test_a_malformed_operation_is_a_bad_request_naming_it(ops, says):
    error = _failure(POD, ops)
    assert error.code == 400
    assert error.message.startswith("invalid JSON patch: operation ")
    assert says in error.message


def test_no_message_carries_python_reprs():
    cases = [
        [{"op": "test", "path": "/spec/replicas", "value": None}],
        [{"op": "test", "path": "/spec/selector", "value": [True, None]}],
        [{"op": "replace", "path": "/spec/nope/x", "value": 1}],
        [{"op": "copy", "from": "/metadata/labels/zz", "path": "/x"}],
        [{"op": "add", "path": "/metadata/labels/a/b", "value": 1}],
    ]
    for ops in cases:
        text = json.dumps(_failure(DEPLOYMENT, ops).to_status())
        for python in ("<class", "'", "True", "None", "{'"):
            assert python not in text, (ops, text)


def test_the_field_path_of_a_pointer_is_in_kubernetes_notation():
    assert field_path("/spec/containers/0/image") == "spec.containers[0].image"
    assert field_path("/metadata/labels/app.kubernetes.io~1name") == (
        "metadata.labels[app.kubernetes.io/name]"
    )
    assert field_path("/spec/containers/-") == "spec.containers"


def test_a_strategic_merge_error_shows_the_item_as_json():
    with pytest.raises(ApiError) as info:
        strategic_merge_patch(POD, {"spec": {"containers": [{"image": "x", "tty": True}]}})
    assert info.value.message == (
        'strategic merge patch: the items of "containers" are merged by their "name", which '
        'this item lacks: {"image":"x","tty":true}'
    )


@pytest.mark.parametrize(
    "patch",
    [
        {"metadata": {"$deleteFromPrimitiveList/finalizers": 3}},
        {"metadata": {"$deleteFromPrimitiveList/finalizers": "x"}},
    ],
)
def test_a_malformed_strategic_directive_is_a_bad_request(patch):
    with pytest.raises(ApiError) as info:
        strategic_merge_patch(POD, patch)
    assert info.value.code == 400


def test_set_element_order_tolerates_items_that_are_not_objects():
    out = strategic_merge_patch(
        {"spec": {"containers": [{"name": "a"}, "junk", {"name": "b"}]}},
        {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}], "x": 1}},
    )
    assert out["spec"]["containers"] == [{"name": "b"}, {"name": "a"}, "junk"]


# --- which lists merge by key -----------------------------------------------------------------

NODE = {
    "apiVersion": "v1",
    "kind": "Node",
    "metadata": {"name": "worker-1"},
    "spec": {
        "taints": [
            {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
            {"key": "zone", "value": "a", "effect": "NoExecute"},
        ]
    },
    "status": {"addresses": [{"type": "InternalIP", "address": "192.0.2.10"}]},
}


def test_node_taints_are_atomic_in_a_strategic_merge_patch():
    # Kubernetes' NodeSpec.Taints has no patch strategy: the patch's list replaces it whole.
    one = {"key": "dedicated", "value": "cpu", "effect": "NoSchedule"}
    out = strategic_merge_patch(NODE, {"spec": {"taints": [one]}})
    assert out["spec"]["taints"] == [one]
    assert strategic_merge_patch(NODE, {"spec": {"taints": []}})["spec"]["taints"] == []


@pytest.mark.parametrize(
    ("field", "key"),
    [
        # facts from Kubernetes' types.go: patchStrategy:"merge" patchMergeKey:"..."
        ("containers", "name"),
        ("initContainers", "name"),
        ("ephemeralContainers", "name"),
        ("env", "name"),
        ("ports", "containerPort"),
        ("volumeMounts", "mountPath"),
        ("volumes", "name"),
        ("imagePullSecrets", "name"),
        ("hostAliases", "ip"),
        ("conditions", "type"),
        ("addresses", "type"),
        ("ownerReferences", "uid"),
        ("topologySpreadConstraints", "topologyKey"),
        ("schedulingGates", "name"),
        ("resourceClaims", "name"),
        ("volumeDevices", "devicePath"),
        ("podIPs", "ip"),
        ("hostIPs", "ip"),
    ],
)
def test_keyed_lists_are_those_kubernetes_merges_by_key(field, key):
    assert MERGE_KEYS[field] == key


@pytest.mark.parametrize(
    "field", ["taints", "tolerations", "readinessGates", "containerStatuses", "command", "claims"]
)
def test_lists_without_a_patch_strategy_in_kubernetes_are_atomic(field):
    assert field not in MERGE_KEYS
    assert field not in MERGED_SCALAR_LISTS


def test_node_pod_cidrs_merge_as_a_set_and_scheduling_gates_by_name():
    out = strategic_merge_patch(
        {"spec": {"podCIDRs": ["10.0.0.0/24"], "schedulingGates": [{"name": "a"}]}},
        {"spec": {"podCIDRs": ["fd00::/64"], "schedulingGates": [{"name": "b"}]}},
    )
    assert out["spec"]["podCIDRs"] == ["10.0.0.0/24", "fd00::/64"]
    assert out["spec"]["schedulingGates"] == [{"name": "a"}, {"name": "b"}]
