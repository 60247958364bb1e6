"""The agent on Docker, end to end: a private dockerd, a private registry, a real API
server; the faults of issue 11 — a container killed from outside, an image missing
from the registry, a command that does not exist, the docker daemon restarted under
a running agent, the agent SIGKILLed and restarted, a spec the runtime cannot honour —
and a readiness probe over HTTP into a pod's private network namespace."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
import yaml

from navarch import api
from navarch.agent.agent import Agent
from navarch.agent.daemon import streaming_for
from navarch.client import load_kubeconfig
from navarch.runtime import ContainerState, labels
from navarch.testing.daemon import require_or_skip
from navarch.testing.dockerd import DockerdProcess, dockerd_problem
from navarch.testing.images import BUSYBOX_IMAGE, busybox_archive
from navarch.testing.registry import RegistryProcess, push_archive
from tests.agent.conftest import (
    DEADLINE,
    FAST,
    build_runtime,
    eventually,
    identity,
    pod_body,
    running_agent,
)
from tests.agent.looked import RELISTS_FINISHED, SYNCS, counted, relisted

pytestmark = pytest.mark.daemon


@pytest.fixture(scope="module")
def dockerd() -> Iterator[DockerdProcess]:
    require_or_skip(dockerd_problem())
    directory = Path(tempfile.mkdtemp(prefix="na", dir="/tmp"))  # short: socket path limit
    with DockerdProcess(directory) as process:
        yield process


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Iterator[RegistryProcess]:
    with RegistryProcess(tmp_path_factory.mktemp("registry")) as process:
        archive = busybox_archive(tmp_path_factory.getbasetemp())
        push_archive(process.host, archive, "navarch-test/busybox", "1")
        yield process


@pytest.fixture
async def runtime(dockerd, tmp_path, tmp_path_factory):
    runtime = build_runtime("docker", {"socket": dockerd.socket_url}, tmp_path)
    await runtime.load_image(busybox_archive(tmp_path_factory.getbasetemp()))
    yield runtime
    await runtime.close()


def as_dict(obj):
    return obj if isinstance(obj, dict) else api.dump(obj)


async def first_status(client, name):
    status = as_dict(await client.pods.get(name, "default")).get("status") or {}
    statuses = status.get("containerStatuses") or []
    return statuses[0] if statuses else None


def waiting(cs):
    return (cs or {}).get("state", {}).get("waiting") or {}


async def running(client, name, restarts=None):
    cs = await first_status(client, name)
    if cs and "running" in cs["state"] and (restarts is None or cs["restartCount"] >= restarts):
        return cs
    return None


async def running_instances(runtime, pod):
    found = await runtime.list_containers({labels.POD_NAME: pod})
    return [c for c in found if c.state == ContainerState.RUNNING]


async def test_pod_runs_on_docker_and_is_restarted_when_killed_from_outside(
    client, runtime, dockerd
):
    async with running_agent(client, runtime, "dk-kill"):
        await client.pods.create(pod_body("dk-victim", "dk-kill", image=BUSYBOX_IMAGE))
        cs = await eventually(lambda: running(client, "dk-victim"), "Running on docker")
        assert cs["containerID"].startswith("docker://")
        (instance,) = await running_instances(runtime, "dk-victim")
        # Killed behind the agent's back, as an operator's `docker kill` would.
        subprocess.run(
            ["/usr/bin/docker", "-H", dockerd.socket_url, "kill", instance.id],
            check=True,
            capture_output=True,
        )
        cs = await eventually(lambda: running(client, "dk-victim", 1), "running again, restart 1")
        assert cs["lastState"]["terminated"]["exitCode"] == 137
        assert len(await running_instances(runtime, "dk-victim")) == 1
        await client.pods.delete("dk-victim", "default", grace_period_seconds=0)


async def test_real_pull_and_an_image_missing_from_the_registry(client, runtime, registry):
    async with running_agent(client, runtime, "dk-pull"):
        good = f"{registry.host}/navarch-test/busybox:1"
        missing = f"{registry.host}/navarch-test/missing:1"
        body = pod_body("dk-pulled", "dk-pull", image=good)
        body["spec"]["containers"][0]["imagePullPolicy"] = "Always"
        await client.pods.create(body)
        await client.pods.create(pod_body("dk-nopull", "dk-pull", image=missing))
        await eventually(lambda: running(client, "dk-pulled"), "the pulled image running")

        async def backing_off():
            cs = await first_status(client, "dk-nopull")
            return cs if waiting(cs).get("reason") == "ImagePullBackOff" else None

        cs = await eventually(backing_off, "ImagePullBackOff")
        # The registry's own words reach the pod's status.
        assert "manifest unknown" in waiting(cs)["message"].lower() or "not found" in (
            waiting(cs)["message"].lower()
        ), waiting(cs)
        for name in ("dk-pulled", "dk-nopull"):
            await client.pods.delete(name, "default", grace_period_seconds=0)


async def test_a_command_that_does_not_exist_is_run_container_error(client, runtime):
    async with running_agent(client, runtime, "dk-cmd"):
        await client.pods.create(
            pod_body("dk-nocmd", "dk-cmd", image=BUSYBOX_IMAGE, command=["/no/such/binary"])
        )

        async def run_container_error():
            cs = await first_status(client, "dk-nocmd")
            return cs if waiting(cs).get("reason") == "RunContainerError" else None

        cs = await eventually(run_container_error, "RunContainerError")
        assert "/no/such/binary" in waiting(cs)["message"], waiting(cs)
        await client.pods.delete("dk-nocmd", "default", grace_period_seconds=0)


async def test_a_spec_docker_cannot_honour_is_reported_and_others_keep_running(client, runtime):
    async with running_agent(client, runtime, "dk-bad"):
        tiny = pod_body(
            "dk-tiny",
            "dk-bad",
            image=BUSYBOX_IMAGE,
            container={"resources": {"limits": {"memory": "1Mi"}}},
        )
        await client.pods.create(tiny)
        await client.pods.create(pod_body("dk-fine", "dk-bad", image=BUSYBOX_IMAGE))
        await eventually(lambda: running(client, "dk-fine"), "the other pod running")

        async def refused():
            cs = await first_status(client, "dk-tiny")
            reason = waiting(cs).get("reason")
            return cs if reason in ("CreateContainerError", "RunContainerError") else None

        cs = await eventually(refused, "the runtime's refusal in the status")
        assert "memory" in waiting(cs)["message"].lower(), waiting(cs)
        for name in ("dk-tiny", "dk-fine"):
            await client.pods.delete(name, "default", grace_period_seconds=0)


async def test_docker_restarted_under_a_running_agent(client, runtime, dockerd):
    async with running_agent(client, runtime, "dk-restart") as agent:
        await client.pods.create(pod_body("dk-survivor", "dk-restart", image=BUSYBOX_IMAGE))
        await eventually(lambda: running(client, "dk-survivor"), "Running")
        await asyncio.to_thread(dockerd.restart)

        async def back():
            cs = await running(client, "dk-survivor")
            node = as_dict(await client.nodes.get("dk-restart"))
            ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
            return cs if cs and ready["status"] == "True" else None

        cs = await eventually(back, "the pod running again and the node Ready")
        # Its history survives the daemon's restart: the count, the last termination.
        assert cs["restartCount"] >= 1 and cs["lastState"].get("terminated"), cs
        await relisted(agent)  # the agent looked again: nothing may be started twice
        assert len(await running_instances(runtime, "dk-survivor")) == 1
        sandboxes = await runtime.list_sandboxes({labels.POD_NAME: "dk-survivor"})
        assert len([s for s in sandboxes if s.state.value == "ready"]) == 1
        await client.pods.delete("dk-survivor", "default", grace_period_seconds=0)


async def test_http_readiness_probe_reaches_into_the_pods_network_namespace(client, runtime):
    async with running_agent(client, runtime, "dk-probe"):
        body = pod_body(
            "dk-web",
            "dk-probe",
            image=BUSYBOX_IMAGE,
            command=[
                "sh",
                "-c",
                "mkdir -p /www && echo ok > /www/ready && httpd -f -p 8080 -h /www",
            ],
            container={
                "readinessProbe": {
                    "httpGet": {"path": "/ready", "port": 8080},
                    "periodSeconds": 1,
                }
            },
        )
        await client.pods.create(body)

        async def ready():
            cs = await running(client, "dk-web")
            return cs if cs and cs["ready"] else None

        await eventually(ready, "ready through an HTTP probe inside the pod's namespace")
        await client.pods.delete("dk-web", "default", grace_period_seconds=0)


def _agent_config(directory: Path, api_server, dockerd, node: str) -> Path:
    config = {
        "data_dir": str(directory / "data"),
        "kubeconfig": str(api_server.kubeconfig),
        "log": {"format": "json"},
        "runtime": {"name": "docker", "options": {"socket": dockerd.socket_url}},
        "agent": {
            "node_name": node,
            "node_ip": "127.0.0.1",
            "address": "127.0.0.1",
            "port": 0,
            "lease_renew_seconds": 1,
            "relist_seconds": 1,
            "backoff_initial_seconds": 1,
        },
    }
    path = directory / "agent.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _start_agent(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAVARCH_")}
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "navarch.cli.navarch", "--config", str(config), "agent"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


async def test_agent_sigkilled_and_restarted_adopts_its_containers(
    client, runtime, dockerd, api_server, tmp_path
):
    config = _agent_config(tmp_path, api_server, dockerd, "dk-adopt")
    log = tmp_path / "agent.log"
    agent = _start_agent(config, log)
    try:
        await client.pods.create(pod_body("dk-kept", "dk-adopt", image=BUSYBOX_IMAGE))
        await eventually(lambda: running(client, "dk-kept"), "Running under the agent process")
        before = await running_instances(runtime, "dk-kept")
        agent.send_signal(signal.SIGKILL)
        agent.wait(timeout=DEADLINE)
        agent = _start_agent(config, log)

        async def renewed_by_new_agent():
            lease = as_dict(await client.leases.get("dk-adopt", "kube-node-lease"))
            return lease["spec"]["renewTime"]

        first = await eventually(renewed_by_new_agent, "the lease")

        async def renewed_again():
            return await renewed_by_new_agent() != first

        await eventually(renewed_again, "the restarted agent renewing its lease")
        # The new agent synced the pod once (where a duplicate would have been started),
        # then relisted twice more (where it would have been seen).
        await counted(client, "dk-adopt", SYNCS, 1, since=0)
        await counted(client, "dk-adopt", RELISTS_FINISHED, 2)
        after = await running_instances(runtime, "dk-kept")
        assert [c.id for c in after] == [c.id for c in before], log.read_text()[-3000:]
        assert (await first_status(client, "dk-kept"))["restartCount"] == 0
        await client.pods.delete("dk-kept", "default", grace_period_seconds=5)

        async def gone():
            return not await runtime.list_containers({labels.POD_NAME: "dk-kept"})

        await eventually(gone, "the pod's containers removed by the restarted agent")
    finally:
        if agent.poll() is None:
            agent.terminate()
            try:
                agent.wait(timeout=30)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait()


async def _kubectl(kubeconfig: Path, *args: str, stdin: bytes | None = None):
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.fail("kubectl is not installed on this machine; this test needs it")
    process = await asyncio.create_subprocess_exec(
        binary,
        "--kubeconfig",
        str(kubeconfig),
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(DEADLINE):
        out, err = await process.communicate(stdin)
    return process.returncode, out.decode(), err.decode()


async def test_kubectl_logs_and_exec_through_the_api_server_on_docker(
    client, runtime, api_server, tmp_path
):
    """The real kubectl, the API server's proxy, the agent's port, Docker's logs and exec."""
    settings = attrs.evolve(FAST, address="127.0.0.1", port=0, data_dir=tmp_path / "agent")
    kubeconfig = load_kubeconfig(api_server.kubeconfig)
    agent = Agent(
        client,
        runtime,
        identity("dk-kubectl"),
        settings,
        streaming=streaming_for(kubeconfig, settings),
    )
    task = asyncio.create_task(agent.run())
    try:
        script = "echo first; echo second; trap 'exit 0' TERM; while true; do sleep 1; done"
        await client.pods.create(
            pod_body("dk-talk", "dk-kubectl", image=BUSYBOX_IMAGE, command=["sh", "-c", script])
        )
        await eventually(lambda: running(client, "dk-talk"), "Running")

        async def logged():
            code, out, _ = await _kubectl(api_server.kubeconfig, "logs", "dk-talk")
            return out if code == 0 and "second" in out else None

        assert await eventually(logged, "kubectl logs") == "first\nsecond\n"
        code, out, err = await _kubectl(api_server.kubeconfig, "logs", "dk-talk", "--tail=1")
        assert (code, out) == (0, "second\n"), err
        code, out, err = await _kubectl(
            api_server.kubeconfig, "exec", "dk-talk", "--", "sh", "-c", "echo $((6*7)); exit 5"
        )
        assert out == "42\n" and code == 5, err
        code, out, err = await _kubectl(
            api_server.kubeconfig, "exec", "-i", "dk-talk", "--", "wc", "-l", stdin=b"a\nb\nc\n"
        )
        assert (code, out.strip()) == (0, "3"), err
        await client.pods.delete("dk-talk", "default", grace_period_seconds=5)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_tcp_probes_inside_the_pods_namespace(client, runtime):
    """tcpSocket readiness passes on a port the pod listens on (inside its own network
    namespace); tcpSocket liveness on a port nobody listens on restarts the container."""
    serve = "httpd -f -p 8081 -h /"
    async with running_agent(client, runtime, "dk-tcp"):
        ready_body = pod_body(
            "dk-tcp-ready",
            "dk-tcp",
            image=BUSYBOX_IMAGE,
            command=["sh", "-c", serve],
            container={"readinessProbe": {"tcpSocket": {"port": 8081}, "periodSeconds": 1}},
        )
        dead_body = pod_body(
            "dk-tcp-dead",
            "dk-tcp",
            image=BUSYBOX_IMAGE,
            command=["sh", "-c", serve],
            container={
                "livenessProbe": {
                    "tcpSocket": {"port": 9999},
                    "periodSeconds": 1,
                    "failureThreshold": 2,
                }
            },
        )
        await client.pods.create(ready_body)
        await client.pods.create(dead_body)

        async def ready():
            cs = await running(client, "dk-tcp-ready")
            return cs if cs and cs["ready"] else None

        await eventually(ready, "ready through a TCP probe")
        await eventually(
            lambda: running(client, "dk-tcp-dead", 1), "restarted by a failing TCP liveness probe"
        )
        for name in ("dk-tcp-ready", "dk-tcp-dead"):
            await client.pods.delete(name, "default", grace_period_seconds=0)
