"""`navarch agent` as users run it: a node token made with `navarch token add` while
the server runs (the Node authoriser and NodeRestriction then judge every call the
agent makes), `--simulate N` nodes in one process, and SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from navarch import api
from navarch.testing.images import BUSYBOX_IMAGE
from tests.agent.conftest import DEADLINE, eventually, pod_body
from tests.conftest import run_cli


def as_dict(obj):
    return obj if isinstance(obj, dict) else api.dump(obj)


def start_agent(directory: Path, *args: str, settings: dict | None = None):
    config = {
        "data_dir": str(directory / "data"),
        "log": {"format": "json"},
        "agent": {
            "node_ip": "127.0.0.1",
            "address": "127.0.0.1",
            "port": 0,
            "lease_renew_seconds": 1,
            **(settings or {}),
        },
    }
    path = directory / "agent.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAVARCH_")}
    log = open(directory / "agent.log", "ab")  # noqa: SIM115 - closed by stop()
    process = subprocess.Popen(
        [sys.executable, "-m", "navarch.cli.navarch", "--config", str(path), "agent", *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    process.log_file = log  # type: ignore[attr-defined]
    return process


def stop(process) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail("the agent did not stop on SIGTERM")
    process.log_file.close()
    return process.returncode


async def running(client, name):
    status = as_dict(await client.pods.get(name, "default")).get("status") or {}
    return status.get("phase") == "Running"


async def test_agent_with_a_node_token_made_while_the_server_runs(client, api_server, tmp_path):
    # The server's own configuration: its data directory and the address it serves.
    made = run_cli(
        "--config",
        str(api_server.directory / "navarch.yaml"),
        "token",
        "add",
        "--role",
        "node",
        "--name",
        "tok-node",
        "-o",
        "kubeconfig",
    )
    assert made.returncode == 0, made.stderr
    kubeconfig = tmp_path / "node.kubeconfig"
    kubeconfig.write_text(made.stdout)
    assert yaml.safe_load(made.stdout)["users"][0]["name"] == "system:node:tok-node"
    agent = start_agent(
        tmp_path, "--kubeconfig", str(kubeconfig), "--runtime", "sim", "--node-name", "tok-node"
    )
    try:
        await eventually(lambda: client.nodes.get("tok-node"), "the Node registered by token")
        await client.pods.create(pod_body("tok-pod", "tok-node", image=BUSYBOX_IMAGE))
        await eventually(lambda: running(client, "tok-pod"), "Running under a node token")
        await client.pods.delete("tok-pod", "default", grace_period_seconds=3)

        async def gone():
            try:
                await client.pods.get("tok-pod", "default")
            except Exception as exc:
                return type(exc).__name__ == "NotFound"
            return False

        await eventually(gone, "the deletion confirmed with the node's token")
        log = (tmp_path / "agent.log").read_text()
        # An ApiException reads "403 Forbidden: ..." (a bare "403" may be in a timestamp).
        assert "Forbidden" not in log and '"level":"WARNING"' not in log, log[-3000:]
    finally:
        assert stop(agent) == 0, (tmp_path / "agent.log").read_text()[-3000:]


async def test_simulated_nodes_in_one_process(client, api_server, tmp_path):
    agent = start_agent(
        tmp_path,
        "--kubeconfig",
        str(api_server.kubeconfig),
        "--runtime",
        "sim",
        "--simulate",
        "3",
        settings={"simulate_prefix": "simtest"},
    )
    try:
        for i in range(3):
            await eventually(lambda i=i: client.nodes.get(f"simtest-{i}"), f"node simtest-{i}")
        for i in range(6):
            await client.pods.create(pod_body(f"sim-{i}", f"simtest-{i % 3}", image=BUSYBOX_IMAGE))
        for i in range(6):
            await eventually(lambda i=i: running(client, f"sim-{i}"), f"pod sim-{i} Running")
        leases = [
            as_dict(await client.leases.get(f"simtest-{i}", "kube-node-lease")) for i in range(3)
        ]
        assert [lease["spec"]["holderIdentity"] for lease in leases] == [
            "simtest-0",
            "simtest-1",
            "simtest-2",
        ]
        for i in range(6):
            await client.pods.delete(f"sim-{i}", "default", grace_period_seconds=0)
    finally:
        assert stop(agent) == 0, (tmp_path / "agent.log").read_text()[-3000:]


def test_agent_without_a_runtime_says_which_are_installed(tmp_path):
    result = run_cli("--data-dir", str(tmp_path), "--set", "runtime.name=", "agent")
    assert result.returncode != 0
    assert "runtime.name" in result.stderr and "docker" in result.stderr and "sim" in result.stderr


def test_a_bad_taint_is_a_configuration_error_naming_the_setting(tmp_path):
    result = run_cli(
        "--data-dir", str(tmp_path), "--set", "agent.taints=gpu:Often", "agent", "--runtime", "sim"
    )
    assert result.returncode == 2, result.stderr
    assert "agent.taints: 'gpu:Often' is not key=value:Effect" in result.stderr
    assert "Traceback" not in result.stderr
