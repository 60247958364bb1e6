"""Server-side printing: the Table kubectl gets, cell by cell, with a fixed clock."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from navarch.apiserver import printers
from navarch.resources.core import PODS

NOW = dt.datetime(2026, 11, 27, 12, 0, 0, tzinfo=dt.UTC)
CREATED = "2026-11-27T11:54:57Z"  # 5m3s before NOW


def ago(seconds: int) -> str:
    return (NOW - dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (119, "119s"),
        (120, "2m"),
        (303, "5m3s"),
        (599, "9m59s"),
        (600, "10m"),
        (179 * 60 + 59, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 20 * 60, "3h20m"),
        (8 * 3600 + 59 * 60, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (53 * 3600, "2d5h"),
        (8 * 86400, "8d"),
        (729 * 86400, "729d"),
        (730 * 86400, "2y"),
        (740 * 86400, "2y10d"),
        (8 * 365 * 86400, "8y"),
    ],
)
def test_human_duration_follows_kubernetes(seconds, text):
    assert printers.human_duration(seconds) == text


def waiting(reason: str, name: str = "app", restarts: int = 0) -> dict:
    return {
        "name": name,
        "ready": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": reason}},
    }


def running(name: str = "app", ready: bool = True, restarts: int = 0) -> dict:
    return {
        "name": name,
        "ready": ready,
        "restartCount": restarts,
        "state": {"running": {"startedAt": CREATED}},
    }


def terminated(name: str = "app", code: int = 0, reason: str = "", signal: int = 0) -> dict:
    state = {"exitCode": code, "reason": reason, "signal": signal}
    return {"name": name, "ready": False, "restartCount": 0, "state": {"terminated": state}}


def pod(
    phase: str = "Pending",
    statuses: list | None = None,
    *,
    containers: tuple[str, ...] = ("app",),
    init: tuple[dict, ...] = (),
    init_statuses: list | None = None,
    conditions: list | None = None,
    deleting: bool = False,
    reason: str = "",
) -> dict:
    metadata = {"name": "web-1", "namespace": "default", "creationTimestamp": CREATED}
    if deleting:
        metadata["deletionTimestamp"] = ago(1)
    status: dict = {"phase": phase}
    if statuses is not None:
        status["containerStatuses"] = statuses
    if init_statuses is not None:
        status["initContainerStatuses"] = init_statuses
    if conditions is not None:
        status["conditions"] = conditions
    if reason:
        status["reason"] = reason
    spec: dict = {"containers": [{"name": n, "image": "nginx"} for n in containers]}
    if init:
        spec["initContainers"] = list(init)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": status}


READY_TRUE = [{"type": "Ready", "status": "True"}]
INITIALIZED = [{"type": "Initialized", "status": "True"}]


@pytest.mark.parametrize(
    ("obj", "ready", "status"),
    [
        pytest.param(pod(), "0/1", "Pending", id="pending-unscheduled"),
        pytest.param(
            pod("Pending", [waiting("ContainerCreating")]),
            "0/1",
            "ContainerCreating",
            id="creating",
        ),
        pytest.param(
            pod("Pending", [waiting("ErrImagePull")]), "0/1", "ErrImagePull", id="err-image-pull"
        ),
        pytest.param(
            pod("Pending", [waiting("ImagePullBackOff")]),
            "0/1",
            "ImagePullBackOff",
            id="pull-backoff",
        ),
        pytest.param(
            pod("Running", [waiting("CrashLoopBackOff", restarts=4)]),
            "0/1",
            "CrashLoopBackOff",
            id="crashloop",
        ),
        pytest.param(pod("Running", [running()]), "1/1", "Running", id="running"),
        pytest.param(
            pod("Running", [running(ready=False)]), "0/1", "Running", id="running-not-ready"
        ),
        pytest.param(
            pod("Running", [running("a"), waiting("CrashLoopBackOff", "b")], containers=("a", "b")),
            "1/2",
            "CrashLoopBackOff",
            id="one-of-two-crashing",
        ),
        pytest.param(
            pod("Succeeded", [terminated(reason="Completed")]), "0/1", "Completed", id="completed"
        ),
        pytest.param(
            pod("Failed", [terminated(code=1, reason="Error")]), "0/1", "Error", id="error"
        ),
        pytest.param(pod("Failed", [terminated(code=137)]), "0/1", "ExitCode:137", id="exit-code"),
        pytest.param(pod("Failed", [terminated(code=0, signal=9)]), "0/1", "Signal:9", id="signal"),
        pytest.param(
            pod("Failed", [terminated(code=137, reason="OOMKilled")]), "0/1", "OOMKilled", id="oom"
        ),
        pytest.param(
            pod(
                "Running",
                [terminated("a", reason="Completed"), running("b")],
                containers=("a", "b"),
                conditions=READY_TRUE,
            ),
            "1/2",
            "Running",
            id="completed-beside-running-ready",
        ),
        pytest.param(
            pod(
                "Running",
                [terminated("a", reason="Completed"), running("b")],
                containers=("a", "b"),
            ),
            "1/2",
            "NotReady",
            id="completed-beside-running-not-ready",
        ),
        pytest.param(
            pod("Running", [running()], deleting=True), "1/1", "Terminating", id="terminating"
        ),
        pytest.param(
            pod("Succeeded", [terminated(reason="Completed")], deleting=True),
            "0/1",
            "Completed",
            id="deleting-finished-keeps-status",
        ),
        pytest.param(
            pod("Running", [running()], deleting=True, reason="NodeLost"),
            "1/1",
            "Unknown",
            id="node-lost",
        ),
        pytest.param(pod("Pending", reason="Evicted"), "0/1", "Evicted", id="status-reason"),
        pytest.param(
            pod(
                conditions=[
                    {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}
                ]
            ),
            "0/1",
            "SchedulingGated",
            id="scheduling-gated",
        ),
        pytest.param(
            pod(init=({"name": "setup"},), init_statuses=[waiting("PodInitializing", "setup")]),
            "0/1",
            "Init:0/1",
            id="init-0-of-1",
        ),
        pytest.param(
            pod(
                init=({"name": "a"}, {"name": "b"}),
                init_statuses=[terminated("a", reason="Completed"), running("b", ready=False)],
            ),
            "0/1",
            "Init:1/2",
            id="init-1-of-2",
        ),
        pytest.param(
            pod(init=({"name": "setup"},), init_statuses=[waiting("CrashLoopBackOff", "setup")]),
            "0/1",
            "Init:CrashLoopBackOff",
            id="init-crashloop",
        ),
        pytest.param(
            pod(init=({"name": "setup"},), init_statuses=[terminated("setup", code=2)]),
            "0/1",
            "Init:ExitCode:2",
            id="init-exit-code",
        ),
        pytest.param(
            pod(
                init=({"name": "setup"},),
                init_statuses=[terminated("setup", code=1, reason="Error")],
            ),
            "0/1",
            "Init:Error",
            id="init-error",
        ),
        pytest.param(
            pod(
                "Running",
                [running()],
                init=({"name": "proxy", "restartPolicy": "Always"},),
                init_statuses=[{**running("proxy"), "started": True}],
                conditions=INITIALIZED,
            ),
            "2/2",
            "Running",
            id="sidecar-counts-as-container",
        ),
    ],
)
def test_pod_ready_and_status(obj, ready, status):
    got_ready, got_status, _ = printers.pod_summary(obj, NOW)
    assert (got_ready, got_status) == (ready, status)


def test_restarts_say_how_long_ago_the_last_was():
    container = running(restarts=3)
    container["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": ago(125)}}
    _, _, restarts = printers.pod_summary(pod("Running", [container]), NOW)
    assert restarts == "3 (2m5s ago)"
    _, _, none = printers.pod_summary(pod("Running", [running()]), NOW)
    assert none == "0"


def test_pod_table_columns_and_wide_cells():
    obj = pod("Running", [running()])
    obj["spec"]["nodeName"] = "worker-1"
    obj["status"]["podIP"] = "10.1.0.4"
    table = printers.table(PODS, [obj], list_metadata={"resourceVersion": "42"}, now=NOW)
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "42"}
    names = [(c["name"], c["priority"]) for c in table["columnDefinitions"]]
    assert names == [
        ("Name", 0),
        ("Ready", 0),
        ("Status", 0),
        ("Restarts", 0),
        ("Age", 0),
        ("IP", 1),
        ("Node", 1),
        ("Nominated Node", 1),
        ("Readiness Gates", 1),
    ]
    assert table["rows"][0]["cells"] == [
        "web-1",
        "1/1",
        "Running",
        "0",
        "5m3s",
        "10.1.0.4",
        "worker-1",
        "<none>",
        "<none>",
    ]
    assert table["rows"][0]["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def test_readiness_gates_count_true_conditions():
    obj = pod("Running", [running()], conditions=[{"type": "example.com/lb", "status": "True"}])
    obj["spec"]["readinessGates"] = [{"conditionType": "example.com/lb"}, {"conditionType": "x/y"}]
    assert printers.pod_cells(obj, NOW)[-1] == "1/2"


def test_include_object_none_and_object():
    obj = pod()
    none = printers.table(PODS, [obj], include_object="None", now=NOW)
    assert none["rows"][0]["object"] is None
    whole = printers.table(PODS, [obj], include_object="Object", now=NOW)
    assert whole["rows"][0]["object"] is obj
    with pytest.raises(ValueError):
        printers.table(PODS, [obj], include_object="Everything", now=NOW)


def test_single_object_table_takes_its_resource_version_and_headers_can_be_left_out():
    obj = pod()
    obj["metadata"]["resourceVersion"] = "7"
    table = printers.table(PODS, [obj], headers=False, version="v1beta1", now=NOW)
    assert table["metadata"] == {"resourceVersion": "7"}
    assert table["columnDefinitions"] == []
    assert table["apiVersion"] == "meta.k8s.io/v1beta1"


def test_finished_pods_carry_a_completed_row_condition():
    table = printers.table(PODS, [pod("Succeeded", [terminated(reason="Completed")])], now=NOW)
    assert table["rows"][0]["conditions"][0]["type"] == "Completed"


def node(**status) -> dict:
    return {
        "metadata": {"name": "worker-1", "creationTimestamp": ago(3 * 86400), "labels": {}},
        "spec": {},
        "status": status,
    }


def test_node_cells():
    obj = node(
        conditions=[
            {"type": "MemoryPressure", "status": "False"},
            {"type": "Ready", "status": "True"},
        ],
        addresses=[
            {"type": "Hostname", "address": "w1"},
            {"type": "InternalIP", "address": "10.0.0.2"},
        ],
        nodeInfo={
            "kubeletVersion": "v1.31.0-navarch",
            "osImage": "Debian 12",
            "kernelVersion": "6.1",
            "containerRuntimeVersion": "containerd://1.7",
        },
    )
    obj["metadata"]["labels"] = {
        "node-role.kubernetes.io/control-plane": "",
        "kubernetes.io/role": "edge",
    }
    obj["spec"]["unschedulable"] = True
    assert printers.node_cells(obj, NOW) == [
        "worker-1",
        "Ready,SchedulingDisabled",
        "control-plane,edge",
        "3d",
        "v1.31.0-navarch",
        "10.0.0.2",
        "<none>",
        "Debian 12",
        "6.1",
        "containerd://1.7",
    ]


def test_node_without_ready_condition_is_unknown_and_not_ready_says_so():
    assert printers.node_cells(node(), NOW)[1:3] == ["Unknown", "<none>"]
    assert (
        printers.node_cells(node(conditions=[{"type": "Ready", "status": "Unknown"}]), NOW)[1]
        == "NotReady"
    )
    assert printers.node_cells(node(), NOW)[-3:] == ["<unknown>"] * 3


TEMPLATE = {
    "spec": {
        "containers": [{"name": "web", "image": "nginx:1.27"}, {"name": "log", "image": "busybox"}]
    }
}
SELECTOR = {
    "matchLabels": {"app": "web"},
    "matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["b", "a"]},
        {"key": "canary", "operator": "DoesNotExist"},
    ],
}


def test_deployment_cells():
    obj = {
        "metadata": {"name": "web", "creationTimestamp": CREATED},
        "spec": {"replicas": 3, "selector": SELECTOR, "template": TEMPLATE},
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    assert printers.deployment_cells(obj, NOW) == [
        "web",
        "2/3",
        3,
        2,
        "5m3s",
        "web,log",
        "nginx:1.27,busybox",
        "app=web,!canary,tier in (a,b)",
    ]


def test_replicaset_cells_with_no_status_yet():
    obj = {
        "metadata": {"name": "web-5d4"},
        "spec": {"replicas": 2, "template": TEMPLATE, "selector": {"matchLabels": {"app": "web"}}},
    }
    assert printers.replicaset_cells(obj, NOW) == [
        "web-5d4",
        2,
        0,
        0,
        "<unknown>",
        "web,log",
        "nginx:1.27,busybox",
        "app=web",
    ]


def test_event_cells_repeated_event():
    event = {
        "metadata": {"name": "web-1.17a"},
        "involvedObject": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{app}"},
        "reason": "FailedScheduling",
        "message": "0/1 nodes are available: 1 Insufficient cpu. ",
        "type": "Warning",
        "count": 3,
        "firstTimestamp": ago(20 * 60),
        "lastTimestamp": ago(5 * 60),
        "source": {"component": "default-scheduler"},
    }
    assert printers.event_cells(event, NOW) == [
        "5m (x3 over 20m)",
        "Warning",
        "FailedScheduling",
        "pod/web-1",
        "spec.containers{app}",
        "default-scheduler",
        "0/1 nodes are available: 1 Insufficient cpu.",
        "20m",
        3,
        "web-1.17a",
    ]


def test_event_with_only_event_time():
    event = {
        "metadata": {"name": "e"},
        "eventTime": "2026-11-27T11:59:30.123456Z",
        "involvedObject": {"kind": "Node"},
        "reportingComponent": "agent",
        "reportingInstance": "w1",
    }
    cells = printers.event_cells(event, NOW)
    assert (
        cells[0] == "29s"
    )  # 29.88s, truncated as Go does and cells[3] == "node" and cells[5] == "agent, w1"


def test_namespace_and_lease_cells():
    ns = {
        "metadata": {"name": "default", "creationTimestamp": CREATED},
        "status": {"phase": "Active"},
    }
    assert printers.namespace_cells(ns, NOW) == ["default", "Active", "5m3s"]
    lease = {
        "metadata": {"name": "worker-1", "creationTimestamp": CREATED},
        "spec": {"holderIdentity": "worker-1"},
    }
    assert printers.lease_cells(lease, NOW) == ["worker-1", "worker-1", "5m3s"]


@pytest.mark.parametrize(
    ("accept", "version"),
    [
        (
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
            "v1",
        ),
        ("application/json;as=Table;v=v1beta1;g=meta.k8s.io, application/json", "v1beta1"),
        ("application/json", None),
        ("application/json, application/json;as=Table;v=v1;g=meta.k8s.io", None),
        (
            "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1;g=meta.k8s.io",
            "v1",
        ),
        ("application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io", None),
        (None, None),
        ("", None),
    ],
)
def test_table_version_from_accept(accept, version):
    assert printers.table_version(accept) == version
    assert printers.wants_table(accept) is (version is not None)


def test_every_served_kind_has_a_printer_whose_cells_match_its_columns():
    from navarch.resources.registry import registry

    for res in registry():
        assert res.printer is not None, res.plural
        printer = res.printer
        assert len(printer.cells({"metadata": {"name": "x"}}, NOW)) == len(printer.columns), (
            res.plural
        )


KUBECTL_ACCEPT = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,"
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)


def test_table_request_from_accept_and_include_object():
    from navarch.apiserver.errors import ApiError

    assert printers.TableRequest.of("application/json", {}) is None
    request = printers.TableRequest.of(KUBECTL_ACCEPT, {})
    assert request == printers.TableRequest("v1", "Metadata")
    assert request.content_type == "application/json;as=Table;v=v1;g=meta.k8s.io"
    assert (
        printers.TableRequest.of(KUBECTL_ACCEPT, {"includeObject": "Object"}).include_object
        == "Object"
    )
    with pytest.raises(ApiError) as caught:
        printers.TableRequest.of(KUBECTL_ACCEPT, {"includeObject": "All"})
    assert caught.value.code == 400


def test_list_table_from_stored_bytes():
    request = printers.TableRequest("v1", "Metadata")
    body = orjson.loads(
        request.of_list(PODS, [orjson.dumps(pod())], {"resourceVersion": "9", "continue": ""})
    )
    assert body["metadata"] == {"resourceVersion": "9"}
    assert [r["cells"][0] for r in body["rows"]] == ["web-1"]


def test_watch_events_become_one_row_tables_headers_first_only():
    request = printers.TableRequest("v1", "None")
    convert = request.watch_lines(PODS)
    first = pod("Running", [running()])
    first["metadata"]["resourceVersion"] = "11"
    chunk = orjson.dumps({"type": "ADDED", "object": first}) + b"\n"
    chunk += orjson.dumps({"type": "MODIFIED", "object": first}) + b"\n"
    events = [orjson.loads(line) for line in convert(chunk).splitlines()]
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED"]
    assert events[0]["object"]["kind"] == "Table"
    assert len(events[0]["object"]["columnDefinitions"]) == 9
    assert events[1]["object"]["columnDefinitions"] == []
    assert events[0]["object"]["metadata"] == {"resourceVersion": "11"}
    assert events[0]["object"]["rows"][0]["cells"][:3] == ["web-1", "1/1", "Running"]
    error = {"type": "ERROR", "object": {"kind": "Status", "code": 410}}
    assert orjson.loads(convert(orjson.dumps(error) + b"\n")) == error
    bookmark = {
        "type": "BOOKMARK",
        "object": {"kind": "Pod", "metadata": {"resourceVersion": "12"}},
    }
    marked = orjson.loads(convert(orjson.dumps(bookmark) + b"\n"))
    assert (
        marked["object"]["rows"] == [] and marked["object"]["metadata"]["resourceVersion"] == "12"
    )
