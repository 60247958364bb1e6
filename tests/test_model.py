"""Object model: defaults, validation (exact field paths), ignored and unknown fields,
and the documentation manifests' round trip."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from navarch.api import InvalidObject, UnknownKind, dump, load
from navarch.api.defaults import image_pull_policy
from navarch.apiserver.errors import from_invalid_object

MANIFESTS = Path(__file__).parent / "fixtures" / "manifests"


def pod(**spec_overrides):
    spec = {"containers": [{"name": "web", "image": "127.0.0.1:5000/web:1.0"}]}
    spec.update(spec_overrides)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": spec}


def deployment(**spec_overrides):
    spec = {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "web:1"}]},
        },
    }
    spec.update(spec_overrides)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": spec,
    }


# --- round trip ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["nginx-deployment.yaml", "pod-probes.yaml", "node.yaml"])
def test_documentation_manifests_round_trip(name):
    original = yaml.safe_load((MANIFESTS / name).read_text())
    loaded = load(copy.deepcopy(original), defaults=False)
    assert dump(loaded.obj) == original
    # ... and with Kubernetes' defaults applied they are still valid.
    load(copy.deepcopy(original))


def test_ignored_fields_are_kept_and_reported():
    original = yaml.safe_load((MANIFESTS / "pod-probes.yaml").read_text())
    # Volumes and their mounts are acted on since issue 23 (the agent sets them up);
    # a field Navarch still only keeps is reported.
    original["spec"]["runtimeClassName"] = "gvisor"
    loaded = load(copy.deepcopy(original))
    assert set(loaded.ignored) == {"spec.runtimeClassName"}
    out = dump(loaded.obj)
    assert out["spec"]["containers"][0]["livenessProbe"]["httpGet"]["path"] == "/healthz"


# --- defaults ------------------------------------------------------------------------


def test_pod_defaults():
    out = dump(
        load(
            pod(
                tolerations=[{"key": "k", "value": "v", "effect": "NoSchedule"}],
                containers=[{"name": "web", "image": "web", "ports": [{"containerPort": 80}]}],
            )
        ).obj
    )
    assert out["metadata"]["namespace"] == "default"
    assert out["spec"]["restartPolicy"] == "Always"
    assert out["spec"]["terminationGracePeriodSeconds"] == 30
    assert out["spec"]["schedulerName"] == "default-scheduler"
    assert out["spec"]["containers"][0]["imagePullPolicy"] == "Always"
    assert out["spec"]["containers"][0]["ports"][0]["protocol"] == "TCP"
    assert out["spec"]["tolerations"][0]["operator"] == "Equal"


def test_defaults_do_not_override_given_values():
    data = pod(restartPolicy="Never")
    data["metadata"]["namespace"] = "team-a"
    out = dump(load(data).obj)
    assert (out["metadata"]["namespace"], out["spec"]["restartPolicy"]) == ("team-a", "Never")


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("127.0.0.1:5000/app", "Always"),
        ("127.0.0.1:5000/app:2", "IfNotPresent"),
        ("app@sha256:" + "a" * 64, "IfNotPresent"),
        ("127.0.0.1:5000/app:latest", "Always"),
    ],
)
def test_image_pull_policy_by_tag(image, policy):
    assert image_pull_policy(image) == policy


def test_deployment_defaults():
    data = deployment()
    del data["spec"]["replicas"]
    spec = dump(load(data).obj)["spec"]
    assert spec["replicas"] == 1
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert spec["template"]["spec"]["restartPolicy"] == "Always"


def test_cluster_scoped_kinds_get_no_namespace():
    out = dump(load({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}).obj)
    assert "namespace" not in out["metadata"]


# --- validation: every error, exact paths --------------------------------------------


def _set(path: str, value):
    def change(data):
        *parents, leaf = path.split(".")
        node = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if leaf.isdigit():
            node[int(leaf)] = value
        else:
            node[leaf] = value
        return data

    return change


AFFINITY_TERM = (
    "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
)


def _affinity(expression):
    term = {"matchExpressions": [expression]}
    required = {"nodeSelectorTerms": [term]}
    return _set(
        "spec.affinity",
        {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required}},
    )


BAD_PODS = [
    (_set("metadata.name", "Web_1"), "metadata.name", "FieldValueInvalid"),
    (_set("metadata.name", "a" * 254), "metadata.name", "FieldValueInvalid"),
    (_set("metadata.name", ""), "metadata.name", "FieldValueRequired"),
    (_set("metadata.namespace", "Team A"), "metadata.namespace", "FieldValueInvalid"),
    (_set("metadata.labels", {"-bad": "x"}), "metadata.labels", "FieldValueInvalid"),
    (_set("metadata.labels", {"app": "x" * 64}), "metadata.labels", "FieldValueInvalid"),
    (_set("metadata.labels", {"a/b/c": "x"}), "metadata.labels", "FieldValueInvalid"),
    (_set("metadata.labels", {"app": 5}), "metadata.labels[app]", "FieldValueTypeInvalid"),
    (
        _set("metadata.annotations", {"k": "x" * (256 * 1024)}),
        "metadata.annotations",
        "FieldValueTooLong",
    ),
    (_set("spec.containers", []), "spec.containers", "FieldValueRequired"),
    (_set("spec.containers.0.image", ""), "spec.containers[0].image", "FieldValueRequired"),
    (_set("spec.containers.0.image", 7), "spec.containers[0].image", "FieldValueTypeInvalid"),
    (_set("spec.containers.0.name", "Web"), "spec.containers[0].name", "FieldValueInvalid"),
    (
        _set("spec.containers.0.imagePullPolicy", "Sometimes"),
        "spec.containers[0].imagePullPolicy",
        "FieldValueNotSupported",
    ),
    (
        _set("spec.containers.0.ports", [{"containerPort": 0}]),
        "spec.containers[0].ports[0].containerPort",
        "FieldValueInvalid",
    ),
    (
        _set("spec.containers.0.ports", [{"containerPort": 80, "protocol": "HTTP"}]),
        "spec.containers[0].ports[0].protocol",
        "FieldValueNotSupported",
    ),
    (
        _set("spec.containers.0.ports", [{}]),
        "spec.containers[0].ports[0].containerPort",
        "FieldValueRequired",
    ),
    (
        _set("spec.containers.0.env", [{"name": "1X"}]),
        "spec.containers[0].env[0].name",
        "FieldValueInvalid",
    ),
    (
        _set("spec.containers.0.resources", {"limits": {"cpu": "2 cores"}}),
        "spec.containers[0].resources.limits[cpu]",
        "FieldValueInvalid",
    ),
    (
        _set("spec.containers.0.resources", {"requests": {"memory": "-1Gi"}}),
        "spec.containers[0].resources.requests[memory]",
        "FieldValueInvalid",
    ),
    (
        _set("spec.containers.0.resources", {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}),
        "spec.containers[0].resources.requests[cpu]",
        "FieldValueInvalid",
    ),
    (_set("spec.containers.0.bogus", 1), "spec.containers[0].bogus", "FieldValueUnknown"),
    (_set("spec.restartPolicy", "Sometimes"), "spec.restartPolicy", "FieldValueNotSupported"),
    (
        _set("spec.terminationGracePeriodSeconds", -1),
        "spec.terminationGracePeriodSeconds",
        "FieldValueInvalid",
    ),
    (
        _set("spec.terminationGracePeriodSeconds", "30"),
        "spec.terminationGracePeriodSeconds",
        "FieldValueTypeInvalid",
    ),
    (_set("spec.hostNetwork", "yes"), "spec.hostNetwork", "FieldValueTypeInvalid"),
    (_set("spec.nodeSelector", {"disk type": "ssd"}), "spec.nodeSelector", "FieldValueInvalid"),
    (
        _set("spec.tolerations", [{"operator": "Maybe"}]),
        "spec.tolerations[0].operator",
        "FieldValueNotSupported",
    ),
    (
        _set("spec.tolerations", [{"key": "k", "operator": "Exists", "value": "v"}]),
        "spec.tolerations[0].operator",
        "FieldValueInvalid",
    ),
    (
        _set("spec.tolerations", [{"key": "k", "effect": "Never"}]),
        "spec.tolerations[0].effect",
        "FieldValueNotSupported",
    ),
    (
        _affinity({"key": "zone", "operator": "Near", "values": ["a"]}),
        f"{AFFINITY_TERM}.matchExpressions[0].operator",
        "FieldValueNotSupported",
    ),
    (
        _affinity({"key": "zone", "operator": "In"}),
        f"{AFFINITY_TERM}.matchExpressions[0].values",
        "FieldValueInvalid",
    ),
    (_set("spec.specialField", True), "spec.specialField", "FieldValueUnknown"),
    (_set("apiVersion", "v2"), None, None),  # unknown kind: a different error type
]


@pytest.mark.parametrize(("change", "path", "reason"), BAD_PODS)
def test_bad_pods_report_exact_paths(change, path, reason):
    data = change(pod())
    if path is None:
        with pytest.raises(UnknownKind, match="Navarch serves"):
            load(data)
        return
    with pytest.raises(InvalidObject) as info:
        load(data)
    found = [(e.path, e.reason) for e in info.value.errors]
    assert (path, reason) in found
    status = from_invalid_object(info.value).to_status()
    assert status["code"] == 422 and status["reason"] == "Invalid"
    assert {"field": path, "reason": reason} in [
        {k: c[k] for k in ("field", "reason")} for c in status["details"]["causes"]
    ]


BAD_DEPLOYMENTS = [
    (_set("spec.replicas", -1), "spec.replicas", "FieldValueInvalid"),
    (_set("spec.replicas", "3"), "spec.replicas", "FieldValueTypeInvalid"),
    (
        _set("spec.selector", {"matchLabels": {"app": "other"}}),
        "spec.template.metadata.labels",
        "FieldValueInvalid",
    ),
    (_set("spec.selector", {}), "spec.selector", "FieldValueInvalid"),
    (
        _set(
            "spec.selector",
            {"matchExpressions": [{"key": "app", "operator": "Like", "values": ["x"]}]},
        ),
        "spec.selector.matchExpressions[0].operator",
        "FieldValueNotSupported",
    ),
    (
        _set(
            "spec.selector",
            {"matchExpressions": [{"key": "app", "operator": "Exists", "values": ["x"]}]},
        ),
        "spec.selector.matchExpressions[0]",
        "FieldValueInvalid",
    ),
    (
        _set("spec.template.spec.restartPolicy", "Never"),
        "spec.template.spec.restartPolicy",
        "FieldValueNotSupported",
    ),
    (
        _set("spec.template.spec.containers", []),
        "spec.template.spec.containers",
        "FieldValueRequired",
    ),
    (_set("spec.strategy", {"type": "Blue"}), "spec.strategy.type", "FieldValueNotSupported"),
    (
        _set(
            "spec.strategy",
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}},
        ),
        "spec.strategy.rollingUpdate.maxUnavailable",
        "FieldValueInvalid",
    ),
    (
        _set("spec.strategy", {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "lots"}}),
        "spec.strategy.rollingUpdate.maxSurge",
        "FieldValueInvalid",
    ),
    (
        _set("spec.strategy", {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1.5}}),
        "spec.strategy.rollingUpdate.maxSurge",
        "FieldValueTypeInvalid",
    ),
    (
        _set("spec.strategy", {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}),
        "spec.strategy.rollingUpdate",
        "FieldValueForbidden",
    ),
    (_set("spec.revisionHistoryLimit", -2), "spec.revisionHistoryLimit", "FieldValueInvalid"),
    (_set("spec.progressDeadlineSeconds", 5), "spec.progressDeadlineSeconds", "FieldValueInvalid"),
    (_set("spec.paused", "no"), "spec.paused", "FieldValueTypeInvalid"),
]


@pytest.mark.parametrize(("change", "path", "reason"), BAD_DEPLOYMENTS)
def test_bad_deployments_report_exact_paths(change, path, reason):
    data = change(deployment(minReadySeconds=10))
    with pytest.raises(InvalidObject) as info:
        load(data)
    assert (path, reason) in [(e.path, e.reason) for e in info.value.errors]


def test_every_error_is_reported_at_once():
    data = pod(restartPolicy="Sometimes", containers=[{"name": "Web", "image": "", "x": 1}])
    data["metadata"]["name"] = "Bad_Name"
    with pytest.raises(InvalidObject) as info:
        load(data)
    assert sorted(e.path for e in info.value.errors) == [
        "metadata.name",
        "spec.containers[0].image",
        "spec.containers[0].name",
        "spec.containers[0].x",
        "spec.restartPolicy",
    ]
    assert info.value.message().startswith('Pod "Bad_Name" is invalid: [')


def test_duplicate_container_names():
    data = pod(containers=[{"name": "a", "image": "x"}, {"name": "a", "image": "y"}])
    with pytest.raises(InvalidObject) as info:
        load(data)
    assert [(e.path, e.reason) for e in info.value.errors] == [
        ("spec.containers[1].name", "FieldValueDuplicate")
    ]


def test_namespace_on_cluster_scoped_kind_is_forbidden():
    data = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n", "namespace": "x"}}
    with pytest.raises(InvalidObject) as info:
        load(data)
    assert [(e.path, e.reason) for e in info.value.errors] == [
        ("metadata.namespace", "FieldValueForbidden")
    ]


@pytest.mark.parametrize(
    ("taint", "path", "reason"),
    [
        ({"key": "k", "effect": "Sometimes"}, "spec.taints[0].effect", "FieldValueNotSupported"),
        ({"key": "k"}, "spec.taints[0].effect", "FieldValueRequired"),
        ({"effect": "NoSchedule"}, "spec.taints[0].key", "FieldValueRequired"),
    ],
)
def test_bad_node_taints(taint, path, reason):
    data = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "n"},
        "spec": {"taints": [taint]},
    }
    with pytest.raises(InvalidObject) as info:
        load(data)
    assert (path, reason) in [(e.path, e.reason) for e in info.value.errors]


def test_namespace_names_are_dns_labels():
    with pytest.raises(InvalidObject) as info:
        load({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}})
    assert info.value.errors[0].path == "metadata.name"


@pytest.mark.parametrize("body", [[], "x", 5, None])
def test_non_objects_are_rejected(body):
    with pytest.raises(InvalidObject):
        load(body)


def test_event_and_lease_validation():
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"}, "type": "Odd"}
    with pytest.raises(InvalidObject) as info:
        load(event)
    assert sorted(e.path for e in info.value.errors) == ["involvedObject", "type"]
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "node-1", "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 0},
    }
    with pytest.raises(InvalidObject) as info:
        load(lease)
    assert [e.path for e in info.value.errors] == ["spec.leaseDurationSeconds"]
