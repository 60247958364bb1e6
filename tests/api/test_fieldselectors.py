"""Field selectors: the fields Kubernetes supports per kind, with =, == and !=."""

from __future__ import annotations

import pytest

from navarch.apiserver import fieldselectors
from navarch.apiserver.errors import ApiError
from navarch.resources.registry import registry

EVENT = {
    "metadata": {"name": "web-1.17a", "namespace": "default"},
    "involvedObject": {
        "kind": "Pod",
        "namespace": "default",
        "name": "web-1",
        "uid": "0b1c",
        "apiVersion": "v1",
        "fieldPath": "spec.containers{web}",
    },
    "reason": "FailedScheduling",
    "type": "Warning",
    "source": {"component": "default-scheduler"},
    "reportingComponent": "default-scheduler",
}
POD = {
    "metadata": {"name": "web-1", "namespace": "default"},
    "spec": {
        "nodeName": "worker-1",
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "serviceAccountName": "builder",
        "hostNetwork": True,
    },
    "status": {
        "phase": "Running",
        "podIP": "10.0.0.7",
        "podIPs": [{"ip": "10.0.0.7"}],
        "nominatedNodeName": "worker-2",
    },
}


def matches(resource: str, text: str, obj: dict) -> bool:
    return fieldselectors.parse(text, _res(resource)).matches(obj)


def _res(plural: str):
    return registry().resolve(plural)


def test_kubectl_describe_event_selector_matches_the_pods_events():
    # What kubectl describe pod sends (regression: this answered 400 before).
    text = (
        "involvedObject.name=web-1,involvedObject.namespace=default,"
        "involvedObject.kind=Pod,involvedObject.uid=0b1c"
    )
    assert matches("events", text, EVENT)
    assert not matches("events", text.replace("0b1c", "other"), EVENT)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("reason=FailedScheduling", True),
        ("reason!=FailedScheduling", False),
        ("type==Warning", True),
        ("type=Normal", False),
        ("source=default-scheduler", True),
        ("reportingComponent=default-scheduler", True),
        ("involvedObject.apiVersion=v1", True),
        ("involvedObject.fieldPath=spec.containers{web}", True),
        ("involvedObject.resourceVersion=", True),  # absent reads as ""
        ("metadata.name=web-1.17a,metadata.namespace=default", True),
    ],
)
def test_event_fields(text, expected):
    assert matches("events", text, EVENT) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("spec.nodeName=worker-1", True),
        ("spec.nodeName!=worker-1", False),
        ("spec.restartPolicy=Always", True),
        ("spec.schedulerName=default-scheduler", True),
        ("spec.serviceAccountName=builder", True),
        ("spec.hostNetwork=true", True),
        ("spec.hostNetwork=false", False),
        ("status.phase=Running,status.phase!=Failed", True),
        ("status.podIP=10.0.0.7", True),
        ("status.nominatedNodeName=worker-2", True),
    ],
)
def test_pod_fields(text, expected):
    assert matches("pods", text, POD) is expected


def test_absent_booleans_read_false_and_absent_strings_empty():
    bare = {"metadata": {"name": "p"}}
    assert matches("pods", "spec.hostNetwork=false", bare)
    assert matches("pods", "spec.nodeName=", bare)
    assert matches("nodes", "spec.unschedulable=false", bare)
    assert matches("nodes", "spec.unschedulable=true", {"spec": {"unschedulable": True}})


def test_namespace_phase():
    ns = {"metadata": {"name": "team-a"}, "status": {"phase": "Terminating"}}
    assert matches("namespaces", "status.phase=Terminating", ns)
    assert matches("namespaces", "metadata.name=team-a", ns)


def test_escaped_comma_and_equals_in_a_value():
    event = {**EVENT, "reason": "a,b=c"}
    assert matches("events", r"reason=a\,b\=c", event)
    assert not matches("events", r"reason=a\,b\=d", event)


def test_unsupported_field_is_400_naming_it_and_what_is_supported():
    with pytest.raises(ApiError) as caught:
        fieldselectors.parse("spec.containers=web", _res("pods"))
    assert caught.value.code == 400
    assert "spec.containers" in caught.value.message
    assert "spec.nodeName" in caught.value.message


def test_a_term_without_operator_is_400():
    with pytest.raises(ApiError) as caught:
        fieldselectors.parse("reason", _res("events"))
    assert caught.value.code == 400


def test_value_of_reads_equality_terms_only():
    selector = fieldselectors.parse("spec.nodeName==worker-1,status.phase!=Failed", _res("pods"))
    assert selector.value_of("spec.nodeName") == "worker-1"
    assert selector.value_of("status.phase") is None
