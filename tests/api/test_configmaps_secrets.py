"""ConfigMaps and Secrets on the API server: kubectl's and the official client's ways
of making and reading them, and the rules Kubernetes enforces (keys, base64,
stringData, the 1 MiB limit, immutable, secret types) (issue 23 item 1)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess

import orjson
import pytest
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from navarch.admission import CREATE, AdmissionRequest
from navarch.api.core_v1_config import Secret
from navarch.api.wirebytes import IllegalBase64, decode
from navarch.client import ApiException
from navarch.redaction import MASK, redact

from .test_api import raw

MIB = 1024 * 1024
SECRETS = "/api/v1/namespaces/default/secrets"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
JSON = {"Content-Type": "application/json"}


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


@pytest.fixture(scope="module")
def kubectl(api_server):
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.fail("kubectl is not installed on this machine; the compatibility tests need it")

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [binary, "--kubeconfig", str(api_server.kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result

    return run


async def _post(api_server, path: str, obj: dict) -> tuple[int, dict]:
    status, body, _ = await raw(api_server, "POST", path, body=orjson.dumps(obj), headers=JSON)
    return status, body


async def _put(api_server, path: str, obj: dict) -> tuple[int, dict]:
    status, body, _ = await raw(api_server, "PUT", path, body=orjson.dumps(obj), headers=JSON)
    return status, body


def _causes(body: dict) -> list[tuple[str, str]]:
    return [(c["field"], c["message"]) for c in body["details"]["causes"]]


def _secret(name: str, **fields) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, **fields}


def _configmap(name: str, **fields) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, **fields}


# --- kubectl and the official client ---------------------------------------------------


def test_kubectl_creates_and_lists_configmaps_and_secrets(kubectl, tmp_path):
    (tmp_path / "app.properties").write_text("color=blue\n")
    (tmp_path / "ca.crt").write_text("not really a certificate\n")
    kubectl(
        "create",
        "configmap",
        "kc-config",
        "--from-literal=mode=fast",
        f"--from-file={tmp_path / 'app.properties'}",
    )
    kubectl(
        "create",
        "secret",
        "generic",
        "kc-generic",
        "--from-literal=user=admin",
        f"--from-file={tmp_path / 'ca.crt'}",
    )
    kubectl(
        "create",
        "secret",
        "docker-registry",
        "kc-pull",
        "--docker-server=127.0.0.1:5000",
        "--docker-username=u",
        "--docker-password=p",
    )
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=kc",
            "-keyout",
            str(tmp_path / "tls.key"),
            "-out",
            str(tmp_path / "tls.crt"),
        ],
        check=True,
        capture_output=True,
    )
    kubectl(
        "create",
        "secret",
        "tls",
        "kc-tls",
        f"--cert={tmp_path / 'tls.crt'}",
        f"--key={tmp_path / 'tls.key'}",
    )
    config = json.loads(kubectl("get", "cm", "kc-config", "-o", "json").stdout)
    assert config["data"] == {"mode": "fast", "app.properties": "color=blue\n"}
    generic = json.loads(kubectl("get", "secret", "kc-generic", "-o", "json").stdout)
    assert generic["type"] == "Opaque"
    assert base64.b64decode(generic["data"]["user"]) == b"admin"
    pull = json.loads(kubectl("get", "secret", "kc-pull", "-o", "json").stdout)
    auths = json.loads(base64.b64decode(pull["data"][".dockerconfigjson"]))["auths"]
    assert auths["127.0.0.1:5000"]["username"] == "u"

    table = kubectl("get", "cm,secret").stdout.splitlines()
    rows = {line.split()[0]: line.split() for line in table if line and "NAME" not in line}
    assert [h.split() for h in table if h.startswith("NAME")] == [
        ["NAME", "DATA", "AGE"],
        ["NAME", "TYPE", "DATA", "AGE"],
    ]
    assert rows["configmap/kc-config"][1] == "2"
    assert rows["secret/kc-generic"][1:3] == ["Opaque", "2"]
    assert rows["secret/kc-pull"][1:3] == ["kubernetes.io/dockerconfigjson", "1"]
    assert rows["secret/kc-tls"][1:3] == ["kubernetes.io/tls", "2"]
    described = kubectl("describe", "secret", "kc-generic").stdout
    assert "user:    5 bytes" in described and "admin" not in described


def test_kubectl_apply_of_string_data_stores_data_only(kubectl, tmp_path):
    manifest = tmp_path / "secret.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: kc-string\n"
        "stringData:\n  password: hunter2\n"
    )
    kubectl("apply", "-f", str(manifest))
    stored = json.loads(kubectl("get", "secret", "kc-string", "-o", "json").stdout)
    assert stored["data"] == {"password": b64("hunter2")} and "stringData" not in stored
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(manifest))
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: kc-bad\ndata:\n  user: abcd!\n"
    )
    refused = kubectl("apply", "-f", str(bad), check=False)
    assert refused.returncode != 0
    assert (
        'Error from server (BadRequest): error when creating "' in refused.stderr
        and 'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at '
        "input byte 4"
        in refused.stderr
    ), refused.stderr


def test_official_client_reads_writes_and_watches_them(api_server):
    api_client = k8s_config.new_client_from_config(config_file=str(api_server.kubeconfig))
    try:
        core = k8s_client.CoreV1Api(api_client)
        core.create_namespaced_config_map(
            "default",
            k8s_client.V1ConfigMap(
                metadata=k8s_client.V1ObjectMeta(name="py-config"),
                data={"a": "1"},
                binary_data={"blob": b64(b"\x00\x01")},
            ),
        )
        created = core.create_namespaced_secret(
            "default",
            k8s_client.V1Secret(
                metadata=k8s_client.V1ObjectMeta(name="py-secret"),
                string_data={"token": "t0k3n"},
                type="Opaque",
            ),
        )
        assert created.data == {"token": b64("t0k3n")} and created.string_data is None
        read = core.read_namespaced_secret("py-secret", "default")
        assert base64.b64decode(read.data["token"]) == b"t0k3n"
        patched = core.patch_namespaced_config_map("py-config", "default", {"data": {"b": "2"}})
        assert patched.data == {"a": "1", "b": "2"} and patched.binary_data == {"blob": "AAE="}
        names = {s.metadata.name for s in core.list_namespaced_secret("default").items}
        assert "py-secret" in names
        listed = core.list_config_map_for_all_namespaces(field_selector="metadata.name=py-config")
        assert [c.metadata.name for c in listed.items] == ["py-config"]
        core.delete_namespaced_secret("py-secret", "default")
        core.delete_namespaced_config_map("py-config", "default")
    finally:
        api_client.close()


# --- the rules -------------------------------------------------------------------------


async def test_string_data_is_merged_into_data_and_never_stored(api_server, client):
    status, body = await _post(
        api_server,
        SECRETS,
        _secret("merged", data={"user": b64("old"), "keep": b64("k")}, stringData={"user": "new"}),
    )
    assert status == 201, body
    assert body["data"] == {"user": b64("new"), "keep": b64("k")} and "stringData" not in body
    stored = await client.secrets.get("merged", "default")
    assert stored.data == {"user": b64("new"), "keep": b64("k")} and stored.string_data is None
    # On update too, and a key only stringData has joins data.
    current = stored.to_dict()
    current["stringData"] = {"extra": "x"}
    status, body = await _put(api_server, f"{SECRETS}/merged", current)
    assert status == 200, body
    assert body["data"]["extra"] == b64("x") and "stringData" not in body
    listed = (await client.secrets.list("default")).items
    assert all(item.string_data is None for item in listed)


async def test_data_that_is_not_base64_is_refused_as_kubernetes_decodes_it(api_server):
    for path, obj, kind, offset in (
        (SECRETS, _secret("bad-b64", data={"a": "abcd!"}), "Secret", 4),
        (SECRETS, _secret("bad-pad", data={"a": "YQ"}), "Secret", 0),
        (CONFIGMAPS, _configmap("bad-bin", binaryData={"a": "YQ==YQ=="}), "ConfigMap", 4),
    ):
        status, body = await _post(api_server, path, obj)
        assert status == 400 and body["reason"] == "BadRequest", body
        assert body["message"] == (
            f'{kind} in version "v1" cannot be handled as a {kind}: '
            f"illegal base64 data at input byte {offset}"
        )
    # A ConfigMap's data is text, never base64.
    status, body = await _post(api_server, CONFIGMAPS, _configmap("text", data={"a": "abcd!"}))
    assert status == 201, body


def test_base64_follows_go():
    assert decode("YWJj\nZA==") == b"abcd"  # newlines skipped, as Go's decoder does
    for text, offset in (("abc", 0), ("ab=c", 2), ("YQ=", 3), ("a===", 1), ("YWJjZA==x", 8)):
        with pytest.raises(IllegalBase64) as failed:
            decode(text)
        assert failed.value.offset == offset, text


async def test_keys_must_be_config_keys_and_not_in_both_maps(api_server):
    status, body = await _post(
        api_server,
        CONFIGMAPS,
        _configmap(
            "bad-keys",
            data={"ok.key": "1", "has space": "2", "..": "3", "both": "4"},
            binaryData={"both": b64("4"), "..hidden": b64("5")},
        ),
    )
    assert status == 422, body
    causes = _causes(body)
    assert (
        "data[has space]",
        'Invalid value: "has space": a valid config key must consist of alphanumeric '
        "characters, '-', '_' or '.' (e.g. 'key.name', or 'KEY_NAME', or 'key-name', "
        "regex used for validation is '[-._a-zA-Z0-9]+')",
    ) in causes
    assert ("data[..]", "Invalid value: \"..\": must not be '..'") in causes
    assert ("data[both]", 'Invalid value: "both": duplicate of key present in binaryData') in causes
    assert ("binaryData[both]", 'Invalid value: "both": duplicate of key present in data') in causes
    assert (
        "binaryData[..hidden]",
        "Invalid value: \"..hidden\": must not start with '..'",
    ) in causes
    assert not any(field == "data[ok.key]" for field, _ in causes)
    status, body = await _post(api_server, SECRETS, _secret("dot", stringData={".": "x"}))
    assert status == 422 and _causes(body) == [("data[.]", "Invalid value: \".\": must not be '.'")]


async def test_one_mebibyte_at_most(api_server):
    status, body = await _post(
        api_server, SECRETS, _secret("at-limit", data={"a": b64(b"x" * (MIB - 1)), "b": b64("y")})
    )
    assert status == 201, body.get("message", body)
    status, body = await _post(
        api_server, SECRETS, _secret("over-limit", data={"a": b64(b"x" * MIB), "b": b64("y")})
    )
    assert status == 422, body
    assert body["message"] == (
        'Secret "over-limit" is invalid: data: Too long: must have at most 1048576 bytes'
    )
    status, body = await _post(
        api_server,
        CONFIGMAPS,
        _configmap("over-limit", data={"a": "x" * (MIB - 1)}, binaryData={"b": b64("yy")}),
    )
    assert status == 422 and _causes(body) == [("[]", "Too long: must have at most 1048576 bytes")]
    assert body["message"] == (
        'ConfigMap "over-limit" is invalid: []: Too long: must have at most 1048576 bytes'
    )


async def test_immutable_objects_keep_their_data(api_server, client):
    await client.configmaps.create(
        _configmap("frozen", data={"a": "1"}, immutable=True), namespace="default"
    )
    await client.secrets.create(_secret("frozen", data={"a": b64("1")}, immutable=True), "default")
    immutable = "Forbidden: field is immutable when `immutable` is set"
    cm = (await client.configmaps.get("frozen", "default")).to_dict()
    for change, fields in (
        ({"data": {"a": "2"}}, ["data"]),
        ({"binaryData": {"b": b64("2")}}, ["binaryData"]),
        ({"immutable": False}, ["immutable"]),
        ({"immutable": None, "data": {}}, ["immutable", "data"]),
    ):
        status, body = await _put(api_server, f"{CONFIGMAPS}/frozen", {**cm, **change})
        assert status == 422, (change, body)
        assert _causes(body) == [(field, immutable) for field in fields], change
    secret = (await client.secrets.get("frozen", "default")).to_dict()
    for change, fields in (
        ({"data": {"a": b64("2")}}, ["data"]),
        ({"stringData": {"a": "2"}}, ["data"]),  # merged into data first, as Kubernetes does
        ({"immutable": False}, ["immutable"]),
    ):
        status, body = await _put(api_server, f"{SECRETS}/frozen", {**secret, **change})
        assert status == 422, (change, body)
        assert _causes(body) == [(field, immutable) for field in fields], change
    # Its metadata still changes, and it can be deleted.
    labelled = await client.secrets.patch("frozen", {"metadata": {"labels": {"a": "b"}}}, "default")
    assert labelled.metadata.labels == {"a": "b"}
    await client.configmaps.delete("frozen", "default")


async def test_secret_types_require_their_keys(api_server, client):
    cases = [
        (
            _secret("dcj-missing", type="kubernetes.io/dockerconfigjson"),
            [("data[.dockerconfigjson]", "Required value")],
        ),
        (
            _secret(
                "dcj-bad",
                type="kubernetes.io/dockerconfigjson",
                stringData={".dockerconfigjson": '{"auths": '},
            ),
            [
                (
                    "data[.dockerconfigjson]",
                    'Invalid value: "<secret contents redacted>": unexpected end of JSON input',
                )
            ],
        ),
        (
            _secret("tls-half", type="kubernetes.io/tls", stringData={"tls.crt": "c"}),
            [("data[tls.key]", "Required value")],
        ),
        (
            _secret("basic-none", type="kubernetes.io/basic-auth"),
            [
                ("data[username]", "Required value"),
                ("data[password]", "Required value"),
            ],
        ),
        (
            _secret("ssh-empty", type="kubernetes.io/ssh-auth", data={"ssh-privatekey": ""}),
            [("data[ssh-privatekey]", "Required value")],
        ),
        (
            _secret("sa-token", type="kubernetes.io/service-account-token"),
            [("metadata.annotations[kubernetes.io/service-account.name]", "Required value")],
        ),
    ]
    for obj, expected in cases:
        status, body = await _post(api_server, SECRETS, obj)
        assert status == 422, (obj, body)
        assert _causes(body) == expected, obj["metadata"]["name"]
    # Complete ones pass; basic-auth needs only one of its two keys.
    for obj in (
        _secret(
            "dcj-ok",
            type="kubernetes.io/dockerconfigjson",
            stringData={".dockerconfigjson": '{"auths": {}}'},
        ),
        _secret("basic-ok", type="kubernetes.io/basic-auth", stringData={"username": "u"}),
        _secret("custom-type", type="example.com/anything", data={"x": b64("y")}),
    ):
        status, body = await _post(api_server, SECRETS, obj)
        assert status == 201, body
    # The type never changes.
    stored = (await client.secrets.get("basic-ok", "default")).to_dict()
    status, body = await _put(api_server, f"{SECRETS}/basic-ok", {**stored, "type": "Opaque"})
    assert status == 422
    assert _causes(body) == [("type", 'Invalid value: "Opaque": field is immutable')]


async def test_client_sees_a_type_error_as_a_field_error(client):
    with pytest.raises(ApiException) as refused:
        await client.secrets.create(_secret("typed", stringData={"a": 1}), "default")
    assert refused.value.code == 422 and "stringData[a]" in str(refused.value)


def test_secret_data_is_redacted_wherever_objects_are_logged():
    wire = _secret("s", data={"password": b64("hunter2")}, stringData={"token": "t0k3n"})
    typed = Secret.from_dict(wire)
    for value in (
        wire,
        typed,
        {"kind": "SecretList", "items": [{"metadata": {"name": "s"}, "data": {"k": b64("v")}}]},
        {"type": "ADDED", "object": wire},
        AdmissionRequest(CREATE, "Secret", typed, None),
    ):
        text = json.dumps(redact(value))
        for secret in (b64("hunter2"), "t0k3n", b64("v")):
            assert secret not in text, (value, text)
        assert MASK in text


async def test_owned_configmaps_and_secrets_go_with_their_owner():
    """Both kinds take part in garbage collection, as in Kubernetes: an operator's
    ConfigMap or Secret owned by its object is deleted once the owner is gone."""
    from navarch.controllers.garbagecollector import GarbageCollector, watched
    from navarch.testing.controllers import FakeCluster
    from tests.controllers.test_garbagecollector import _ref, _rs, _settle

    assert {"configmaps", "secrets"} <= set(watched())
    owned = {"ownerReferences": [_ref("web", "u-web")]}
    cluster = FakeCluster()
    cluster.add(
        _rs("web", "u-web"),
        _configmap("web-config", data={"a": "1"}) | {"metadata": {"name": "web-config", **owned}},
        _secret("web-secret", data={"a": b64("1")}) | {"metadata": {"name": "web-secret", **owned}},
        _secret("unowned"),
    )
    controller = GarbageCollector(cluster.context("garbage-collector"))
    await _settle(controller, cluster)
    del cluster.objects[("replicasets", "default", "web")]
    await _settle(controller, cluster)
    assert [c["metadata"]["name"] for c in cluster.stored("configmaps")] == []
    assert [s["metadata"]["name"] for s in cluster.stored("secrets")] == ["unowned"]
