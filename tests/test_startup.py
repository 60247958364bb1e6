"""Start-up and shutdown of the daemons (issue 8, items 4-8): the data directory's
PKI under concurrency, the advertised address and certificate names, one-line
start-up errors, the scheduler waiting for the API server, and a prompt exit on
SIGTERM with a watch open."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from navarch.apiserver import server
from navarch.apiserver.pki import Pki, PkiError
from navarch.config import load_config
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.daemon import free_port

from .scheduler.test_scheduling import node, pod

DEADLINE = 60.0  # generous bound for conditions; no test asserts on speed


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("NAVARCH_")}


def navarch(*args: str) -> list[str]:
    return [sys.executable, "-m", "navarch.cli.navarch", "--log-level", "WARNING", *args]


def run_navarch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        navarch(*args), capture_output=True, text=True, env=_env(), timeout=DEADLINE
    )


def wait_until(condition, what: str, timeout: float = DEADLINE):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# --- item 5: the data directory is initialised atomically ----------------------------


_OPEN_SERVING = (
    "import sys; from pathlib import Path; from navarch.apiserver.pki import Pki; "
    "Pki(Path(sys.argv[1])).open_serving(['127.0.0.1', 'localhost']).close()"
)


def test_processes_racing_on_a_fresh_data_dir_agree_on_one_chain(tmp_path):
    data_dir = tmp_path / "data"
    processes = []
    for i in range(6):
        if i % 2:
            command = [sys.executable, "-c", _OPEN_SERVING, str(data_dir / "pki")]
        else:
            command = navarch("--data-dir", str(data_dir), "server", "--print-kubeconfig")
        processes.append(
            subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env()
            )
        )
    outputs = [p.communicate(timeout=DEADLINE) for p in processes]
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
    ca = (data_dir / "pki" / "ca.crt").read_bytes()
    tokens = set()
    for stdout, _ in outputs[::2]:
        config = yaml.safe_load(stdout)
        assert (
            base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]) == ca
        )
        tokens.add(config["users"][0]["user"]["token"])
    assert len(tokens) == 1
    # The serving certificate is signed by that CA and matches its key.
    Pki(data_dir / "pki").open_serving(["127.0.0.1", "localhost"]).close()


def _issue(directory: Path, hosts=("127.0.0.1",)) -> Pki:
    pki = Pki(directory)
    pki.open_serving(list(hosts)).close()
    return pki


def test_a_serving_certificate_from_another_ca_is_refused(tmp_path):
    mine, other = _issue(tmp_path / "a"), _issue(tmp_path / "b")
    mine.server_cert.write_bytes(other.server_cert.read_bytes())
    mine.server_key.write_bytes(other.server_key.read_bytes())
    with pytest.raises(PkiError, match="is not signed by"):
        mine.open_serving(["127.0.0.1"])


def test_a_serving_key_that_does_not_match_is_refused(tmp_path):
    mine, other = _issue(tmp_path / "a"), _issue(tmp_path / "b")
    mine.server_key.write_bytes(other.server_key.read_bytes())
    with pytest.raises(PkiError, match="does not match"):
        mine.open_serving(["127.0.0.1"])


def test_a_ca_key_that_does_not_match_is_refused(tmp_path):
    mine, other = _issue(tmp_path / "a"), _issue(tmp_path / "b")
    mine.ca_key.write_bytes(other.ca_key.read_bytes())
    with pytest.raises(PkiError, match=r"ca\.key does not match"):
        mine.ensure_ca()


def test_new_names_reissue_the_certificate_only_when_no_server_uses_it(tmp_path):
    pki = Pki(tmp_path)
    running = pki.open_serving(["127.0.0.1"])
    before = pki.server_cert.read_bytes()
    with pytest.raises(PkiError, match="another navarch server"):
        pki.open_serving(["127.0.0.1", "api.example.test"])
    assert pki.server_cert.read_bytes() == before
    # Same names: a second server may share it.
    pki.open_serving(["127.0.0.1"]).close()
    running.close()
    pki.open_serving(["127.0.0.1", "api.example.test"]).close()
    cert = x509.load_pem_x509_certificate(pki.server_cert.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "api.example.test" in names.get_values_for_type(x509.DNSName)


def test_print_kubeconfig_never_rewrites_a_running_servers_certificate(tmp_path):
    with ApiServerProcess(tmp_path) as api:
        pki = api.data_dir / "pki"
        before = {name: (pki / name).read_bytes() for name in ("server.crt", "server.key")}
        result = run_navarch(
            "--data-dir",
            str(api.data_dir),
            "--set",
            "api.address=127.0.0.2",
            "--set",
            "api.cert_sans=other.example.test",
            "server",
            "--print-kubeconfig",
        )
        assert result.returncode == 0, result.stderr
        assert yaml.safe_load(result.stdout)["clusters"][0]["cluster"]["server"] == (
            "https://127.0.0.2:6443"
        )
        assert {name: (pki / name).read_bytes() for name in before} == before
        assert api.process.poll() is None


# --- item 4: advertised address, extra names, TLS 1.2 suites --------------------------


def _config(tmp_path, *overrides: str):
    return load_config(None, {}, [f"data_dir={tmp_path}", *overrides])


def test_a_wildcard_address_is_never_advertised(tmp_path):
    config = _config(tmp_path, "api.address=0.0.0.0", "api.cert_sans=api.example.test")
    advertised = server.default_route_address()
    url = server.kubeconfig(config, "token")["clusters"][0]["cluster"]["server"]
    assert url == f"https://{advertised}:6443"
    assert "0.0.0.0" not in server.serving_hosts(config)
    assert {advertised, "api.example.test"} <= set(server.serving_hosts(config))


def test_the_advertised_address_goes_into_kubeconfigs_and_the_certificate(tmp_path):
    config = _config(tmp_path, "api.address=0.0.0.0", "api.advertise_address=192.0.2.7")
    url = server.kubeconfig(config, "token")["clusters"][0]["cluster"]["server"]
    assert url == "https://192.0.2.7:6443"
    assert "192.0.2.7" in server.serving_hosts(config)


def _handshake(api: ApiServerProcess, context: ssl.SSLContext, name: str) -> None:
    with (
        socket.create_connection(("127.0.0.1", api.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=name),
    ):
        pass


def test_serving_certificate_carries_cert_sans_and_refuses_cbc_suites(tmp_path):
    api_settings = {
        "cert_sans": ["api.example.test", "192.0.2.10"],
        "advertise_address": "localhost",
    }
    with ApiServerProcess(tmp_path, settings={"api": api_settings}) as api:
        ca = str(api.data_dir / "pki" / "ca.crt")
        _handshake(api, ssl.create_default_context(cafile=ca), "api.example.test")
        token = yaml.safe_load(api.kubeconfig.read_text())["users"][0]["user"]["token"]
        request = urllib.request.Request(
            f"{api.url}/api", headers={"Authorization": f"Bearer {token}"}
        )
        context = ssl.create_default_context(cafile=ca)
        with urllib.request.urlopen(request, timeout=DEADLINE, context=context) as response:
            body = json.load(response)
        # Discovery names the advertised address, never the listening one.
        assert body["serverAddressByClientCIDRs"][0]["serverAddress"] == f"localhost:{api.port}"
        tls12 = ssl.create_default_context(cafile=ca)
        tls12.maximum_version = ssl.TLSVersion.TLSv1_2
        tls12.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
        _handshake(api, tls12, "127.0.0.1")
        cbc = ssl.create_default_context(cafile=ca)
        cbc.maximum_version = ssl.TLSVersion.TLSv1_2
        cbc.set_ciphers("ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384")
        with pytest.raises(ssl.SSLError):
            _handshake(api, cbc, "127.0.0.1")


# --- item 8: every start-up failure is one line --------------------------------------


def assert_one_line(result: subprocess.CompletedProcess[str], status: int, *words: str) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("navarch: error: "), result.stderr
    for word in words:
        assert word in lines[0], result.stderr
    assert result.returncode == status, result.stderr


def start_server(data_dir, *settings: str) -> subprocess.CompletedProcess[str]:
    sets = [arg for item in settings for arg in ("--set", item)]
    port = (
        []
        if any(s.startswith("api.port=") for s in settings)
        else ["--set", f"api.port={free_port()}"]
    )
    return run_navarch("--data-dir", str(data_dir), *port, *sets, "server")


def test_port_in_use(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = start_server(tmp_path, f"api.port={port}")
    assert_one_line(result, 1, "in use", "api.port")


def test_data_dir_is_a_file(tmp_path):
    (tmp_path / "file").write_text("")
    assert_one_line(start_server(tmp_path / "file"), 1, "not a directory")


def test_data_dir_cannot_be_written(tmp_path):
    if os.geteuid() == 0:
        data_dir = Path("/sys") / f"navarch-test-{os.getpid()}"  # refused even to root
    else:
        data_dir = tmp_path / "read-only"
        data_dir.mkdir(mode=0o500)
    assert_one_line(start_server(data_dir / "data"), 1, "data_dir")


def test_store_locked_by_another_server(tmp_path):
    with ApiServerProcess(tmp_path) as api:
        result = start_server(api.data_dir)
        assert api.process.poll() is None
    assert_one_line(result, 1, "in use by another process")


def test_bad_store_options(tmp_path):
    assert_one_line(start_server(tmp_path, "store.options={map_size: -1}"), 2, "store.options")


def test_unresolvable_address(tmp_path):
    # A name the resolver library refuses by itself: no DNS query leaves the machine.
    assert_one_line(start_server(tmp_path, "api.address=bad..name"), 1, "cannot be resolved")


def test_etcd_unreachable(tmp_path):
    endpoint = f"127.0.0.1:{free_port()}"
    result = start_server(
        tmp_path,
        "store.name=etcd",
        f"store.options={{endpoints: ['{endpoint}'], timeout_seconds: 1}}",
    )
    assert_one_line(result, 1, "unavailable")


def test_corrupt_store(tmp_path):
    (tmp_path / "store").mkdir(parents=True)
    (tmp_path / "store" / "data.mdb").write_bytes(b"not an lmdb file" * 1024)
    assert_one_line(start_server(tmp_path), 1, "data.mdb")


def test_max_inflight_below_one_is_a_configuration_error(tmp_path):
    assert_one_line(start_server(tmp_path, "api.max_inflight=0"), 2, "api.max_inflight")


# --- item 6: daemons wait for the API server ----------------------------------------


def _start_scheduler(data_dir: Path, log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "navarch.cli.navarch",
                "--data-dir",
                str(data_dir),
                "--log-format",
                "json",
                "scheduler",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_env(),
        )


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=DEADLINE)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_scheduler_started_before_the_api_server_waits_and_binds(tmp_path):
    from navarch.client import Client

    api = ApiServerProcess(tmp_path)
    log_path = tmp_path / "scheduler.log"
    scheduler = _start_scheduler(api.data_dir, log_path)
    try:
        wait_until(
            lambda: "waiting for the API server" in log_path.read_text(), "the waiting log line"
        )
        assert scheduler.poll() is None
        with api:
            async with Client.from_kubeconfig(api.kubeconfig) as client:
                await client.nodes.create(node("early-node"))
                await client.pods.create(pod("early-pod"), "default")
                deadline = time.monotonic() + DEADLINE
                while True:
                    found = await client.pods.get("early-pod", "default")
                    if found.spec.node_name:
                        break
                    assert time.monotonic() < deadline, log_path.read_text()
                    assert scheduler.poll() is None, log_path.read_text()
                    await _sleep(0.2)
                assert found.spec.node_name == "early-node"
            assert _stop(scheduler) == 0
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
            scheduler.wait()
    assert "Traceback" not in log_path.read_text()


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


def test_a_waiting_scheduler_stops_cleanly_on_sigterm(tmp_path):
    log_path = tmp_path / "scheduler.log"
    scheduler = _start_scheduler(tmp_path / "data", log_path)
    try:
        wait_until(
            lambda: "waiting for the API server" in log_path.read_text(), "the waiting log line"
        )
    finally:
        status = _stop(scheduler)
    assert status == 0, log_path.read_text()
    assert "Traceback" not in log_path.read_text()


# --- item 7: SIGTERM with a watch open ----------------------------------------------


def test_sigterm_with_a_watch_open_exits_promptly(tmp_path):
    with ApiServerProcess(tmp_path) as api:
        config = yaml.safe_load(api.kubeconfig.read_text())
        token = config["users"][0]["user"]["token"]
        context = ssl.create_default_context(cafile=str(api.data_dir / "pki" / "ca.crt"))
        with (
            socket.create_connection(("127.0.0.1", api.port), timeout=DEADLINE) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as watch,
        ):
            watch.sendall(
                b"GET /api/v1/pods?watch=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Authorization: Bearer " + token.encode() + b"\r\n\r\n"
            )
            assert watch.recv(12).startswith(b"HTTP/1.1 200")
            api.process.send_signal(signal.SIGTERM)
            # Generous: the bug kept the process alive ~122 s after the port closed.
            status = api.process.wait(timeout=20)
        assert status == 0, api.log_tail()
        assert "Traceback" not in api.log_tail()
