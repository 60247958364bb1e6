"""Hostile and malformed requests: every answer is a 4xx Status with a useful message,
nothing rejected changes the store, and the server keeps serving."""

from __future__ import annotations

import copy
import http.client
import ssl

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from navarch.apiserver.server import token_file
from navarch.client.kubeconfig import load_kubeconfig
from navarch.config import load_config

VALID_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "target", "namespace": "default", "labels": {"app": "x"}},
    "spec": {
        "containers": [
            {
                "name": "c",
                "image": "127.0.0.1:5000/app:1",
                "resources": {"requests": {"cpu": "100m"}},
            }
        ]
    },
}
VALID_DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "target-web"},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "w"}},
        "template": {
            "metadata": {"labels": {"app": "w"}},
            "spec": {"containers": [{"name": "c", "image": "127.0.0.1:5000/app:1"}]},
        },
    },
}
PODS = "/api/v1/namespaces/default/pods"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"


class Http:
    """A small synchronous HTTPS client (hypothesis drives plain functions)."""

    def __init__(self, server, tokens):
        config = load_kubeconfig(server.kubeconfig)
        self.context = ssl.create_default_context(cadata=config.ca_data.decode())
        self.port = server.port
        self.tokens = {"admin": config.token, **tokens}

    def __call__(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        token: str | None = "admin",
        content_type: str | None = "application/json",
    ) -> tuple[int, dict]:
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=self.context, timeout=30
        )
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {self.tokens.get(token, token)}"
        if content_type and body is not None:
            headers["Content-Type"] = content_type
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        finally:
            connection.close()
        return response.status, orjson.loads(payload) if payload else {}


@pytest.fixture(scope="module")
def http_client(api_server):
    config = load_config(file=None, env={}, overrides=[f"data_dir={api_server.data_dir}"])
    viewer = token_file(config).add("viewer", "hostile-viewer")
    node = token_file(config).add("node", "hostile-node")
    api_server.stop()
    api_server.start()
    http = Http(api_server, {"viewer": viewer, "node": node})
    assert http("POST", PODS, orjson.dumps(VALID_POD))[0] == 201
    assert http("POST", DEPLOYMENTS, orjson.dumps(VALID_DEPLOYMENT))[0] == 201
    return http


# Every kind a hostile request below aims at. Their objects are compared, not the
# store's revision: the API server's own lease (the `kubernetes` endpoints, renewed
# every 10 s) moves the revision while a request is in flight.
WRITABLE_LISTS = (
    "/api/v1/pods",
    "/apis/apps/v1/deployments",
    "/api/v1/namespaces",
    "/api/v1/nodes",
    "/api/v1/events",
)


def revision(http) -> list[tuple[str, str, str, str]]:
    """What the hostile requests could have written: each object's path and version."""
    snapshot = []
    for path in WRITABLE_LISTS:
        status, body = http("GET", path)
        assert status == 200, (path, body)
        for item in body["items"]:
            meta = item["metadata"]
            snapshot.append(
                (path, meta.get("namespace", ""), meta["name"], meta["resourceVersion"])
            )
    return sorted(snapshot)


# --- generators of bad requests --------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
bad_names = st.sampled_from(
    ["", "UPPER", "under_score", "-lead", "trail-", "a" * 254, "dot..dot", "sp ace", "ü"]
)
bad_label_keys = st.sampled_from(["-x", "a/b/c", "x" * 64, "/x", "sp ace", "ok/" + "y" * 64])
bad_quantities = st.sampled_from(
    ["2 cores", "1.5.5", "--1", "1Kb", "abc", "", "1e999999", "-1", True, [1]]
)
# A path in a pod and values of a type Kubernetes does not accept there.
WRONG_TYPES = {
    ("metadata", "name"): [["list"], {"map": 1}, 12, True],
    ("metadata", "labels"): [["list"], 12, "text", {"k": 1}],
    ("spec", "containers"): [{"map": 1}, 12, "text", [1]],
    ("spec", "restartPolicy"): [["list"], 12, True, "Sometimes"],
    ("spec", "terminationGracePeriodSeconds"): ["30", True, 1.5, [1], -1],
    ("spec", "nodeSelector"): [["list"], 12, "text"],
    ("spec", "hostNetwork"): ["true", 1, [True], {"a": 1}],
    ("spec", "tolerations"): [{"map": 1}, 12, "text", [1]],
    ("metadata",): [["list"], 12, "text"],
    ("spec",): [["list"], 12, "text", {}],
    ("spec", "priority"): ["1", 1.5, True, [1]],
}


def _set(obj, path, value):
    obj = copy.deepcopy(obj)
    node = obj
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return obj


@st.composite
def bad_request(draw):
    """(method, path, body bytes or None, token, content type) that must be rejected."""
    kind = draw(
        st.sampled_from(
            [
                "random_json",
                "wrong_type",
                "bad_name",
                "bad_label",
                "bad_quantity",
                "negative_replicas",
                "namespace_mismatch",
                "unknown_kind",
                "unknown_field",
                "bad_selector",
                "stale_version",
                "unauthenticated",
                "under_privileged",
                "malformed_json",
                "bad_patch",
                "bad_media_type",
                "bad_query",
                "selector_mismatch",
                "huge_body",
                "bad_path",
            ]
        )
    )
    pod = copy.deepcopy(VALID_POD)
    pod["metadata"]["name"] = "hostile"
    if kind == "random_json":
        value = draw(json_values.filter(lambda v: not (isinstance(v, dict) and "spec" in v)))
        return "POST", PODS, orjson.dumps(value), "admin", "application/json"
    if kind == "wrong_type":
        path = draw(st.sampled_from(sorted(WRONG_TYPES)))
        value = draw(st.sampled_from(WRONG_TYPES[path]))
        return "POST", PODS, orjson.dumps(_set(pod, path, value)), "admin", "application/json"
    if kind == "bad_name":
        return (
            "POST",
            PODS,
            orjson.dumps(_set(pod, ("metadata", "name"), draw(bad_names))),
            "admin",
            "application/json",
        )
    if kind == "bad_label":
        labels = {draw(bad_label_keys): "v"}
        return (
            "POST",
            PODS,
            orjson.dumps(_set(pod, ("metadata", "labels"), labels)),
            "admin",
            "application/json",
        )
    if kind == "bad_quantity":
        body = _set(
            pod, ("spec", "containers", 0, "resources"), {"limits": {"cpu": draw(bad_quantities)}}
        )
        return "POST", PODS, orjson.dumps(body), "admin", "application/json"
    if kind == "negative_replicas":
        body = copy.deepcopy(VALID_DEPLOYMENT)
        body["metadata"]["name"] = "hostile-web"
        body["spec"]["replicas"] = draw(st.integers(min_value=-(2**62), max_value=-1))
        return "POST", DEPLOYMENTS, orjson.dumps(body), "admin", "application/json"
    if kind == "namespace_mismatch":
        return (
            "POST",
            PODS,
            orjson.dumps(_set(pod, ("metadata", "namespace"), "other")),
            "admin",
            "application/json",
        )
    if kind == "unknown_kind":
        body = _set(pod, ("kind",), draw(st.sampled_from(["Pods", "Service", "", "Deployment"])))
        return "POST", PODS, orjson.dumps(body), "admin", "application/json"
    if kind == "unknown_field":
        field = draw(
            st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=10).map(
                lambda s: "zz" + s
            )
        )
        where = draw(
            st.sampled_from(
                [(field,), ("spec", field), ("metadata", field), ("spec", "containers", 0, field)]
            )
        )
        return "POST", PODS, orjson.dumps(_set(pod, where, 1)), "admin", "application/json"
    if kind == "bad_selector":
        selector = draw(st.sampled_from(["a in b", "=x", "a==b==c", "a,", "!", "x>y", "a in (b"]))
        return "GET", f"{PODS}?labelSelector={selector.replace(' ', '%20')}", None, "admin", None
    if kind == "stale_version":
        body = _set(VALID_POD, ("metadata", "resourceVersion"), "1")
        return "PUT", f"{PODS}/target", orjson.dumps(body), "admin", "application/json"
    if kind == "unauthenticated":
        token = draw(st.sampled_from([None, "garbage", ""]))
        return "POST", PODS, orjson.dumps(pod), token, "application/json"
    if kind == "under_privileged":
        token = draw(st.sampled_from(["viewer", "node"]))
        method, path = draw(
            st.sampled_from(
                [
                    ("POST", PODS),
                    ("DELETE", f"{PODS}/target"),
                    ("DELETE", f"{DEPLOYMENTS}/target-web"),
                ]
            )
        )
        return (
            method,
            path,
            orjson.dumps(pod) if method == "POST" else None,
            token,
            "application/json",
        )
    if kind == "malformed_json":
        raw = draw(st.sampled_from([b"{", b"{'a': 1}", b"\xff\xfe", b"[1,", b"nul", b'{"a":}']))
        return "POST", PODS, raw, "admin", "application/json"
    if kind == "bad_patch":
        media, body = draw(
            st.sampled_from(
                [
                    ("application/json-patch+json", b'{"op": "add"}'),
                    ("application/json-patch+json", b'[{"op": "nope", "path": "/x"}]'),
                    (
                        "application/json-patch+json",
                        b'[{"op": "remove", "path": "/metadata/missing"}]',
                    ),
                    ("application/merge-patch+json", b"[1, 2]"),
                    ("application/merge-patch+json", b'{"spec": {"containers": [{"name": "c"}]}}'),
                    (
                        "application/strategic-merge-patch+json",
                        b'{"spec": {"containers": [{"image": "x"}]}}',
                    ),
                    ("application/merge-patch+json", b'{"metadata": {"name": "Other_Name"}}'),
                    ("application/merge-patch+json", b'{"spec": {"nodeName": "n9"}}'),
                ]
            )
        )
        return "PATCH", f"{PODS}/target", body, "admin", media
    if kind == "bad_media_type":
        media = draw(
            st.sampled_from(["text/plain", "application/xml", "application/apply-patch+yaml"])
        )
        method = draw(st.sampled_from(["POST", "PATCH"]))
        path = PODS if method == "POST" else f"{PODS}/target"
        return method, path, orjson.dumps(pod), "admin", media
    if kind == "bad_query":
        query = draw(
            st.sampled_from(
                [
                    "limit=-1",
                    "limit=x",
                    "continue=%%%",
                    "fieldSelector=spec.image=x",
                    "watch=1&resourceVersion=abc",
                    "continue=eyJ4Ijox",
                ]
            )
        )
        return "GET", f"{PODS}?{query}", None, "admin", None
    if kind == "selector_mismatch":
        body = copy.deepcopy(VALID_DEPLOYMENT)
        body["metadata"]["name"] = "hostile-web"
        body["spec"]["selector"] = {"matchLabels": {"app": "different"}}
        return "POST", DEPLOYMENTS, orjson.dumps(body), "admin", "application/json"
    if kind == "huge_body":
        body = _set(pod, ("metadata", "annotations"), {"big": "x" * (3 * 1024 * 1024 + 10)})
        return "POST", PODS, orjson.dumps(body), "admin", "application/json"
    path = draw(
        st.sampled_from(
            [
                "/api/v2/pods",
                "/apis/apps/v1/widgets",
                "/api/v1/namespaces/default/pods/a/b/c",
                "/apis/nope/v1/things",
                "/api/v1/nodes/x/binding",
            ]
        )
    )
    return "GET", path, None, "admin", None


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(request=bad_request())
def test_hostile_requests_are_4xx_status_and_change_nothing(http_client, request):
    before = revision(http_client)
    method, path, body, token, media = request
    status, answer = http_client(method, path, body, token=token, content_type=media)
    assert 400 <= status < 500, (status, answer, request[:2])
    assert answer.get("kind") == "Status" and answer.get("status") == "Failure"
    assert answer.get("code") == status
    assert len(answer.get("message", "")) > 10
    assert "Traceback" not in answer["message"]
    assert revision(http_client) == before  # nothing was written
    if status == 422:
        assert answer["details"]["causes"], answer


def test_server_still_serves_after_the_barrage(http_client):
    status, body = http_client("GET", f"{PODS}/target")
    assert status == 200 and body["metadata"]["name"] == "target"
