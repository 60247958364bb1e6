"""CustomResourceDefinitions served end to end by a real ``navarch server``: the
Kubernetes documentation's CronTab example with the real kubectl, the official Python
client's CustomObjectsApi, the status and scale subresources, the refusals (a schema
that is not structural, several versions, names that clash, objects of a CRD being
deleted), and a second API server on the same store learning a CRD without a restart."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.waiting import until
from tests.apiextensions.conftest import load_manifest

CRONTABS = "crontabs.stable.example.com"
# The docs' "Additional printer columns" section, plus a priority-1 column for -o wide.
COLUMNS = [
    {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
    {"name": "Image", "type": "string", "jsonPath": ".spec.image", "priority": 1},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


@pytest.fixture(scope="module")
def kubectl(api_server):
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.fail("kubectl is not installed on this machine; the compatibility tests need it")

    def run(*args: str, check: bool = True, stdin: str | None = None):
        result = subprocess.run(
            [binary, "--kubeconfig", str(api_server.kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=60,
            input=stdin,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result

    return run


@pytest.fixture(scope="module")
def k8s(api_server):
    api_client = config.new_client_from_config(config_file=str(api_server.kubeconfig))
    yield api_client
    api_client.close()


def crd(group: str, plural: str, kind: str, **changes: Any) -> dict[str, Any]:
    """The docs' CronTab CRD under another group/names (each test its own kind)."""
    made = copy.deepcopy(load_manifest("crontab-crd.yaml"))
    made["metadata"]["name"] = f"{plural}.{group}"
    made["spec"]["group"] = group
    made["spec"]["names"] = {
        "plural": plural,
        "singular": kind.lower(),
        "kind": kind,
        "shortNames": changes.pop("short_names", []),
    }
    for key, value in changes.items():
        made["spec"]["versions"][0][key] = value
    return made


def wait(check: Any) -> Any:
    """``check()``'s first true value, polled (a generous bound: the machine is shared)."""
    return until(check, "the API server to catch up", deadline=60, every=0.1)


def condition(k8s, name: str, type_: str) -> dict[str, Any] | None:
    found = client.ApiextensionsV1Api(k8s).read_custom_resource_definition(name)
    for c in (found.status.conditions or []) if found.status else []:
        if c.type == type_:
            return {"status": c.status, "reason": c.reason, "message": c.message}
    return None


def established(k8s, name: str) -> bool:
    found = condition(k8s, name, "Established")
    return found is not None and found["status"] == "True"


def get_json(k8s, path: str) -> Any:
    """A raw GET with the client's credentials (ApiException on an error status)."""
    request = k8s.param_serialize("GET", path, auth_settings=["BearerToken"])
    response = k8s.call_api(*request)
    response.read()
    if response.status >= 400:
        raise ApiException(status=response.status, reason=response.reason)
    return json.loads(response.data)


def served(k8s, group: str, version: str = "v1") -> list[str]:
    try:
        listed = get_json(k8s, f"/apis/{group}/{version}")
    except ApiException as exc:
        if exc.status == 404:
            return []
        raise
    return [r["name"] for r in listed["resources"]]


def test_crontab_example_with_kubectl(kubectl, k8s, tmp_path):
    manifest = copy.deepcopy(load_manifest("crontab-crd.yaml"))
    manifest["spec"]["versions"][0]["additionalPrinterColumns"] = COLUMNS
    crd_file = tmp_path / "crd.yaml"
    crd_file.write_text(yaml.safe_dump(manifest))
    assert "created" in kubectl("apply", "-f", str(crd_file)).stdout
    wait(lambda: established(k8s, CRONTABS))
    mine = Path(__file__).parent.parent / "fixtures" / "manifests" / "my-crontab.yaml"
    kubectl("apply", "-f", str(mine))

    for name in ("crontabs", "ct", "crontab", "crontabs.stable.example.com"):
        lines = kubectl("get", name).stdout.splitlines()
        assert lines[0].split() == ["NAME", "SPEC", "REPLICAS", "AGE"], lines
        assert lines[1].split()[:6] == ["my-new-cron-object", "*", "*", "*", "*", "*/5"]
    wide = kubectl("get", "ct", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "SPEC", "REPLICAS", "IMAGE", "AGE"]
    assert "my-awesome-cron-image" in wide[1]

    # A wrong type: 422 naming the field (kubectl prints the Invalid status).
    bad = kubectl(
        "apply",
        "-f",
        "-",
        check=False,
        stdin=yaml.safe_dump(
            {
                "apiVersion": "stable.example.com/v1",
                "kind": "CronTab",
                "metadata": {"name": "bad"},
                "spec": {"cronSpec": "* * * * *", "replicas": "three"},
            }
        ),
    )
    assert bad.returncode != 0
    assert 'spec.replicas: Invalid value: "string"' in bad.stderr
    assert "must be of type integer" in bad.stderr

    # Unknown fields: refused by kubectl's default (Strict), pruned with --validate=false
    # (as the docs show).
    extra = {
        "apiVersion": "stable.example.com/v1",
        "kind": "CronTab",
        "metadata": {"name": "extra"},
        "spec": {"cronSpec": "* * * * *", "replicas": 2, "someRandomField": 42},
    }
    strict = kubectl("apply", "-f", "-", check=False, stdin=yaml.safe_dump(extra))
    assert strict.returncode != 0 and "someRandomField" in strict.stderr
    kubectl("apply", "--validate=false", "-f", "-", stdin=yaml.safe_dump(extra))
    stored = json.loads(kubectl("get", "ct", "extra", "-o", "json").stdout)
    assert stored["spec"] == {"cronSpec": "* * * * *", "replicas": 2}
    extra["metadata"]["name"] = "warned"
    warned = kubectl("create", "--validate=warn", "-f", "-", stdin=yaml.safe_dump(extra))
    assert 'unknown field "spec.someRandomField"' in warned.stderr
    # Server-side apply, twice (the second changes one field).
    applied = {**extra, "metadata": {"name": "ssa"}, "spec": {"cronSpec": "1 * * * *"}}
    kubectl("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(applied))
    applied["spec"]["replicas"] = 4
    kubectl("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(applied))
    stored = json.loads(kubectl("get", "ct", "ssa", "-o", "json").stdout)
    assert stored["spec"] == {"cronSpec": "1 * * * *", "replicas": 4}
    assert stored["metadata"]["generation"] == 2

    # Deleting the CRD removes its objects, then the CRD.
    kubectl("delete", "crd", CRONTABS, "--timeout=60s")
    names = kubectl("get", "crd", "-o", "name").stdout.split()
    assert f"customresourcedefinition.apiextensions.k8s.io/{CRONTABS}" not in names
    # The kind is no longer served; created again, it has no objects left.
    assert kubectl("get", "crontabs", check=False).returncode != 0
    kubectl("apply", "-f", str(crd_file))
    wait(lambda: established(k8s, CRONTABS))
    assert kubectl("get", "ct", "-A", "-o", "name").stdout.split() == []
    kubectl("delete", "crd", CRONTABS, "--timeout=60s")


def test_custom_objects_api(k8s):
    extensions = client.ApiextensionsV1Api(k8s)
    name = "widgets.python.example.com"
    widgets_crd = crd("python.example.com", "widgets", "Widget", short_names=["wd"])
    widgets_crd["spec"]["names"]["categories"] = ["gadgetry"]
    extensions.create_custom_resource_definition(widgets_crd)
    wait(lambda: established(k8s, name))
    objects = client.CustomObjectsApi(k8s)
    args = ("python.example.com", "v1", "default", "widgets")
    before = objects.list_namespaced_custom_object(*args)["metadata"]["resourceVersion"]
    body = {
        "apiVersion": "python.example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1", "labels": {"app": "py"}},
        "spec": {"cronSpec": "* * * * *", "replicas": 1},
    }
    created = objects.create_namespaced_custom_object(*args, body)
    assert created["metadata"]["generation"] == 1 and created["metadata"]["uid"]
    assert objects.get_namespaced_custom_object(*args, "w1")["spec"]["replicas"] == 1
    listed = objects.list_namespaced_custom_object(*args, label_selector="app=py")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["w1"]
    assert listed["kind"] == "WidgetList"
    patched = objects.patch_namespaced_custom_object(*args, "w1", {"spec": {"replicas": 3}})
    assert patched["spec"]["replicas"] == 3 and patched["metadata"]["generation"] == 2
    labelled = objects.patch_namespaced_custom_object(
        *args, "w1", {"metadata": {"labels": {"tier": "x"}}}
    )
    assert labelled["metadata"]["generation"] == 2  # metadata is no spec change
    with pytest.raises(ApiException) as wrong:
        objects.patch_namespaced_custom_object(*args, "w1", {"spec": {"replicas": "many"}})
    assert wrong.value.status == 422 and "spec.replicas" in wrong.value.body
    objects.delete_namespaced_custom_object(*args, "w1")
    with pytest.raises(ApiException) as gone:
        objects.get_namespaced_custom_object(*args, "w1")
    assert gone.value.status == 404
    # A watch from before the create sees every change.
    seen = []
    for event in watch.Watch().stream(
        objects.list_namespaced_custom_object,
        *args,
        resource_version=before,
        timeout_seconds=30,
    ):
        seen.append((event["type"], event["object"]["metadata"]["name"]))
        if event["type"] == "DELETED":
            break
    assert seen == [("ADDED", "w1"), *[("MODIFIED", "w1")] * 2, ("DELETED", "w1")]

    # Discovery and OpenAPI know the kind.
    resource_list = get_json(k8s, "/apis/python.example.com/v1")
    widgets = next(r for r in resource_list["resources"] if r["name"] == "widgets")
    assert widgets["shortNames"] == ["wd"] and widgets["kind"] == "Widget"
    assert widgets["categories"] == ["gadgetry"] and widgets["namespaced"] is True
    v2 = get_json(k8s, "/openapi/v2")["definitions"]["com.example.python.v1.Widget"]
    assert v2["properties"]["spec"]["properties"]["cronSpec"] == {"type": "string"}
    document = get_json(k8s, "/openapi/v3/apis/python.example.com/v1")
    schema = document["components"]["schemas"]["com.example.python.v1.Widget"]
    assert schema["properties"]["spec"]["properties"]["replicas"] == {"type": "integer"}
    extensions.delete_custom_resource_definition(name)
    wait(lambda: not served(k8s, "python.example.com"))


def test_status_and_scale_subresources(k8s):
    name = "scalers.sub.example.com"
    version_schema = copy.deepcopy(load_manifest("crontab-crd.yaml"))["spec"]["versions"][0][
        "schema"
    ]
    version_schema["openAPIV3Schema"]["properties"]["status"] = {
        "type": "object",
        "properties": {"replicas": {"type": "integer"}, "phase": {"type": "string"}},
    }
    client.ApiextensionsV1Api(k8s).create_custom_resource_definition(
        crd(
            "sub.example.com",
            "scalers",
            "Scaler",
            schema=version_schema,
            subresources={
                "status": {},
                "scale": {
                    "specReplicasPath": ".spec.replicas",
                    "statusReplicasPath": ".status.replicas",
                },
            },
        )
    )
    wait(lambda: established(k8s, name))
    objects = client.CustomObjectsApi(k8s)
    args = ("sub.example.com", "v1", "default", "scalers")
    created = objects.create_namespaced_custom_object(
        *args,
        {
            "apiVersion": "sub.example.com/v1",
            "kind": "Scaler",
            "metadata": {"name": "s1"},
            "spec": {"replicas": 2},
            "status": {"phase": "ignored on create"},
        },
    )
    assert "status" not in created
    # The main resource ignores status; /status ignores the rest.
    main = objects.patch_namespaced_custom_object(
        *args, "s1", {"spec": {"replicas": 3}, "status": {"phase": "no"}}
    )
    assert main["spec"]["replicas"] == 3 and "status" not in main
    status = objects.patch_namespaced_custom_object_status(
        *args, "s1", {"spec": {"replicas": 9}, "status": {"phase": "Ready", "replicas": 3}}
    )
    assert status["status"] == {"phase": "Ready", "replicas": 3}
    assert status["spec"]["replicas"] == 3 and status["metadata"]["generation"] == 2
    scale = objects.get_namespaced_custom_object_scale(*args, "s1")
    assert scale["spec"]["replicas"] == 3 and scale["status"]["replicas"] == 3
    objects.patch_namespaced_custom_object_scale(*args, "s1", {"spec": {"replicas": 5}})
    assert objects.get_namespaced_custom_object(*args, "s1")["spec"]["replicas"] == 5


def test_bad_crds_are_refused_and_nothing_is_served(k8s):
    extensions = client.ApiextensionsV1Api(k8s)
    not_structural = crd(
        "bad.example.com",
        "loose",
        "Loose",
        schema={"openAPIV3Schema": {"type": "object", "properties": {"spec": {}}}},
    )
    with pytest.raises(ApiException) as refused:
        extensions.create_custom_resource_definition(not_structural)
    assert refused.value.status == 422
    assert (
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value"
        in refused.value.body
    )

    two_versions = crd("bad.example.com", "twos", "Two")
    second = {**two_versions["spec"]["versions"][0], "name": "v2", "storage": False}
    two_versions["spec"]["versions"].append(second)
    with pytest.raises(ApiException) as refused:
        extensions.create_custom_resource_definition(two_versions)
    assert refused.value.status == 422
    assert "one version per CustomResourceDefinition" in refused.value.body
    assert served(k8s, "bad.example.com") == []

    # Names that clash with a served kind: accepted as an object, never served.
    clash = "clashes.clash.example.com"
    extensions.create_custom_resource_definition(
        crd("clash.example.com", "clashes", "Clash", short_names=["po"])
    )
    wait(lambda: condition(k8s, clash, "NamesAccepted") is not None)
    assert condition(k8s, clash, "NamesAccepted") == {
        "status": "False",
        "reason": "ShortNamesConflict",
        "message": '"po" is already in use (by pods)',
    }
    assert condition(k8s, clash, "Established")["status"] == "False"
    assert served(k8s, "clash.example.com") == []
    extensions.delete_custom_resource_definition(clash)
    wait(lambda: clash not in _crd_names(k8s))


def _crd_names(k8s) -> list[str]:
    return [
        c.metadata.name
        for c in client.ApiextensionsV1Api(k8s).list_custom_resource_definition().items
    ]


def test_objects_of_a_crd_being_deleted_are_refused(k8s):
    extensions = client.ApiextensionsV1Api(k8s)
    name = "holds.term.example.com"
    extensions.create_custom_resource_definition(crd("term.example.com", "holds", "Hold"))
    wait(lambda: established(k8s, name))
    objects = client.CustomObjectsApi(k8s)
    args = ("term.example.com", "v1", "default", "holds")

    def hold(obj_name: str, finalizers: list[str] | None = None) -> dict[str, Any]:
        return {
            "apiVersion": "term.example.com/v1",
            "kind": "Hold",
            "metadata": {"name": obj_name, "finalizers": finalizers or []},
            "spec": {"replicas": 1},
        }

    # An object with a finalizer of its own keeps the CRD terminating.
    objects.create_namespaced_custom_object(*args, hold("kept", ["example.com/hold"]))
    extensions.delete_custom_resource_definition(name)
    wait(
        lambda: objects.get_namespaced_custom_object(*args, "kept")["metadata"].get(
            "deletionTimestamp"
        )
    )
    with pytest.raises(ApiException) as refused:
        objects.create_namespaced_custom_object(*args, hold("new"))
    assert refused.value.status == 405
    assert "create not allowed while custom resource definition" in refused.value.body
    assert name in _crd_names(k8s)
    objects.patch_namespaced_custom_object(*args, "kept", {"metadata": {"finalizers": None}})
    wait(lambda: name not in _crd_names(k8s))
    assert served(k8s, "term.example.com") == []


def test_a_second_api_server_learns_crds_without_restart(tmp_path):
    from navarch_store_etcd.testing import EtcdServer

    with EtcdServer(tmp_path / "etcd") as etcd:
        store = {"name": "etcd", "options": {"endpoints": [etcd.endpoint]}}
        with (
            ApiServerProcess(tmp_path / "one", settings={"store": store}) as one,
            ApiServerProcess(tmp_path / "two", settings={"store": store}) as two,
        ):
            first = config.new_client_from_config(config_file=str(one.kubeconfig))
            second = config.new_client_from_config(config_file=str(two.kubeconfig))
            try:
                client.ApiextensionsV1Api(first).create_custom_resource_definition(
                    crd("two.example.com", "gadgets", "Gadget")
                )
                wait(lambda: "gadgets" in served(second, "two.example.com"))
                objects = client.CustomObjectsApi(second)
                objects.create_namespaced_custom_object(
                    "two.example.com",
                    "v1",
                    "default",
                    "gadgets",
                    {
                        "apiVersion": "two.example.com/v1",
                        "kind": "Gadget",
                        "metadata": {"name": "g"},
                    },
                )
                got = client.CustomObjectsApi(first).get_namespaced_custom_object(
                    "two.example.com", "v1", "default", "gadgets", "g"
                )
                assert got["metadata"]["name"] == "g"
                client.ApiextensionsV1Api(second).delete_custom_resource_definition(
                    "gadgets.two.example.com"
                )
                wait(lambda: served(first, "two.example.com") == [])
            finally:
                first.close()
                second.close()


def test_cluster_scoped_custom_objects(k8s):
    name = "clusterthings.scope.example.com"
    cluster_crd = crd("scope.example.com", "clusterthings", "ClusterThing")
    cluster_crd["spec"]["scope"] = "Cluster"
    client.ApiextensionsV1Api(k8s).create_custom_resource_definition(cluster_crd)
    wait(lambda: established(k8s, name))
    objects = client.CustomObjectsApi(k8s)
    args = ("scope.example.com", "v1", "clusterthings")
    created = objects.create_cluster_custom_object(
        *args,
        {
            "apiVersion": "scope.example.com/v1",
            "kind": "ClusterThing",
            "metadata": {"name": "c1"},
            "spec": {"replicas": 1},
        },
    )
    assert "namespace" not in created["metadata"]
    assert [i["metadata"]["name"] for i in objects.list_cluster_custom_object(*args)["items"]] == [
        "c1"
    ]
    objects.delete_cluster_custom_object(*args, "c1")
    assert objects.list_cluster_custom_object(*args)["items"] == []


def test_a_server_started_while_a_crd_terminates_still_serves_its_objects(tmp_path):
    name = "restarts.restart.example.com"
    args = ("restart.example.com", "v1", "default", "restarts")
    held = {
        "apiVersion": "restart.example.com/v1",
        "kind": "Restart",
        "metadata": {"name": "held", "finalizers": ["example.com/hold"]},
        "spec": {"replicas": 1},
    }
    with ApiServerProcess(tmp_path / "server") as server:
        k8s = config.new_client_from_config(config_file=str(server.kubeconfig))
        try:
            client.ApiextensionsV1Api(k8s).create_custom_resource_definition(
                crd("restart.example.com", "restarts", "Restart")
            )
            wait(lambda: established(k8s, name))
            client.CustomObjectsApi(k8s).create_namespaced_custom_object(*args, held)
            client.ApiextensionsV1Api(k8s).delete_custom_resource_definition(name)
            wait(
                lambda: (
                    client.CustomObjectsApi(k8s)
                    .get_namespaced_custom_object(*args, "held")["metadata"]
                    .get("deletionTimestamp")
                )
            )
        finally:
            k8s.close()
    with ApiServerProcess(tmp_path / "server") as server:
        k8s = config.new_client_from_config(config_file=str(server.kubeconfig))
        try:
            objects = client.CustomObjectsApi(k8s)
            assert objects.get_namespaced_custom_object(*args, "held")["metadata"]["name"]
            with pytest.raises(ApiException) as refused:
                objects.create_namespaced_custom_object(
                    *args, {**held, "metadata": {"name": "new"}}
                )
            assert refused.value.status == 405
            objects.patch_namespaced_custom_object(
                *args, "held", {"metadata": {"finalizers": None}}
            )
            wait(lambda: name not in _crd_names(k8s))
        finally:
            k8s.close()
