"""Issue 8 items 13 and 20, object-model side.

13: whether an update changes a spec is decided on decoded, defaulted objects, so it
is semantic: quantities by value, defaults applied to both sides. Kubernetes' pod
update rule (``pod_update_errors``) works on those objects.
20: an ignored (kept, not acted on) field is reported only when it is set to something
other than Kubernetes' default.
"""

from __future__ import annotations

import copy

import pytest

from navarch.api import FieldError, Quantity, decode, dump, load, pod_update_errors


def pod(resources=None, **spec_overrides):
    c = {"name": "web", "image": "web:1"}
    if resources is not None:
        c["resources"] = resources
    spec = {"containers": [c]}
    spec.update(spec_overrides)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": spec}


def typed(data):
    return decode(copy.deepcopy(data)).obj


# --- 13: semantic equality of decoded, defaulted objects --------------------------------


def test_extended_resource_given_as_a_number_equals_its_stored_text():
    created = typed(
        pod({"limits": {"example.com/dongle": 3}, "requests": {"example.com/dongle": 3}})
    )
    stored = dump(created)
    assert stored["spec"]["containers"][0]["resources"]["limits"] == {"example.com/dongle": "3"}
    again = typed(stored)
    assert again.spec == created.spec
    assert dump(again) == stored  # stable
    assert (
        typed(
            pod({"limits": {"example.com/dongle": "3"}, "requests": {"example.com/dongle": 3}})
        ).spec
        == created.spec
    )
    assert (
        pod_update_errors(
            created,
            typed(
                pod({"limits": {"example.com/dongle": 3}, "requests": {"example.com/dongle": "3"}})
            ),
        )
        == []
    )


def test_half_a_cpu_equals_500_millicores_and_is_stored_canonically():
    half = typed(pod({"requests": {"cpu": "0.5", "memory": "1024Mi"}}))
    milli = typed(pod({"requests": {"cpu": "500m", "memory": "1Gi"}}))
    assert half.spec == milli.spec
    assert pod_update_errors(half, milli) == []
    requests = dump(half)["spec"]["containers"][0]["resources"]["requests"]
    assert requests == {"cpu": "500m", "memory": "1Gi"}  # as Kubernetes stores them


def test_an_unchanged_manifest_without_defaults_equals_the_stored_defaulted_object():
    manifest = pod(
        {"limits": {"cpu": "1"}},
        volumes=[{"name": "cfg", "configMap": {"name": "cfg"}}],
        tolerations=[{"key": "k", "effect": "NoSchedule"}],
    )
    manifest["spec"]["containers"][0].update(
        ports=[{"containerPort": 80}],
        livenessProbe={"httpGet": {"port": 80}},
        volumeMounts=[{"name": "cfg", "mountPath": "/etc/cfg"}],
    )
    stored = dump(typed(manifest))
    assert stored != manifest  # the stored object carries the defaults ...
    assert typed(manifest).spec == typed(stored).spec  # ... and still compares equal
    assert pod_update_errors(typed(stored), typed(manifest)) == []
    assert dump(typed(stored)) == stored


def test_an_unchanged_deployment_manifest_equals_the_stored_one():
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "web:1",
                            "resources": {"requests": {"cpu": "0.25"}},
                        }
                    ]
                },
            },
        },
    }
    stored = dump(typed(manifest))
    assert typed(manifest).spec == typed(stored).spec


def test_quantities_are_kept_to_nano_precision_as_kubernetes_does():
    assert Quantity.parse("1.5n") == Quantity.parse("2n")
    assert Quantity.parse("0.1n").canonical() == "1n"


# --- 13: Kubernetes' pod update rule -------------------------------------------------------


def _errors(old_data, new_data) -> list[FieldError]:
    return pod_update_errors(typed(old_data), typed(new_data))


def test_images_may_change():
    old = pod(initContainers=[{"name": "init", "image": "init:1"}])
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "web:2"
    new["spec"]["initContainers"][0]["image"] = "init:2"
    assert _errors(old, new) == []


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s["containers"][0].update(ports=[{"containerPort": 80}]),
        lambda s: s["containers"][0].update(resources={"requests": {"cpu": "1"}}),
        lambda s: s.update(nodeName="node-1"),
        lambda s: s.update(restartPolicy="Never"),
        lambda s: s.update(volumes=[{"name": "v", "emptyDir": {}}]),
        lambda s: s["containers"].append({"name": "extra", "image": "x"}),
        lambda s: s.update(nodeSelector={"disk": "ssd"}),
    ],
)
def test_other_spec_changes_are_forbidden_as_in_kubernetes(change):
    old = pod()
    new = copy.deepcopy(old)
    change(new["spec"])
    errs = _errors(old, new)
    assert [(e.path, e.reason) for e in errs] == [("spec", "FieldValueForbidden")]
    assert errs[0].message.startswith(
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`"
    )


def test_forbidden_message_names_what_changed():
    old = pod()
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["ports"] = [{"containerPort": 80}]
    assert "changed: spec.containers[0].ports" in _errors(old, new)[0].message


def test_active_deadline_may_be_set_or_lowered_only():
    assert _errors(pod(), pod(activeDeadlineSeconds=60)) == []
    assert _errors(pod(activeDeadlineSeconds=60), pod(activeDeadlineSeconds=30)) == []
    raised = _errors(pod(activeDeadlineSeconds=60), pod(activeDeadlineSeconds=90))
    assert [(e.path, e.reason) for e in raised] == [
        ("spec.activeDeadlineSeconds", "FieldValueInvalid")
    ]
    assert "less than or equal to previous value" in raised[0].message
    unset = _errors(pod(activeDeadlineSeconds=60), pod())
    assert [e.path for e in unset] == ["spec.activeDeadlineSeconds"]


def test_tolerations_may_only_be_added():
    one = [{"key": "a", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}]
    two = [*one, {"key": "b", "operator": "Exists"}]
    assert _errors(pod(tolerations=one), pod(tolerations=two)) == []
    shorter = [{**one[0], "tolerationSeconds": 30}]
    assert _errors(pod(tolerations=one), pod(tolerations=shorter)) == []
    removed = _errors(pod(tolerations=two), pod(tolerations=one))
    assert [(e.path, e.reason) for e in removed] == [("spec.tolerations", "FieldValueForbidden")]


def test_grace_period_may_only_go_from_negative_to_one():
    assert (
        _errors(pod(terminationGracePeriodSeconds=-1), pod(terminationGracePeriodSeconds=1)) == []
    )
    assert _errors(pod(), pod(terminationGracePeriodSeconds=1))[0].path == "spec"


def test_scheduling_gates_may_only_be_removed_and_gated_pods_gain_node_selectors():
    gated = pod(schedulingGates=[{"name": "a"}, {"name": "b"}], nodeSelector={"zone": "x"})
    assert _errors(gated, pod(schedulingGates=[{"name": "a"}], nodeSelector={"zone": "x"})) == []
    added = _errors(
        gated,
        pod(
            schedulingGates=[{"name": "a"}, {"name": "b"}, {"name": "c"}],
            nodeSelector={"zone": "x"},
        ),
    )
    assert [(e.path, e.reason) for e in added] == [
        ("spec.schedulingGates[2]", "FieldValueForbidden")
    ]
    more = pod(
        schedulingGates=[{"name": "a"}, {"name": "b"}], nodeSelector={"zone": "x", "disk": "ssd"}
    )
    assert _errors(gated, more) == []
    changed = pod(schedulingGates=[{"name": "a"}, {"name": "b"}], nodeSelector={"zone": "y"})
    assert [e.path for e in _errors(gated, changed)] == ["spec.nodeSelector[zone]"]


# --- 20: warn only about ignored fields set to something other than the default ----------


def test_kubectl_run_draws_no_ignored_field_warning():
    # What `kubectl run web --image=web:1` sends.
    body = {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": "web", "creationTimestamp": None, "labels": {"run": "web"}},
        "spec": {
            "containers": [{"name": "web", "image": "web:1", "resources": {}}],
            "restartPolicy": "Always",
            "dnsPolicy": "ClusterFirst",
        },
        "status": {},
    }
    assert load(body).ignored == ()


def test_a_pod_read_back_from_kubernetes_draws_no_warning():
    # The defaults Kubernetes and its admission plugins fill in, as `kubectl get -o yaml`
    # shows them, re-applied unchanged.
    data = pod(
        dnsPolicy="ClusterFirst",
        enableServiceLinks=True,
        preemptionPolicy="PreemptLowerPriority",
        serviceAccountName="default",
        serviceAccount="default",
        securityContext={},
        hostNetwork=False,
    )
    data["spec"]["containers"][0].update(
        terminationMessagePath="/dev/termination-log",
        terminationMessagePolicy="File",
        stdin=False,
        tty=False,
        securityContext={},
    )
    assert load(data).ignored == ()


def test_non_default_ignored_fields_are_reported_once_at_their_top():
    data = pod(
        dnsPolicy="Default",  # acted on (the pod's resolv.conf): never reported
        shareProcessNamespace=True,
        volumes=[{"name": "c", "configMap": {"name": "c", "defaultMode": 256}}],
    )
    data["spec"]["containers"][0].update(
        tty=True,  # acted on (exec, attach): never reported
        securityContext={"runAsUser": 1000},
        terminationMessagePolicy="FallbackToLogsOnError",
    )
    assert sorted(load(data).ignored) == [
        "spec.containers[0].securityContext",
        "spec.containers[0].terminationMessagePolicy",
        "spec.shareProcessNamespace",
    ]  # spec.volumes is acted on (the agent's volumes): never reported


def test_kubernetes_defaults_are_stored():
    spec = dump(load(pod(volumes=[{"name": "v"}])).obj)["spec"]
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["enableServiceLinks"] is True
    assert spec["securityContext"] == {}
    assert spec["volumes"] == [{"name": "v", "emptyDir": {}}]
    assert spec["containers"][0]["terminationMessagePath"] == "/dev/termination-log"


def test_pod_only_defaults_are_not_given_to_templates():
    data = pod({"limits": {"cpu": "1"}}, hostNetwork=True)
    data["spec"]["containers"][0]["ports"] = [{"containerPort": 8080}]
    template_spec = copy.deepcopy(data["spec"])
    spec = dump(load(data).obj)["spec"]
    assert spec["enableServiceLinks"] is True
    assert spec["containers"][0]["resources"]["requests"] == {"cpu": "1"}  # from the limit
    assert spec["containers"][0]["ports"][0]["hostPort"] == 8080
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": template_spec,
            },
        },
    }
    template = dump(load(deployment).obj)["spec"]["template"]["spec"]
    assert "enableServiceLinks" not in template
    assert template["dnsPolicy"] == "ClusterFirst"
    assert "requests" not in template["containers"][0]["resources"]


def test_resource_lists_are_rounded_up_to_thousandths_as_kubernetes_does():
    data = pod({"requests": {"cpu": "100u", "memory": "1.5"}, "limits": {"cpu": "0.0015"}})
    resources = dump(load(data).obj)["spec"]["containers"][0]["resources"]
    assert resources == {"requests": {"cpu": "1m", "memory": "1500m"}, "limits": {"cpu": "2m"}}


def test_node_allocatable_defaults_to_capacity():
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "n"},
        "status": {"capacity": {"cpu": "2", "memory": "1Gi"}},
    }
    assert dump(load(node).obj)["status"]["allocatable"] == {"cpu": "2", "memory": "1Gi"}
