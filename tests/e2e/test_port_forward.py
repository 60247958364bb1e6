"""``kubectl port-forward``, ``kubectl attach`` and ``kubectl cp`` with the real
kubectl (issue 24 item 7): an API server, ``navarch agent --runtime containerd`` on a
private containerd, the test busybox image (no registry).

The web servers listen on 127.0.0.1 inside the pod's own network namespace, which
the host cannot reach: an answer on the forwarded local port proves the agent
connected from inside that namespace. kubectl processes started here are ended by
their pid."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from navarch.client import Client
from navarch.client.errors import ApiException
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.containerd import ContainerdProcess, containerd_problem
from navarch.testing.daemon import require_or_skip, unmount_under
from navarch.testing.images import BUSYBOX_IMAGE, busybox_archive
from navarch_runtime_containerd import ContainerdClient, import_image_archive
from tests.agent.conftest import DEADLINE, eventually, pod_body
from tests.agent.test_agent_containerd import AgentProcess
from tests.e2e.streams import (
    BIG,
    WEB,
    PortForward,
    answered,
    kubectl,
    kubectl_binary,
    kubectl_port_forward,
    until_answered,
)

pytestmark = pytest.mark.daemon


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    with ApiServerProcess(tmp_path_factory.mktemp("apiserver")) as server:
        yield server


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerdProcess]:
    require_or_skip(containerd_problem())
    process = ContainerdProcess(tmp_path_factory.mktemp("pf") / "containerd").start()
    try:
        yield process
    finally:
        process.remove()


@pytest.fixture(scope="module")
def agent(
    tmp_path_factory: pytest.TempPathFactory,
    api_server: ApiServerProcess,
    containerd: ContainerdProcess,
) -> Iterator[AgentProcess]:
    process = AgentProcess(
        tmp_path_factory.mktemp("agent"),
        api_server.kubeconfig,
        containerd.socket_path,
        f"pf-{uuid.uuid4().hex[:6]}",
    )
    archive = busybox_archive(tmp_path_factory.getbasetemp())

    async def load() -> None:
        async with ContainerdClient(
            containerd.socket_path, namespace=process.namespace, timeout=5.0
        ) as inspector:
            await inspector.ensure_namespace()
            await import_image_archive(inspector, archive)

    asyncio.run(load())
    process.start()
    try:
        yield process
    finally:
        process.stop()
        unmount_under((process.data_dir,))


@pytest_asyncio.fixture
async def client(api_server: ApiServerProcess) -> AsyncIterator[Client]:
    async with Client.from_kubeconfig(api_server.kubeconfig) as client:
        yield client


async def start_pod(client: Client, agent: AgentProcess, name: str, script: str, **spec: Any):
    body = pod_body(name, agent.node, image=BUSYBOX_IMAGE, command=["sh", "-c", script], **spec)
    body["spec"]["terminationGracePeriodSeconds"] = 1
    await client.pods.create(body)

    async def running() -> bool:
        found: Any = await client.request("GET", f"/api/v1/namespaces/default/pods/{name}")
        return (found.get("status") or {}).get("phase") == "Running"

    await eventually(running, f"pod {name} Running")


async def test_kubectl_port_forward_reaches_servers_on_the_pods_own_loopback(
    client: Client, api_server: ApiServerProcess, agent: AgentProcess, tmp_path: Path
) -> None:
    await _web_pod(client, agent)
    forward = kubectl_port_forward(api_server, "pod/web", 8080, 9090, 7777, log=tmp_path / "pf")
    try:
        assert await until_answered(forward, 8080) == b"alpha\n"
        assert await until_answered(forward, 9090) == b"beta\n"
        # Several connections at once, and more than one SPDY window of data.
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            bodies = list(pool.map(lambda _: forward.get(8080, "/big"), range(6)))
        assert all(body == BIG for body in bodies)
        # Nothing listens on 7777: kubectl prints the error the server sent on the
        # error stream. (kubectl 1.32 then closes its connection and exits, "lost
        # connection to pod", as it does against Kubernetes.)
        assert await asyncio.to_thread(answered, forward, 7777) is None
        deadline = time.monotonic() + DEADLINE
        while "an error occurred forwarding" not in forward.output():
            assert time.monotonic() < deadline, forward.output()
            await asyncio.sleep(0.2)
        assert re.search(r"forwarding \d+ -> 7777: .*connection refused", forward.output()), (
            forward.output()
        )
    finally:
        forward.stop()
    # The failed connection broke nothing on the server's side.
    again = kubectl_port_forward(api_server, "web", 8080, log=tmp_path / "pf-again")
    try:
        assert await until_answered(again, 8080) == b"alpha\n"
    finally:
        forward.stop()


async def test_kubectl_port_forward_over_plain_spdy(
    api_server: ApiServerProcess, agent: AgentProcess, client: Client, tmp_path: Path
) -> None:
    """kubectl's other dialect (older kubectl, or WebSockets turned off): SPDY on the
    upgraded HTTP connection itself."""
    await _web_pod(client, agent)
    command = [kubectl_binary(), "--kubeconfig", str(api_server.kubeconfig), "port-forward"]
    command += ["--address", "127.0.0.1", "pod/web", ":9090"]
    forward = PortForward(
        command, [9090], tmp_path / "pf", env={"KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"}
    )
    try:
        assert await until_answered(forward, 9090) == b"beta\n"
    finally:
        forward.stop()


async def test_navctl_port_forward(
    api_server: ApiServerProcess, agent: AgentProcess, client: Client, tmp_path: Path
) -> None:
    await _web_pod(client, agent)
    command = [sys.executable, "-m", "navarch.cli.navctl", "--kubeconfig"]
    command += [str(api_server.kubeconfig), "port-forward", "web", ":8080", ":9090", ":7777"]
    forward = PortForward(command, [8080, 9090, 7777], tmp_path / "pf", env=_without_navarch())
    try:
        assert await until_answered(forward, 8080) == b"alpha\n"
        assert await until_answered(forward, 9090) == b"beta\n"
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            bodies = list(pool.map(lambda _: forward.get(8080, "/big"), range(4)))
        assert all(body == BIG for body in bodies)
        assert await asyncio.to_thread(answered, forward, 7777) is None
        deadline = time.monotonic() + DEADLINE
        while "connection refused" not in forward.output():
            assert time.monotonic() < deadline, forward.output()
            await asyncio.sleep(0.2)
        assert "forwarding 7777" in forward.output(), forward.output()
        # navctl goes on forwarding the other ports.
        assert forward.get(9090) == b"beta\n"
        assert forward.process.poll() is None, forward.output()
    finally:
        forward.stop()


async def test_port_forward_to_a_pod_gone_from_its_node(
    api_server: ApiServerProcess, agent: AgentProcess, client: Client, tmp_path: Path
) -> None:
    """The pod deleted under a running forward: once its node has removed the sandbox,
    a new connection gets the agent's error, not a hang."""
    await start_pod(client, agent, "brief", WEB)
    command = [sys.executable, "-m", "navarch.cli.navctl", "--kubeconfig"]
    command += [str(api_server.kubeconfig), "port-forward", "brief", ":8080"]
    forward = PortForward(command, [8080], tmp_path / "pf", env=_without_navarch())
    try:
        assert await until_answered(forward, 8080) == b"alpha\n"
        await client.pods.delete("brief", "default", grace_period_seconds=0)

        async def gone() -> bool:
            found: Any = await client.request("GET", "/api/v1/namespaces/default/pods")
            return all(p["metadata"]["name"] != "brief" for p in found["items"])

        await eventually(gone, "pod brief deleted")
        deadline = time.monotonic() + DEADLINE
        while "an error occurred forwarding" not in forward.output():
            assert time.monotonic() < deadline, forward.output()
            await asyncio.to_thread(answered, forward, 8080)  # alpha until the node acts
            await asyncio.sleep(0.5)
        # the sandbox removed (no running sandbox / not found), or, a moment before,
        # its server killed while the namespace is still there (connection refused)
        errors = r"forwarding 8080: .*(no running sandbox|not found|connection refused)"
        assert re.search(errors, forward.output()), forward.output()
    finally:
        forward.stop()


async def _web_pod(client: Client, agent: AgentProcess) -> None:
    try:
        await start_pod(client, agent, "web", WEB)
    except Exception as exc:  # made by an earlier test of this module
        if "AlreadyExists" not in repr(exc) and "already exists" not in str(exc):
            raise


def _without_navarch() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("NAVARCH_")}


async def test_kubectl_attach_sends_stdin_and_reads_output(
    api_server: ApiServerProcess, agent: AgentProcess, client: Client
) -> None:
    """A container started with stdin open: ``kubectl attach -i`` gives it a line and
    reads what it answers, until the container exits (stdinOnce closes its input when
    the attach detaches)."""
    await start_pod(
        client,
        agent,
        "talker",
        'read line; echo "got $line"; read rest; echo "then ${rest:-eof}"',
        restartPolicy="Never",
        container={"stdin": True, "stdinOnce": True},
    )
    result = await kubectl(api_server, "attach", "-i", "talker", stdin=b"hello\n")
    assert result.returncode == 0, result.stderr
    assert b"got hello\nthen eof\n" in result.stdout, (result.stdout, result.stderr)


async def test_kubectl_cp_copies_a_file_in_and_out_unchanged(
    api_server: ApiServerProcess, agent: AgentProcess, client: Client, tmp_path: Path
) -> None:
    await _web_pod(client, agent)
    original = tmp_path / "payload.bin"
    original.write_bytes(bytes(range(256)) * 4096 + b"end")  # 1 MiB and a bit, all bytes
    result = await kubectl(api_server, "cp", str(original), "default/web:/tmp/payload.bin")
    assert result.returncode == 0, result.stderr
    inside = await kubectl(api_server, "exec", "web", "--", "md5sum", "/tmp/payload.bin")
    assert inside.stdout.split()[0].decode() == hashlib.md5(original.read_bytes()).hexdigest()
    back = tmp_path / "back.bin"
    result = await kubectl(api_server, "cp", "default/web:/tmp/payload.bin", str(back))
    assert result.returncode == 0, result.stderr
    assert back.read_bytes() == original.read_bytes()


async def navctl(
    api_server: ApiServerProcess, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, "-m", "navarch.cli.navctl", "--kubeconfig"]
    command += [str(api_server.kubeconfig), *args]
    return await asyncio.to_thread(
        subprocess.run,
        command,
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        timeout=DEADLINE,
        env=_without_navarch(),
    )


async def test_navctl_attach_and_cp(
    api_server: ApiServerProcess, agent: AgentProcess, client: Client, tmp_path: Path
) -> None:
    await start_pod(
        client,
        agent,
        "nv-talker",
        'read line; echo "got $line"; read rest; echo "then ${rest:-eof}"',
        restartPolicy="Never",
        container={"stdin": True, "stdinOnce": True},
    )
    result = await navctl(api_server, "attach", "-i", "nv-talker", stdin=b"hello\n")
    assert result.returncode == 0, result.stderr
    assert b"got hello\nthen eof\n" in result.stdout, (result.stdout, result.stderr)

    await _web_pod(client, agent)
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.bin").write_bytes(bytes(range(256)) * 2048)
    (tree / "sub" / "b.txt").write_text("nested\n")
    result = await navctl(api_server, "cp", str(tree), "web:/tmp/tree")
    assert result.returncode == 0, result.stderr
    listed = await kubectl(api_server, "exec", "web", "--", "cat", "/tmp/tree/sub/b.txt")
    assert listed.stdout == b"nested\n", listed.stderr
    back = tmp_path / "back"
    result = await navctl(api_server, "cp", "default/web:/tmp/tree", str(back))
    assert result.returncode == 0, result.stderr
    assert (back / "a.bin").read_bytes() == (tree / "a.bin").read_bytes()
    assert (back / "sub" / "b.txt").read_text() == "nested\n"
    missing = await navctl(api_server, "cp", "web:/tmp/nothing-here", str(tmp_path / "none"))
    assert missing.returncode != 0 and b"nothing-here" in missing.stderr, missing.stderr


async def test_port_forward_to_a_service(
    api_server: ApiServerProcess, agent: AgentProcess, client: Client, tmp_path: Path
) -> None:
    """``port-forward svc/NAME PORT``: the client picks one of the Service's pods and
    maps the Service's port to its targetPort (a number or a container port's name)."""
    await start_pod(
        client,
        agent,
        "svc-web",
        WEB,
        metadata={"labels": {"app": "svc-web"}},
        container={"ports": [{"name": "http", "containerPort": 8080}]},
    )
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "svc-web", "namespace": "default"},
        "spec": {
            "selector": {"app": "svc-web"},
            "ports": [
                {"name": "web", "port": 80, "targetPort": "http"},
                {"name": "other", "port": 90, "targetPort": 9090},
            ],
        },
    }
    await client.request("POST", "/api/v1/namespaces/default/services", body=service)
    # Both print the pod's ports they forward to: "Forwarding from ... -> 8080".
    kubectl_command = [kubectl_binary(), "--kubeconfig", str(api_server.kubeconfig)]
    kubectl_command += ["port-forward", "--address", "127.0.0.1", "svc/svc-web", ":80", ":90"]
    navctl_command = [sys.executable, "-m", "navarch.cli.navctl", "--kubeconfig"]
    navctl_command += [str(api_server.kubeconfig), "port-forward", "svc/svc-web", ":80", ":90"]
    for name, command in (("kubectl", kubectl_command), ("navctl", navctl_command)):
        forward = PortForward(command, [8080, 9090], tmp_path / name, env=_without_navarch())
        try:
            assert await until_answered(forward, 8080) == b"alpha\n"
            assert await until_answered(forward, 9090) == b"beta\n"
        finally:
            forward.stop()


async def test_kubectl_port_forward_uploads_and_half_closes(
    api_server: ApiServerProcess, agent: AgentProcess, client: Client, tmp_path: Path
) -> None:
    """Data from the client side beyond one SPDY window reaches the pod intact, and the
    client's end of input (its FIN) reaches the pod's server as end of file."""
    await start_pod(
        client,
        agent,
        "sink",
        # nc's own stdin never ends (a FIFO held open), else nc would close the
        # connection when it does, before the upload is all in.
        "mkfifo /tmp/in; sleep 3600 > /tmp/in & "
        "nc -l -p 7000 < /tmp/in > /tmp/upload; echo done > /tmp/finished; exec sleep 3600",
    )

    # kubectl 1.32 gives up at the first refused connection: wait for nc to listen.
    async def listening() -> bool:
        found = await kubectl(api_server, "exec", "sink", "--", "netstat", "-ltn")
        return b":7000 " in found.stdout

    await eventually(listening, "nc listening on 7000 in pod sink")
    forward = kubectl_port_forward(api_server, "pod/sink", 7000, log=tmp_path / "pf")
    payload = bytes(range(256)) * 8192  # 2 MiB
    try:

        def upload() -> None:
            with socket.create_connection(("127.0.0.1", forward.local[7000]), timeout=30) as conn:
                conn.sendall(payload)
                conn.shutdown(socket.SHUT_WR)
                conn.recv(1)  # the pod's side closes once nc has its end of file

        await asyncio.to_thread(upload)

        async def finished() -> bool:
            found = await kubectl(api_server, "exec", "sink", "--", "cat", "/tmp/finished")
            return found.stdout == b"done\n"

        await eventually(finished, "nc in pod sink to see the end of its input")
        summed = await kubectl(api_server, "exec", "sink", "--", "md5sum", "/tmp/upload")
        assert summed.stdout.split()[0].decode() == hashlib.md5(payload).hexdigest()
    finally:
        forward.stop()


async def test_official_python_client_port_forward(
    api_server: ApiServerProcess, agent: AgentProcess, client: Client
) -> None:
    """The ``kubernetes`` client's ``portforward`` speaks the kubelet's WebSocket
    protocol (``v4.channel.k8s.io``, ``?ports=``): a request on one port answers, a
    port nothing listens on reports the server's error."""
    from kubernetes import client as k8s
    from kubernetes import config
    from kubernetes.stream import portforward

    await _web_pod(client, agent)
    api = k8s.CoreV1Api(config.new_client_from_config(config_file=str(api_server.kubeconfig)))

    def fetch() -> tuple[bytes, str | None]:
        forward = portforward(
            api.connect_get_namespaced_pod_portforward, "web", "default", ports="9090,7777"
        )
        sock = forward.socket(9090)
        sock.settimeout(30)
        sock.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        sock.close()
        refused = forward.socket(7777)
        refused.settimeout(30)
        assert refused.recv(1) == b""  # closed, with the error kept
        error = forward.error(7777)
        forward.close()
        return answer, error

    answer, error = await asyncio.to_thread(fetch)
    assert answer.startswith(b"HTTP/1.") and answer.endswith(b"\r\n\r\nbeta\n"), answer
    assert error is not None and "7777" in error and "connection refused" in error, error


async def test_port_forward_without_an_upgrade_is_a_clear_400(
    agent: AgentProcess, client: Client
) -> None:
    await _web_pod(client, agent)
    with pytest.raises(ApiException) as caught:
        await client.request("GET", "/api/v1/namespaces/default/pods/web/portforward")
    assert caught.value.code == 400
    assert "Upgrade request required" in caught.value.status["message"]
    assert "SPDY/3.1" in caught.value.status["message"]
    with pytest.raises(ApiException) as caught:
        await client.request("GET", "/api/v1/namespaces/default/pods/nobody/portforward")
    assert caught.value.code == 404


async def test_port_forward_to_a_host_network_pod(
    api_server: ApiServerProcess, agent: AgentProcess, client: Client, tmp_path: Path
) -> None:
    """A hostNetwork pod's ports are on the node's own loopback: the agent connects there."""
    with socket.socket() as probe:  # a port free on this machine's loopback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = f"mkdir -p /h; echo host > /h/index.html; httpd -f -p 127.0.0.1:{port} -h /h"
    await start_pod(client, agent, "hostweb", script, hostNetwork=True)
    forward = kubectl_port_forward(api_server, "pod/hostweb", port, log=tmp_path / "pf")
    try:
        assert await until_answered(forward, port) == b"host\n"
    finally:
        forward.stop()
    await client.pods.delete("hostweb", "default", grace_period_seconds=0)
