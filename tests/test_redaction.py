"""Secrets never reach a log, a hook trace or an Event (issue 29 item 2): a real API
server with the hook trace on and DEBUG logs is sent requests with several tokens,
and its whole log is searched for each; plus the redaction rules themselves."""

from __future__ import annotations

import base64
import io
import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
import yaml
from loguru import logger
from multidict import CIMultiDict, CIMultiDictProxy

from navarch.api import load
from navarch.apiserver.auth import NODE, TokenFile
from navarch.client.events import EventRecorder
from navarch.logs import configure_logging
from navarch.redaction import MASK, redact, redact_text
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.controllers import FakeCluster
from navarch.testing.waiting import until

BAD_TOKEN = "not-a-token-of-ours-7Qm2x9"
BASIC = base64.b64encode(b"alice:hunter2-basic").decode()


@pytest.fixture(scope="module")
def traced_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    settings = {"log": {"level": "DEBUG"}, "plugins": {"trace": True}}
    with ApiServerProcess(tmp_path_factory.mktemp("traced"), settings=settings) as server:
        yield server


def _status(server: ApiServerProcess, path: str, authorization: str) -> int:
    context = ssl.create_default_context(cafile=str(server.data_dir / "pki" / "ca.crt"))
    request = urllib.request.Request(server.url + path, headers={"Authorization": authorization})
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_no_token_reaches_the_log_of_a_traced_server(traced_server: ApiServerProcess) -> None:
    kubeconfig = yaml.safe_load(traced_server.kubeconfig.read_text())
    admin = kubeconfig["users"][0]["user"]["token"]
    node = TokenFile(traced_server.data_dir / "tokens.csv").load_or_create().add(NODE, "n-redact")
    server = traced_server
    assert _status(server, "/api/v1/namespaces/default/pods", f"Bearer {admin}") == 200
    assert _status(server, "/api/v1/namespaces/default/pods", f"bearer {admin}") == 200
    # the server reads the token file again within a second of a change
    until(
        lambda: _status(server, "/api/v1/nodes/n-redact", f"Bearer {node}") != 401,
        "the node token is accepted",
        [server],
    )
    assert _status(server, "/api/v1/namespaces/default/pods", f"Bearer {BAD_TOKEN}") == 401
    assert _status(server, "/api/v1/namespaces/default/pods", f"Basic {BASIC}") == 401
    server.stop()  # every line written

    text = server.log_path.read_text()
    tokens = {"admin": admin, "node": node, "bad": BAD_TOKEN, "basic": BASIC}
    leaked = [name for name, token in tokens.items() if token in text]
    assert leaked == [], "tokens found in the API server's log"
    traced = [json.loads(line) for line in text.splitlines() if '"hook":' in line]
    authentications = [
        line["arguments"]["headers"]["Authorization"]
        for line in traced
        if line["hook"] == "navarch_authenticate" and "arguments" in line
    ]
    # the trace ran, for every request, and masked each credential
    assert len(authentications) >= 6
    assert set(authentications) == {f"Bearer {MASK}", f"bearer {MASK}", f"Basic {MASK}"}
    assert any(line["hook"] == "navarch_authorize" for line in traced)


def test_headers_keep_their_scheme_and_lose_their_credentials() -> None:
    headers = CIMultiDictProxy(
        CIMultiDict({"Host": "h", "authorization": "Bearer abc123xyz", "Cookie": "s=1"})
    )
    assert redact({"headers": headers}) == {
        "headers": {"Host": "h", "authorization": f"Bearer {MASK}", "Cookie": MASK}
    }


def test_nested_settings_and_a_secrets_data_are_masked() -> None:
    settings = {"store": {"options": {"endpoints": ["https://e:2379"], "password": "p4ss"}}}
    assert redact(settings)["store"]["options"] == {
        "endpoints": ["https://e:2379"],
        "password": MASK,
    }
    secret = {"kind": "Secret", "metadata": {"name": "db"}, "data": {"user": "YWxpY2U="}}
    assert redact(secret) == {"kind": "Secret", "metadata": {"name": "db"}, "data": {"user": MASK}}
    kubeconfig_user = {"name": "admin", "user": {"client-key-data": "LS0t", "token": "t0k"}}
    assert redact(kubeconfig_user)["user"] == {"client-key-data": MASK, "token": MASK}


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("request with Authorization: Bearer s3cr3t-t0ken refused", "s3cr3t-t0ken"),
        ("{'Authorization': 'bearer s3cr3t-t0ken'}", "s3cr3t-t0ken"),
        ("connecting to https://root:hunter2@etcd.local:2379", "hunter2"),
        ("login failed: password=hunter2; retrying", "hunter2"),
        ('{"token": "s3cr3t-t0ken"}', "s3cr3t-t0ken"),
        ("sa eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl used", "c2lnbmF0dXJl"),
        ("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIK\n-----END EC PRIVATE KEY-----", "MHcCAQEEIK"),
    ],
)
def test_secrets_in_free_text_are_masked(text: str, secret: str) -> None:
    redacted = redact_text(text)
    assert secret not in redacted and MASK in redacted


def test_ordinary_lines_are_left_alone() -> None:
    for text in ("the API server is ready", "token_file=/var/lib/navarch/tokens.csv", "3 keys"):
        assert redact_text(text) == text


def test_log_records_are_redacted_on_every_sink() -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream)
    try:
        logger.bind(
            component="test", headers={"Authorization": "Bearer s3cr3t-t0ken"}, password="p4ss"
        ).debug("retrying with Bearer s3cr3t-t0ken")
    finally:
        logger.remove()
        logger.disable("navarch")
    (line,) = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert line["message"] == f"retrying with Bearer {MASK}"
    assert line["headers"] == {"Authorization": f"Bearer {MASK}"}
    assert line["password"] == MASK


async def test_an_events_message_is_redacted() -> None:
    cluster = FakeCluster()
    pod = load(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "uid": "p-1"},
            "spec": {"containers": [{"name": "c", "image": "127.0.0.1:5000/a:1"}]},
        },
        defaults=False,
        check=False,
    ).obj
    recorder = EventRecorder(cluster.client, "test", "test")  # type: ignore[arg-type]
    await recorder.record(
        pod, "Warning", "Failed", "pull https://bot:hunter2@127.0.0.1:5000/a:1 failed"
    )
    (event,) = cluster.stored("events", "default")
    assert event["message"] == f"pull https://bot:{MASK}@127.0.0.1:5000/a:1 failed"
