"""Exec through the API server to a simulated node's agent, driven by the official
``kubernetes`` Python client (its ``stream()`` over websocket-client), in the shape of
that client's own e2e tests (issue 21 item 5)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.stream import stream

from navarch.testing import waiting
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.cluster import sim_agent_process
from navarch.testing.navarchprocess import NavarchProcess

NODE = "exec-sim-0"
DEADLINE = 60.0


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ApiServerProcess, NavarchProcess]]:
    root = tmp_path_factory.mktemp("exec-official-client")
    with ApiServerProcess(root / "apiserver") as server:
        # A non-simulated agent process on runtime_sim: it serves the streaming port.
        agent = sim_agent_process(root, server, node_name=NODE).start()
        try:
            yield server, agent
        finally:
            agent.stop()


@pytest.fixture(scope="module")
def core(cluster) -> Iterator[client.CoreV1Api]:
    server, _ = cluster
    api_client = config.new_client_from_config(config_file=str(server.kubeconfig))
    yield client.CoreV1Api(api_client)
    api_client.close()


def _running_pod(core: client.CoreV1Api, cluster: Any) -> str:
    name = f"busybox-{uuid.uuid4().hex[:8]}"
    core.create_namespaced_pod(
        "default",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {
                "nodeName": NODE,
                "terminationGracePeriodSeconds": 1,
                "containers": [
                    {
                        "name": "busybox",
                        "image": "127.0.0.1:5000/busybox:1",
                        "command": ["sh", "-c", "while true; do date; sleep 5; done"],
                    }
                ],
            },
        },
    )
    waiting.until(
        lambda: core.read_namespaced_pod(name, "default").status.phase == "Running",
        f"pod {name} running",
        [cluster[1]],
        deadline=DEADLINE,
        every=0.2,
    )
    return name


def test_pod_exec_close_channel(core, cluster):
    """The client's test_pod_exec_close_channel: stdin written as a str (a TEXT frame),
    the stdin channel closed (v5), the echo read back until the command ends."""
    name = _running_pod(core, cluster)
    resp = stream(
        core.connect_post_namespaced_pod_exec,
        name,
        "default",
        command=["cat"],
        stderr=True,
        stdin=True,
        stdout=True,
        tty=False,
        _preload_content=False,
    )
    try:
        resp.write_stdin("test-close")
        resp.close_channel(0)  # stdin ended: cat exits once it has echoed
        out = ""
        waiting.until(
            lambda: resp.update(timeout=1) or not resp.is_open(),
            "the exec stream closed by the server",
            [cluster[1]],
            deadline=DEADLINE,
            every=0.0,
        )
        out = resp.read_stdout(timeout=1)
    finally:
        resp.close()
    assert out == "test-close"
    assert resp.returncode == 0


def test_pod_exec_binary_stdin(core, cluster):
    """bytes go as a BINARY frame: the same channel protocol."""
    name = _running_pod(core, cluster)
    resp = stream(
        core.connect_get_namespaced_pod_exec,
        name,
        "default",
        command=["cat"],
        stdin=True,
        stdout=True,
        stderr=True,
        tty=False,
        binary=True,
        _preload_content=False,
    )
    try:
        resp.write_stdin(b"raw \x00 bytes")
        resp.close_channel(0)
        waiting.until(
            lambda: resp.update(timeout=1) or not resp.is_open(),
            "the exec stream closed by the server",
            [cluster[1]],
            deadline=DEADLINE,
            every=0.0,
        )
        out = resp.read_stdout(timeout=1)
    finally:
        resp.close()
    assert out == b"raw \x00 bytes"
