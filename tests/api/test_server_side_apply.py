"""Server-side apply as pure functions: field sets, FieldsV1, ownership, conflicts, pruning."""

from __future__ import annotations

import copy
import json

import pytest

from navarch.apiserver.apply import (
    Manager,
    apply,
    check_options,
    fieldset,
    lastapplied,
    manager_name,
    record_update,
    schema,
    writes,
)
from navarch.apiserver.errors import ApiError

T0, T1, T2 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"
KUBECTL = Manager("kubectl", "Apply", "apps/v1")
CSA = Manager("kubectl-client-side-apply", "Update", "apps/v1")
SCALE = Manager("kubectl-scale", "Update", "apps/v1", "scale")


def deployment(replicas: int = 2, image: str = "nginx:1", labels: dict | None = None) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": labels or {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "nginx", "image": image, "ports": [{"containerPort": 80}]}
                    ]
                },
            },
        },
    }


def entry(obj: dict, manager: str, operation: str = "Apply") -> dict:
    found = [
        e
        for e in obj["metadata"]["managedFields"]
        if e["manager"] == manager and e["operation"] == operation
    ]
    assert len(found) == 1, obj["metadata"]["managedFields"]
    return found[0]


# --- field sets ---------------------------------------------------------------------------


def test_fields_of_an_apply_configuration_in_fieldsv1_form():
    fields = fieldset.fields_of(fieldset.tracked(deployment()))
    nginx = 'k:{"name":"nginx"}'
    port = 'k:{"containerPort":80,"protocol":"TCP"}'  # protocol defaults into the key
    assert fieldset.to_fields_v1(fields) == {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {
            "f:replicas": {},
            "f:selector": {},  # a LabelSelector is atomic
            "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:containers": {
                        nginx: {
                            ".": {},
                            "f:image": {},
                            "f:name": {},
                            "f:ports": {port: {".": {}, "f:containerPort": {}}},
                        }
                    }
                },
            },
        },
    }
    assert fieldset.from_fields_v1(fieldset.to_fields_v1(fields)) == fields


def test_server_metadata_is_never_owned():
    obj = deployment()
    obj["metadata"].update(uid="u", resourceVersion="5", generation=3, creationTimestamp=T0)
    paths = fieldset.fields_of(fieldset.tracked(obj))
    assert not [p for p in paths if p[:2] != ("f:metadata", "f:labels") and p[0] == "f:metadata"]
    assert not [p for p in paths if p[0] in ("f:apiVersion", "f:kind")]


def test_path_text_as_kubernetes_prints_it():
    path = ("f:spec", "f:containers", 'k:{"name":"nginx"}', "f:image")
    assert fieldset.path_text(path) == '.spec.containers[name="nginx"].image'
    port = ("f:ports", 'k:{"containerPort":80,"protocol":"TCP"}')
    assert fieldset.path_text(port) == '.ports[containerPort=80,protocol="TCP"]'
    assert fieldset.path_text(("f:metadata", "f:finalizers", 'v:"a/b"')) == (
        '.metadata.finalizers[="a/b"]'
    )


def test_compare_sees_items_by_key_and_sets_by_value():
    old = {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]}}
    new = {"spec": {"containers": [{"name": "b", "image": "2"}, {"name": "c", "image": "1"}]}}
    old["metadata"] = {"finalizers": ["x"]}
    new["metadata"] = {"finalizers": ["x", "y"]}
    changes = fieldset.compare(old, new)
    a, b, c = (fieldset.key_element({"name": n}) for n in "abc")
    containers = ("f:spec", "f:containers")
    assert changes.modified == {(*containers, b, "f:image")}
    assert changes.added == {
        (*containers, c),
        (*containers, c, "f:name"),
        (*containers, c, "f:image"),
        ("f:metadata", "f:finalizers", 'v:"y"'),
    }
    assert changes.removed == {
        (*containers, a),
        (*containers, a, "f:name"),
        (*containers, a, "f:image"),
    }


# --- Update -------------------------------------------------------------------------------


def test_create_gives_every_set_field_to_its_writer():
    obj = deployment()
    record_update(None, obj, CSA, T0)
    created = entry(obj, "kubectl-client-side-apply", "Update")
    assert created["apiVersion"] == "apps/v1" and created["time"] == T0
    assert created["fieldsType"] == "FieldsV1"
    assert created["fieldsV1"]["f:spec"]["f:replicas"] == {}


def test_an_update_takes_the_fields_it_changes_from_others():
    live = deployment()
    record_update(None, live, CSA, T0)
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 5
    record_update(live, scaled, SCALE, T1)
    assert entry(scaled, "kubectl-scale", "Update")["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert entry(scaled, "kubectl-scale", "Update")["subresource"] == "scale"
    assert (
        "f:replicas"
        not in entry(scaled, "kubectl-client-side-apply", "Update")["fieldsV1"]["f:spec"]
    )


def test_an_update_that_sends_no_managed_fields_keeps_them_and_an_empty_list_clears_them():
    live = deployment()
    record_update(None, live, CSA, T0)
    edited = copy.deepcopy(live)
    del edited["metadata"]["managedFields"]
    edited["metadata"]["labels"]["tier"] = "x"
    record_update(live, edited, Manager("kubectl-edit", "Update", "apps/v1"), T1)
    assert {e["manager"] for e in edited["metadata"]["managedFields"]} == {
        "kubectl-client-side-apply",
        "kubectl-edit",
    }
    cleared = copy.deepcopy(live)
    cleared["metadata"]["managedFields"] = []
    record_update(live, cleared, Manager("kubectl-edit", "Update", "apps/v1"), T1)
    assert "managedFields" not in cleared["metadata"]  # nothing changed, nothing to own


def test_status_is_not_gained_through_the_main_resource():
    live = deployment()
    new = copy.deepcopy(live)
    new["status"] = {"replicas": 3}
    record_update(None, new, CSA, T0, untracked=("status",))
    assert "f:status" not in entry(new, "kubectl-client-side-apply", "Update")["fieldsV1"]


# --- Apply --------------------------------------------------------------------------------


def test_apply_creates_and_a_second_identical_apply_changes_nothing():
    created = apply(None, deployment(), KUBECTL, T0, force=False)
    assert created["spec"]["replicas"] == 2
    mine = entry(created, "kubectl")
    assert mine["apiVersion"] == "apps/v1" and mine["time"] == T0
    again = apply(created, deployment(), KUBECTL, T1, force=False)
    assert again == created  # same object, same managedFields, same time: a no-op


def test_applying_a_field_another_manager_changed_is_a_conflict_naming_both():
    live = apply(None, deployment(), KUBECTL, T0, force=False)
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 5
    record_update(live, scaled, Manager("kubectl-client-side-apply", "Update", "v1"), T1)
    with pytest.raises(ApiError) as info:
        apply(scaled, deployment(replicas=3), KUBECTL, T2, force=False)
    err = info.value
    assert (err.code, err.reason) == (409, "Conflict")
    assert err.message == (
        'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: '
        ".spec.replicas"
    )
    assert err.details == {
        "causes": [
            {
                "reason": "FieldManagerConflict",
                "message": 'conflict with "kubectl-client-side-apply" using v1',
                "field": ".spec.replicas",
            }
        ]
    }


def test_force_moves_the_ownership():
    live = apply(None, deployment(), KUBECTL, T0, force=False)
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 5
    record_update(live, scaled, SCALE, T1)
    forced = apply(scaled, deployment(replicas=3), KUBECTL, T2, force=True)
    assert forced["spec"]["replicas"] == 3
    assert "kubectl-scale" not in {e["manager"] for e in forced["metadata"]["managedFields"]}
    assert entry(forced, "kubectl")["fieldsV1"]["f:spec"]["f:replicas"] == {}


def test_applying_the_value_already_there_shares_the_field():
    live = apply(None, deployment(), KUBECTL, T0, force=False)
    other = Manager("ci", "Apply", "apps/v1")
    shared = apply(
        live,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"replicas": 2},
        },
        other,
        T1,
        force=False,
    )
    assert entry(shared, "ci")["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert entry(shared, "kubectl")["fieldsV1"]["f:spec"]["f:replicas"] == {}
    with pytest.raises(ApiError) as info:  # now a change by either conflicts with the other
        apply(shared, deployment(replicas=4), KUBECTL, T2, force=False)
    assert info.value.details["causes"][0]["message"] == 'conflict with "ci"'


def test_several_conflicts_are_listed_by_manager():
    live = apply(None, deployment(), KUBECTL, T0, force=False)
    changed = copy.deepcopy(live)
    changed["spec"]["replicas"] = 5
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    record_update(live, changed, Manager("kubectl-edit", "Update", "apps/v1"), T1)
    with pytest.raises(ApiError) as info:
        apply(changed, deployment(), KUBECTL, T2, force=False)
    assert info.value.message == (
        'Apply failed with 2 conflicts: conflicts with "kubectl-edit" using apps/v1:\n'
        '- .spec.replicas\n- .spec.template.spec.containers[name="nginx"].image'
    )


def test_fields_no_longer_applied_are_removed_unless_someone_else_owns_them():
    live = apply(
        None, deployment(labels={"app": "web", "tier": "a", "team": "b"}), KUBECTL, T0, force=False
    )
    labelled = copy.deepcopy(live)
    labelled["metadata"]["labels"]["team"] = "c"  # kubectl label takes "team"
    record_update(live, labelled, Manager("kubectl-label", "Update", "apps/v1"), T1)
    out = apply(labelled, deployment(labels={"app": "web"}), KUBECTL, T2, force=False)
    assert out["metadata"]["labels"] == {"app": "web", "team": "c"}


def test_a_container_no_longer_applied_is_removed_and_the_others_merge_by_name():
    two = deployment()
    two["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "side:1"})
    live = apply(None, two, KUBECTL, T0, force=False)
    # a defaulted field set by nobody's apply stays on the container that remains
    live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    out = apply(live, deployment(image="nginx:2"), KUBECTL, T1, force=False)
    containers = out["spec"]["template"]["spec"]["containers"]
    assert containers == [
        {
            "name": "nginx",
            "image": "nginx:2",
            "ports": [{"containerPort": 80}],
            "imagePullPolicy": "IfNotPresent",
        }
    ]


def test_the_last_pruned_label_takes_its_empty_map_with_it():
    live = apply(None, deployment(labels={"app": "web"}), KUBECTL, T0, force=False)
    config = deployment()
    del config["metadata"]["labels"]
    out = apply(live, config, KUBECTL, T1, force=False)
    assert "labels" not in out["metadata"]


def test_an_apply_configuration_may_not_carry_managed_fields():
    config = deployment()
    config["metadata"]["managedFields"] = []
    with pytest.raises(ApiError) as info:
        apply(None, config, KUBECTL, T0, force=False)
    assert info.value.code == 400


# --- request options ------------------------------------------------------------------------


def test_manager_name_defaults_to_the_user_agent_product():
    assert manager_name("mine", "kubectl/v1.32.4 (linux/amd64)") == "mine"
    assert manager_name(None, "kubectl/v1.32.4 (linux/amd64) kubernetes/abc") == "kubectl"
    assert manager_name("", "OpenAPI-Generator/33.1.0/python") == "OpenAPI-Generator"
    assert manager_name(None, None) == "unknown"


def test_apply_requires_a_field_manager_and_force_belongs_to_apply():
    with pytest.raises(ApiError) as info:
        check_options(None, None, apply=True)
    assert (info.value.code, info.value.reason) == (422, "Invalid")
    assert info.value.message == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
        "is required for apply patch"
    )
    with pytest.raises(ApiError):
        check_options("x", "true", apply=False)
    with pytest.raises(ApiError):
        check_options("x" * 129, None, apply=True)
    assert check_options("kubectl", "true", apply=True) is True
    assert check_options("kubectl", None, apply=True) is False


# --- from client-side apply to server-side apply ----------------------------------------------


def client_side_applied(replicas: int = 2) -> dict:
    """A deployment as ``kubectl apply`` (client-side) leaves it."""
    obj = deployment(replicas)
    last = copy.deepcopy(obj)
    obj["metadata"]["annotations"] = {lastapplied.ANNOTATION: json.dumps(last)}
    record_update(None, obj, CSA, T0)
    return obj


def test_kubectl_moves_from_client_side_apply_without_conflicts():
    live = client_side_applied()
    out = apply(live, deployment(replicas=4), KUBECTL, T1, force=False)
    assert out["spec"]["replicas"] == 4
    # the annotation follows what was applied, so a later client-side apply agrees
    assert json.loads(out["metadata"]["annotations"][lastapplied.ANNOTATION]) == deployment(4)


def test_only_kubectl_and_only_unchanged_fields_move_without_conflicts():
    with pytest.raises(ApiError):  # another manager name opts out
        apply(
            client_side_applied(), deployment(4), Manager("ci", "Apply", "apps/v1"), T1, force=False
        )
    live = client_side_applied()
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 7  # changed since the last client-side apply
    record_update(live, scaled, CSA, T1)
    with pytest.raises(ApiError) as info:
        apply(scaled, deployment(replicas=4), KUBECTL, T2, force=False)
    assert info.value.details["causes"][0]["field"] == ".spec.replicas"


# --- the storage's side: settle() after admission -------------------------------------------


def settled(old: dict | None, new: dict, **kw) -> dict:
    sent = writes.lift(new)
    options = dict(field_manager="", applied=False, api_version="apps/v1", subresource="")
    writes.settle(old, new, sent, has_status=True, now=T1, **{**options, **kw})
    return new


def test_the_servers_own_writes_keep_managed_fields_as_they_were():
    live = apply(None, deployment(), KUBECTL, T0, force=False)
    changed = copy.deepcopy(live)
    del changed["metadata"]["managedFields"]  # a loop that rebuilt the object
    changed["spec"]["replicas"] = 9
    out = settled(live, changed)
    assert out["metadata"]["managedFields"] == live["metadata"]["managedFields"]


def test_a_status_write_owns_only_status_and_the_main_resource_never_owns_status():
    assert writes.untracked(True, "status") == ("metadata", "spec")
    assert writes.untracked(True, "") == ("status",)
    assert writes.untracked(False, "") == ()
    live = apply(None, deployment(), KUBECTL, T0, force=False)
    new = copy.deepcopy(live)
    new["status"] = {"replicas": 2}
    out = settled(live, new, field_manager="controller", subresource="status")
    assert entry(out, "controller", "Update")["fieldsV1"] == {"f:status": {"f:replicas": {}}}
    assert entry(out, "controller", "Update")["subresource"] == "status"


def test_old_update_entries_fold_into_ancient_changes():
    obj = deployment()
    record_update(None, obj, CSA, T0)
    for n in range(12):  # twelve more writers, each changing the replicas and one label
        new = copy.deepcopy(obj)
        new["spec"]["replicas"] = n + 10
        new["metadata"]["labels"][f"l{n}"] = "x"
        record_update(
            obj, new, Manager(f"writer-{n}", "Update", "apps/v1"), f"2026-01-01T01:{n:02}:00Z"
        )
        obj = new
    names = [e["manager"] for e in obj["metadata"]["managedFields"]]
    assert len(names) == 10 and "ancient-changes" in names
    assert "writer-11" in names and "writer-0" not in names
    ancient = entry(obj, "ancient-changes", "Update")["fieldsV1"]
    assert "f:l0" in ancient["f:metadata"]["f:labels"]  # nothing owned is lost


# --- atomic lists ---------------------------------------------------------------------------

NODE_APPLY = Manager("kubectl", "Apply", "v1")


def node(*taints: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "worker-1"},
        "spec": {"taints": list(taints)},
    }


GPU = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
ZONE = {"key": "zone", "value": "a", "effect": "NoExecute"}


def test_node_taints_are_one_atomic_field_replaced_whole():
    # Kubernetes' NodeSpec.Taints is +listType=atomic: one field, owned and replaced whole.
    live = apply(None, node(GPU, ZONE), NODE_APPLY, T0, force=False)
    assert entry(live, "kubectl")["fieldsV1"]["f:spec"] == {"f:taints": {}}
    cpu = {**GPU, "value": "cpu"}
    out = apply(live, node(cpu), NODE_APPLY, T1, force=False)
    assert out["spec"]["taints"] == [cpu]


def test_applying_an_empty_taint_list_clears_the_taints():
    live = apply(None, node(GPU, ZONE), NODE_APPLY, T0, force=False)
    out = apply(live, node(), NODE_APPLY, T1, force=False)
    assert not out["spec"].get("taints")


def test_keyed_lists_of_apply_follow_kubernetes_list_map_keys():
    assert schema.LIST_MAP_KEYS["ports"] == ("containerPort", "protocol")
    assert schema.LIST_MAP_KEYS["containers"] == ("name",)
    assert schema.LIST_MAP_KEYS["conditions"] == ("type",)
    assert schema.LIST_MAP_KEYS["topologySpreadConstraints"] == (
        "topologyKey",
        "whenUnsatisfiable",
    )
    assert schema.LIST_MAP_KEYS["claims"] == ("name",)  # a map in apply, atomic in a patch
    for atomic in ("taints", "tolerations", "readinessGates", "command", "hostIPs"):
        assert atomic not in schema.LIST_MAP_KEYS and atomic not in schema.SET_LISTS
    assert sorted(schema.SET_LISTS) == ["finalizers", "podCIDRs"]
