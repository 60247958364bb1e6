"""navctl's operations verbs against a real cluster: an API server process, ``navarch
scheduler``, ``navarch controllers`` and ``navarch agent`` on the simulated runtime
(two nodes), with navctl run as a command whose output is a pipe — so every line
checked here is the plain (non-terminal) form.

Each test works in a namespace of its own; the drain test restores the node it
drains."""

from __future__ import annotations

import asyncio
import functools
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from navarch.cli.navctl.progress import wait_ready
from navarch.cli.navctl.session import Session
from navarch.client import Client
from navarch.client.errors import NotFound
from navarch.testing import waiting
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.cluster import controllers_process, scheduler_process, sim_agent_process
from navarch.testing.daemon import DaemonProcess
from tests.cli.terminal import navctl_on_a_terminal

DEADLINE = 120.0  # generous: several daemons share a busy machine's 2 cores
eventually = functools.partial(waiting.eventually, deadline=DEADLINE)
NODES = ("ops-sim-0", "ops-sim-1")
IMAGE_1, IMAGE_2 = "127.0.0.1:5000/web:1", "127.0.0.1:5000/web:2"
ANSI = re.compile(r"\x1b\[")
STRATEGIC = "application/strategic-merge-patch+json"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, list[DaemonProcess]]]:
    root = tmp_path_factory.mktemp("navctl-ops")
    with ApiServerProcess(root / "apiserver") as server:
        daemons: list[DaemonProcess] = []
        try:
            # One agent process per node: only a non-simulated agent serves the streaming
            # port that logs and exec go through.
            for daemon in (
                scheduler_process(root, server),
                *(sim_agent_process(root, server, node_name=node) for node in NODES),
                controllers_process(root, server, ["deployment", "replicaset", "pod-termination"]),
            ):
                daemons.append(daemon.start())
            yield server, daemons
        finally:
            for daemon in reversed(daemons):
                daemon.stop()


def navctl_command(kubeconfig: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "navarch.cli.navctl", "--kubeconfig", str(kubeconfig), *args]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("NAVARCH_")}


class Navctl:
    """navctl in a subprocess, its output piped; ``ns``: the test's namespace."""

    def __init__(self, kubeconfig: Path, ns: str):
        self.kubeconfig, self.ns = kubeconfig, ns

    def run(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            navctl_command(self.kubeconfig, "-n", self.ns, *args),
            capture_output=True,
            text=True,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            timeout=DEADLINE,
            env=_env(),
        )

    def __call__(self, *args: str, input: str | None = None) -> str:
        result = self.run(*args, input=input)
        assert result.returncode == 0, f"navctl {' '.join(args)}: {result.stderr}"
        assert not ANSI.search(result.stdout), "piped output must be plain"
        return result.stdout


@pytest_asyncio.fixture
async def client(cluster) -> AsyncIterator[Client]:
    server, _ = cluster
    async with Client.from_kubeconfig(server.kubeconfig) as client:
        yield client


@pytest_asyncio.fixture
async def ns(client: Client) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    await client.namespaces.create(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    return name


@pytest.fixture
def navctl(cluster, ns: str) -> Navctl:
    server, _ = cluster
    return Navctl(server.kubeconfig, ns)


def deployment(name: str, replicas: int, image: str, **container: Any) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "annotations": {"kubernetes.io/change-cause": "first release"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": name, "image": image, **container}],
                },
            },
        },
    }


def pod(name: str, *containers: dict[str, Any], node: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"terminationGracePeriodSeconds": 1, "containers": list(containers)}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def shell(name: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": IMAGE_1, "command": ["sh", "-c", script], **extra}


async def running(client: Client, ns: str, name: str) -> bool:
    try:
        found = await client.pods.get(name, ns)
    except NotFound:
        return False
    return found.status is not None and found.status.phase == "Running"


# --- rollout -------------------------------------------------------------------------------


async def test_rollout_verbs_act_as_kubectls(cluster, client: Client, ns: str, navctl: Navctl):
    await client.deployments.create(deployment("web", 2, IMAGE_1), ns)
    out = await asyncio.to_thread(navctl, "rollout", "status", "deployment/web", "--timeout=120s")
    lines = out.splitlines()
    assert lines[-1] == 'deployment "web" successfully rolled out', out
    assert all(
        line.startswith('Waiting for deployment "web" rollout to finish: ')
        or line == "Waiting for deployment spec update to be observed..."
        for line in lines[:-1]
    ), out

    # a new image with its change-cause, rolled out; both revisions in the history
    patch = {
        "metadata": {"annotations": {"kubernetes.io/change-cause": "to web:2"}},
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": IMAGE_2}]}}},
    }
    await client.deployments.patch("web", patch, ns, patch_type=STRATEGIC)
    out = await asyncio.to_thread(navctl, "rollout", "status", "deploy", "web", "--timeout=120s")
    assert out.splitlines()[-1] == 'deployment "web" successfully rolled out'
    history = await asyncio.to_thread(navctl, "rollout", "history", "deployment/web")
    assert "REVISION  CHANGE-CAUSE" in history, history
    assert "1         first release" in history and "2         to web:2" in history, history
    revision_1 = await asyncio.to_thread(navctl, "rollout", "history", "deploy/web", "--revision=1")
    assert "deployment.apps/web with revision #1" in revision_1 and IMAGE_1 in revision_1

    # undo: revision 1's template back, as revision 3
    assert "deployment.apps/web rolled back" in await asyncio.to_thread(
        navctl, "rollout", "undo", "deployment/web"
    )
    await asyncio.to_thread(navctl, "rollout", "status", "deployment/web", "--timeout=120s")
    d = await client.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/web")
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE_1
    assert "pod-template-hash" not in d["spec"]["template"]["metadata"]["labels"]
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert d["metadata"]["annotations"]["kubernetes.io/change-cause"] == "first release"
    undo_2 = await asyncio.to_thread(navctl, "rollout", "undo", "deployment/web", "--to-revision=2")
    assert "rolled back" in undo_2
    await asyncio.to_thread(navctl, "rollout", "status", "deployment/web", "--timeout=120s")

    # restart: a restartedAt annotation on the template
    assert "deployment.apps/web restarted" in await asyncio.to_thread(
        navctl, "rollout", "restart", "deployment/web"
    )
    d = await client.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/web")
    assert "kubectl.kubernetes.io/restartedAt" in d["spec"]["template"]["metadata"]["annotations"]
    await asyncio.to_thread(navctl, "rollout", "status", "deployment/web", "--timeout=120s")

    # pause: a template change is not rolled out, and status says why it waits
    assert "deployment.apps/web paused" in await asyncio.to_thread(
        navctl, "rollout", "pause", "deployment/web"
    )
    again = await asyncio.to_thread(navctl.run, "rollout", "pause", "deployment/web")
    assert again.returncode == 1 and 'deployments.apps "web" is already paused' in again.stderr
    await client.deployments.patch(
        "web",
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": IMAGE_1}]}}}},
        ns,
        patch_type=STRATEGIC,
    )
    waited = await asyncio.to_thread(
        navctl.run, "rollout", "status", "deployment/web", "--timeout=3s"
    )
    assert waited.returncode == 1, waited.stdout
    assert "timed out waiting for the condition" in waited.stderr
    assert "is paused" in waited.stderr
    assert "resumed" in await asyncio.to_thread(navctl, "rollout", "resume", "deployment/web")
    await asyncio.to_thread(navctl, "rollout", "status", "deployment/web", "--timeout=120s")
    d = await client.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/web")
    assert not d["spec"].get("paused")
    assert d["status"]["updatedReplicas"] == 2


async def test_rollout_status_on_a_terminal_draws_a_bar(cluster, client: Client, ns: str):
    """A Deployment whose pods can never be placed (no node has the label) stays at 0 of
    2: on a terminal that is a bar with a count, not a line per change."""
    server, _ = cluster
    stuck = deployment("stuck", 2, IMAGE_1)
    stuck["spec"]["template"]["spec"]["nodeSelector"] = {"navctl-test": "nowhere"}
    await client.deployments.create(stuck, ns)
    code, seen = await asyncio.to_thread(
        navctl_on_a_terminal,
        server.kubeconfig,
        "-n",
        ns,
        "rollout",
        "status",
        "deployment/stuck",
        "--timeout=5s",
    )
    assert code == 1, seen
    assert "0/2" in seen and "\u2501" in seen, seen  # rich's count and bar
    assert "timed out waiting for the condition" in seen


async def test_rollout_errors_name_the_object(navctl: Navctl):
    missing = await asyncio.to_thread(navctl.run, "rollout", "status", "deployment/nope")
    assert missing.returncode == 1
    assert 'Error from server (NotFound): deployments.apps "nope" not found' in missing.stderr
    wrong = await asyncio.to_thread(navctl.run, "rollout", "history", "pod/x")
    assert wrong.returncode == 1 and "rollout works on deployments" in wrong.stderr


async def test_wait_ready_follows_a_deployment_and_a_pod_in_plain_lines(
    cluster, client: Client, ns: str
):
    server, _ = cluster
    session = Session(str(server.kubeconfig), None, ns, 30.0)
    objects = [
        deployment("api", 2, IMAGE_1),
        pod("solo", shell("solo", "sleep infinity")),
    ]
    await client.deployments.create(objects[0], ns)
    await client.pods.create(objects[1], ns)

    out = _Collect()
    try:
        assert await wait_ready(session, objects, DEADLINE, out)  # type: ignore[arg-type]
    finally:
        await session.close()
    lines = out.text.splitlines()
    assert 'deployment.apps/api: deployment "api" successfully rolled out' in lines, out.text
    assert "pod/solo: Running and Ready" in lines, out.text
    assert len(lines) == len(set(lines)), "one line per change"


async def test_wait_ready_gives_up_at_its_timeout(cluster, ns: str):
    server, _ = cluster
    session = Session(str(server.kubeconfig), None, ns, 30.0)
    never = pod("never", shell("never", "sleep infinity"))
    out = _Collect()
    try:
        assert not await wait_ready(session, [never], 1.0, out)  # type: ignore[arg-type]
    finally:
        await session.close()
    assert "pod/never: timed out after 1s waiting to be ready" in out.text


class _Collect:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


# --- logs and exec ---------------------------------------------------------------------------


async def test_logs_tail_timestamps_deployments_and_containers(
    cluster, client: Client, ns: str, navctl: Navctl
):
    _, daemons = cluster
    await client.pods.create(
        pod("talk", shell("talk", "echo one; echo two; echo three; sleep infinity")), ns
    )
    two = pod("two", shell("a", "sleep infinity"), shell("b", "echo from-b; sleep infinity"))
    await client.pods.create(two, ns)
    await eventually(lambda: running(client, ns, "talk"), "pod talk running", daemons)
    await eventually(lambda: running(client, ns, "two"), "pod two running", daemons)

    async def said(*args: str, expected: str) -> bool:
        return (await asyncio.to_thread(navctl.run, "logs", *args)).stdout == expected

    await eventually(lambda: said("talk", expected="one\ntwo\nthree\n"), "the logs", daemons)
    assert await asyncio.to_thread(navctl, "logs", "pod/talk", "--tail", "1") == "three\n"
    stamped = (await asyncio.to_thread(navctl, "logs", "talk", "--timestamps")).splitlines()
    assert len(stamped) == 3 and all(
        re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z (one|two|three)$", line)
        for line in stamped
    ), stamped
    assert await asyncio.to_thread(navctl, "logs", "talk", "--since", "10m") == "one\ntwo\nthree\n"

    # several containers: -c chooses; without it, the error lists them
    unnamed = await asyncio.to_thread(navctl.run, "logs", "two")
    assert unnamed.returncode == 1
    assert "a container name must be specified for pod two, choose one of: [a b]" in unnamed.stderr
    await eventually(lambda: said("two", "-c", "b", expected="from-b\n"), "container b", daemons)

    # a Deployment's logs: one of its pods, the choice said on stderr
    await client.deployments.create(
        deployment(
            "echoer", 2, IMAGE_1, command=["sh", "-c", "echo hello from echoer; sleep infinity"]
        ),
        ns,
    )
    await asyncio.to_thread(navctl, "rollout", "status", "deployment/echoer", "--timeout=120s")
    result = await asyncio.to_thread(navctl.run, "logs", "deploy/echoer")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello from echoer\n"
    assert re.search(r"Found 2 pods, using pod/echoer-\S+", result.stderr), result.stderr

    missing = await asyncio.to_thread(navctl.run, "logs", "ghost")
    assert missing.returncode == 1 and 'pods "ghost" not found' in missing.stderr


async def test_logs_follow_streams_new_lines(cluster, client: Client, ns: str, navctl: Navctl):
    _, daemons = cluster
    script = "echo first; sleep 2; echo second; sleep infinity"
    await client.pods.create(pod("slow", shell("slow", script)), ns)
    await eventually(lambda: running(client, ns, "slow"), "pod slow running", daemons)
    process = await asyncio.create_subprocess_exec(
        *navctl_command(navctl.kubeconfig, "-n", ns, "logs", "-f", "slow"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(),
    )
    try:
        assert process.stdout is not None
        first = await asyncio.wait_for(process.stdout.readline(), DEADLINE)
        second = await asyncio.wait_for(process.stdout.readline(), DEADLINE)
        assert (first, second) == (b"first\n", b"second\n")
        assert process.returncode is None, "-f keeps following"
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.wait(), DEADLINE)


async def test_logs_previous_shows_the_instance_before_a_restart(
    cluster, client: Client, ns: str, navctl: Navctl
):
    _, daemons = cluster
    await client.pods.create(pod("flaky", shell("flaky", "echo attempt; exit 1")), ns)

    async def restarted() -> bool:
        found = await client.request("GET", f"/api/v1/namespaces/{ns}/pods/flaky")
        statuses = (found.get("status") or {}).get("containerStatuses") or []
        return bool(statuses) and statuses[0].get("restartCount", 0) >= 1

    await eventually(restarted, "pod flaky restarted once", daemons)
    previous = await asyncio.to_thread(navctl.run, "logs", "flaky", "--previous")
    assert (previous.returncode, previous.stdout) == (0, "attempt\n"), previous.stderr


async def test_exec_runs_a_command_with_its_exit_code_and_stdin(
    cluster, client: Client, ns: str, navctl: Navctl
):
    _, daemons = cluster
    await client.pods.create(pod("box", shell("box", "sleep infinity")), ns)
    await eventually(lambda: running(client, ns, "box"), "pod box running", daemons)
    assert await asyncio.to_thread(navctl, "exec", "box", "--", "echo", "hello", "there") == (
        "hello there\n"
    )
    failed = await asyncio.to_thread(
        navctl.run, "exec", "box", "--", "sh", "-c", "echo oops >&2; exit 3"
    )
    assert failed.returncode == 3, failed.stderr
    assert "oops" in failed.stderr and "command terminated with exit code 3" in failed.stderr
    echoed = await asyncio.to_thread(navctl, "exec", "-i", "box", "--", "cat", input="piped in\n")
    assert echoed == "piped in\n"
    missing = await asyncio.to_thread(navctl.run, "exec", "ghost", "--", "true")
    assert missing.returncode == 1 and 'pods "ghost" not found' in missing.stderr


# --- nodes ---------------------------------------------------------------------------------


async def test_cordon_drain_uncordon(cluster, client: Client, ns: str, navctl: Navctl):
    _, daemons = cluster
    node = NODES[0]

    async def unschedulable() -> bool:
        found = await client.request("GET", f"/api/v1/nodes/{node}")
        return bool(found["spec"].get("unschedulable"))

    try:
        assert await asyncio.to_thread(navctl, "cordon", node) == f"node/{node} cordoned\n"
        assert await unschedulable()
        assert await asyncio.to_thread(navctl, "cordon", node) == f"node/{node} already cordoned\n"
        assert await asyncio.to_thread(navctl, "uncordon", node) == f"node/{node} uncordoned\n"
        assert not await unschedulable()

        # a bare pod on the node: drain refuses without --force
        await client.pods.create(pod("bare", shell("bare", "sleep infinity"), node=node), ns)
        await client.deployments.create(deployment("spread", 4, IMAGE_1), ns)
        await asyncio.to_thread(navctl, "rollout", "status", "deployment/spread", "--timeout=120s")
        refused = await asyncio.to_thread(navctl.run, "drain", node)
        assert refused.returncode == 1
        assert f"node/{node} cordoned" in refused.stdout
        # (other tests' bare pods may be listed too: the refusal names every one)
        refusal = "cannot delete Pods declare no controller (use --force to override): "
        assert re.search(
            re.escape(refusal) + r"[^\n]*\b" + re.escape(f"{ns}/bare"), refused.stderr
        ), refused.stderr
        assert "There are pending nodes to be drained" in refused.stderr

        on_node = await client.request(
            "GET",
            f"/api/v1/namespaces/{ns}/pods",
            params={"fieldSelector": f"spec.nodeName={node}"},
        )
        names = [p["metadata"]["name"] for p in on_node["items"]]
        drained = await asyncio.to_thread(navctl.run, "drain", node, "--force", "--timeout=100s")
        assert drained.returncode == 0, drained.stderr
        assert f"node/{node} already cordoned" in drained.stdout
        # (other tests' bare pods on the node are listed too)
        warning = "Warning: deleting Pods that declare no controller: "
        assert re.search(
            re.escape(warning) + r"[^\n]*\b" + re.escape(f"{ns}/bare"), drained.stderr
        ), drained.stderr
        for name in names:
            assert f"evicting pod {ns}/{name}" in drained.stdout
            assert f"pod/{name} evicted" in drained.stdout
        assert drained.stdout.splitlines()[-1] == f"node/{node} drained"

        async def moved() -> bool:
            pods = await client.request("GET", f"/api/v1/namespaces/{ns}/pods")
            live = [p for p in pods["items"] if not p["metadata"].get("deletionTimestamp")]
            return len(live) == 4 and all(p["spec"].get("nodeName") == NODES[1] for p in live)

        await eventually(moved, "the Deployment's 4 pods on the other node", daemons)
    finally:
        await asyncio.to_thread(navctl.run, "uncordon", node)


async def test_top_nodes_shows_requests_against_allocatable(
    cluster, client: Client, ns: str, navctl: Navctl
):
    node = NODES[1]
    resources = {"requests": {"cpu": "500m", "memory": "256Mi"}}
    await client.pods.create(
        pod("big", shell("big", "sleep infinity", resources=resources), node=node), ns
    )
    out = await asyncio.to_thread(navctl, "top", "nodes", node)
    rows = [line.split() for line in out.splitlines()]
    assert rows[0] == ["NAME", "CPU(requests)", "CPU%", "MEMORY(requests)", "MEMORY%"]
    # capacity 4 CPUs and 8Gi (navarch.testing.cluster.CAPACITY); nothing else requests
    assert rows[1] == [node, "500m", "12%", "256Mi", "3%"], out
    pods = await asyncio.to_thread(navctl, "top", "pods")
    assert ["big", "500m", "256Mi"] in [line.split() for line in pods.splitlines()]
    help_text = await asyncio.to_thread(navctl, "top", "nodes", "--help")
    assert "requests, not usage" in help_text
