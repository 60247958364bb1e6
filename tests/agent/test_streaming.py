"""The agent's streaming port (logs, exec) and the API server's pods/log and pods/exec
proxy, with a real API server process, the streaming server in this process on a
fake runtime (``streamfake``), and the real kubectl.

kubectl runs as an asyncio subprocess: the agent it reaches (through the API server)
serves from this test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import ssl
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import orjson
import pytest
import pytest_asyncio
import yaml

from navarch.agent.instances import find_container
from navarch.agent.streaming import StreamingServer, serve_streaming
from navarch.apiserver import discovery, requestinfo
from navarch.apiserver.errors import ApiError
from navarch.apiserver.server import token_file
from navarch.client import Client
from navarch.client.errors import AlreadyExists
from navarch.client.kubeconfig import KubeConfig, load_kubeconfig
from navarch.config import load_config
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.daemon import free_port

from .streamfake import FakeRuntime

NODE = "node-1"
V5 = "v5.channel.k8s.io"
DEADLINE = 30.0


@attrs.frozen
class Cluster:
    server: ApiServerProcess
    admin: KubeConfig
    tokens: dict[str, str]
    kubeconfigs: dict[str, Path]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    directory = tmp_path_factory.mktemp("apiserver")
    with ApiServerProcess(directory) as server:
        config = load_config(file=None, env={}, overrides=[f"data_dir={server.data_dir}"])
        file = token_file(config)
        tokens = {
            "viewer": file.add("viewer", "alice"),
            "node1": file.add("node", NODE),
            "node2": file.add("node", "node-2"),
        }
        server.stop()  # the server reads its token file at start
        server.start()
        admin = load_kubeconfig(server.kubeconfig)
        assert admin.token is not None
        tokens["admin"] = admin.token
        kubeconfigs = {"admin": server.kubeconfig}
        for role in ("viewer", "node2"):
            doc = yaml.safe_load(server.kubeconfig.read_text())
            doc["users"][0]["user"]["token"] = tokens[role]
            path = directory / f"{role}.kubeconfig"
            path.write_text(yaml.safe_dump(doc))
            kubeconfigs[role] = path
        yield Cluster(server, admin, tokens, kubeconfigs)


@attrs.define
class Agent:
    runtime: FakeRuntime
    server: StreamingServer
    client: Client

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.port}"


async def _register_node(client: Client, name: str, port: int) -> None:
    with contextlib.suppress(AlreadyExists):
        await client.request(
            "POST",
            "/api/v1/nodes",
            body={"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}},
        )
    status = {
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
    }
    await client.request(
        "PATCH",
        f"/api/v1/nodes/{name}/status",
        body={"status": status},
        content_type="application/merge-patch+json",
    )


@pytest_asyncio.fixture
async def agent(cluster, tmp_path) -> AsyncIterator[Agent]:
    runtime = FakeRuntime()
    # The agent's kubeconfig: only the server and its CA matter for access reviews.
    api = KubeConfig(server=cluster.admin.server, ca_data=cluster.admin.ca_data)
    server = await serve_streaming(runtime, NODE, api, "127.0.0.1", 0, tmp_path / "agent")
    client = Client(cluster.admin, retries=0)
    await _register_node(client, NODE, server.port)
    yield Agent(runtime, server, client)
    await server.close()
    await client.close()


_names = iter(range(10_000))


async def _pod(agent: Agent, *containers: str, node: str | None = NODE) -> str:
    name = f"p{next(_names)}"
    spec: dict[str, Any] = {
        "containers": [{"name": c, "image": "127.0.0.1:5000/app:1"} for c in containers]
    }
    if node:
        spec["nodeName"] = node
    await agent.client.request(
        "POST",
        "/api/v1/namespaces/default/pods",
        body={"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec},
    )
    return name


def _api_ssl(cluster: Cluster) -> ssl.SSLContext:
    assert cluster.admin.ca_data is not None
    return ssl.create_default_context(cadata=cluster.admin.ca_data.decode())


async def _get(url: str, token: str | None, context: Any = False) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers=headers, ssl=context) as response,
    ):
        return response.status, await response.read()


async def _exec_ws(
    url: str,
    token: str,
    stdin: Sequence[bytes] = (),
    context: Any = False,
    resize: Sequence[tuple[int, int]] = (),
) -> tuple[dict[int, bytes], dict[str, Any]]:
    """Run an exec over WebSocket: returns (bytes per channel, the error-channel Status)."""
    channels: dict[int, bytes] = {}
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            url, protocols=[V5], headers={"Authorization": f"Bearer {token}"}, ssl=context
        ) as ws,
    ):
        assert ws.protocol == V5
        for width, height in resize:
            await ws.send_bytes(b"\x04" + orjson.dumps({"Width": width, "Height": height}))
        for chunk in stdin:
            await ws.send_bytes(b"\x00" + chunk)
        if "stdin=true" in url:
            await ws.send_bytes(bytes([255, 0]))  # v5: stdin ended
        async with asyncio.timeout(DEADLINE):
            async for message in ws:
                assert message.type == aiohttp.WSMsgType.BINARY, message
                channels[message.data[0]] = channels.get(message.data[0], b"") + message.data[1:]
    status = orjson.loads(channels.pop(3)) if 3 in channels else {}
    return channels, status


# --- the agent's port, called directly ------------------------------------------------------


async def test_logs_tail_timestamps_previous_and_missing(cluster, agent):
    pod = await _pod(agent, "app")
    agent.runtime.add(NODE, "default", pod, "app", 0, ["first run"], running=False)
    agent.runtime.add(NODE, "default", pod, "app", 1, ["one", "two", "three"])
    base = f"{agent.url}/containerLogs/default/{pod}/app"
    token = cluster.tokens["admin"]

    assert await _get(base, token) == (200, b"one\ntwo\nthree\n")
    assert await _get(base + "?tailLines=2", token) == (200, b"two\nthree\n")
    assert await _get(base + "?previous=true", token) == (200, b"first run\n")
    assert await _get(base + "?limitBytes=5", token) == (200, b"one\nt")
    status, body = await _get(base + "?timestamps=true&tailLines=1", token)
    assert status == 200
    assert re.fullmatch(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z three\n", body), body
    # since: the fake's first lines are a minute old; a fresh one is not.
    cid = next(c for c in agent.runtime.containers if c.endswith("-1-uid-1"))
    agent.runtime.append(cid, "fresh")
    assert await _get(base + "?sinceSeconds=20", token) == (200, b"fresh\n")
    recent = datetime.fromtimestamp(time.time() - 20, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert await _get(base + f"?sinceTime={recent}", token) == (200, b"fresh\n")
    assert (await _get(base + "?sinceTime=yesterday", token))[0] == 400
    # Without a container name: the pod's only container.
    assert await _get(f"{agent.url}/containerLogs/default/{pod}", token) == (
        200,
        b"one\ntwo\nthree\nfresh\n",
    )

    single = await _pod(agent, "solo")
    agent.runtime.add(NODE, "default", single, "solo", 0, ["x"])
    status, body = await _get(
        f"{agent.url}/containerLogs/default/{single}/solo?previous=true", token
    )
    assert status == 400
    assert orjson.loads(body)["message"] == (
        f'previous terminated container "solo" in pod "{single}" not found'
    )
    status, body = await _get(f"{agent.url}/containerLogs/default/nothing-here/app", token)
    assert status == 400 and orjson.loads(body)["message"].startswith(
        'container "app" in pod "nothing-here" is waiting to start'
    )


async def test_logs_follow_streams_until_the_container_exits(cluster, agent):
    pod = await _pod(agent, "app")
    cid = agent.runtime.add(NODE, "default", pod, "app", 0, ["before"])
    url = f"{agent.url}/containerLogs/default/{pod}/app?follow=true"
    headers = {"Authorization": f"Bearer {cluster.tokens['admin']}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers=headers, ssl=False) as response,
    ):
        assert response.status == 200
        async with asyncio.timeout(DEADLINE):
            assert await response.content.readline() == b"before\n"
            agent.runtime.append(cid, "after")
            assert await response.content.readline() == b"after\n"
            agent.runtime.exit(cid)
            assert await response.content.read() == b""  # the stream ends with the container


async def test_exec_output_exit_code_and_stdin(cluster, agent):
    pod = await _pod(agent, "app")
    agent.runtime.add(NODE, "default", pod, "app", 0)
    token = cluster.tokens["admin"]
    base = f"{agent.url}/exec/default/{pod}/app?stdout=true&stderr=true"

    out, status = await _exec_ws(base + "&command=echo&command=hello", token)
    assert out == {1: b"hello\n"} and status["status"] == "Success"

    out, status = await _exec_ws(base + "&command=sh&command=-c&command=exit%203", token)
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]

    out, status = await _exec_ws(base + "&command=warn&command=careful", token)
    assert out == {2: b"careful\n"} and status["details"]["causes"][0]["message"] == "2"

    out, status = await _exec_ws(
        base + "&stdin=true&command=cat", token, stdin=[b"hello ", b"agent\n"]
    )
    assert out == {1: b"hello agent\n"} and status["status"] == "Success"

    # A terminal resize (channel 4) reaches the session.
    await _exec_ws(base + "&stdin=true&tty=true&command=cat", token, resize=[(120, 40)])
    assert agent.runtime.sessions[-1].resized == [(120, 40)]

    # The runtime failing midway (here refusing stdin): a Failure Status, not silence.
    out, status = await _exec_ws(base + "&stdin=true&command=deaf", token, stdin=[b"x"])
    assert status["status"] == "Failure" and "closed its stdin" in status["message"]

    # A container that is not running: a Failure Status on the error channel.
    stopped = await _pod(agent, "app")
    agent.runtime.add(NODE, "default", stopped, "app", 0, running=False)
    out, status = await _exec_ws(
        f"{agent.url}/exec/default/{stopped}/app?stdout=true&command=echo", token
    )
    assert status["status"] == "Failure" and "is not running" in status["message"]


async def test_exec_client_closing_ends_the_session(cluster, agent):
    pod = await _pod(agent, "app")
    agent.runtime.add(NODE, "default", pod, "app", 0)
    url = f"{agent.url}/exec/default/{pod}/app?stdin=true&stdout=true&command=cat"
    headers = {"Authorization": f"Bearer {cluster.tokens['admin']}"}
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, protocols=[V5], headers=headers, ssl=False) as ws:
            await ws.send_bytes(b"\x00ping")
            async with asyncio.timeout(DEADLINE):
                message = await ws.receive()
            assert message.data == b"\x01ping"
        async with asyncio.timeout(DEADLINE):
            while not agent.runtime.sessions[0].closed:
                await asyncio.sleep(0.02)


async def test_agent_port_needs_a_token_allowed_for_the_pod(cluster, agent):
    pod = await _pod(agent, "app")
    agent.runtime.add(NODE, "default", pod, "app", 0, ["secret"])
    logs = f"{agent.url}/containerLogs/default/{pod}/app"
    exec_url = f"{agent.url}/exec/default/{pod}/app?stdout=true&command=echo"

    status, body = await _get(logs, None)
    assert status == 401 and orjson.loads(body)["reason"] == "Unauthorized"
    assert (await _get(logs, "not-a-token"))[0] == 401
    # A viewer reads logs but may not exec.
    assert await _get(logs, cluster.tokens["viewer"]) == (200, b"secret\n")
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(
                exec_url,
                protocols=[V5],
                headers={"Authorization": f"Bearer {cluster.tokens['viewer']}"},
                ssl=False,
            )
    assert refused.value.status == 403
    # Node tokens reach neither logs nor exec: not another node's pod, not their own.
    for token in (cluster.tokens["node2"], cluster.tokens["node1"]):
        status, body = await _get(logs, token)
        assert status == 403 and orjson.loads(body)["reason"] == "Forbidden", body


# --- through the API server ------------------------------------------------------------------


async def test_api_server_proxies_logs_and_exec(cluster, agent):
    pod = await _pod(agent, "app")
    agent.runtime.add(NODE, "default", pod, "app", 0, ["via the api"])
    api = cluster.server.url + f"/api/v1/namespaces/default/pods/{pod}"
    context = _api_ssl(cluster)
    token = cluster.tokens["admin"]

    assert await _get(api + "/log", token, context) == (200, b"via the api\n")
    assert await _get(api + "/log?container=app&tailLines=0", token, context) == (200, b"")
    status, body = await _get(api + "/log?container=nope", token, context)
    assert status == 400 and orjson.loads(body)["message"] == (
        f"container nope is not valid for pod {pod}"
    )

    out, status = await _exec_ws(
        api + "/exec?container=app&stdin=true&stdout=true&command=cat",
        token,
        stdin=[b"through\n"],
        context=context,
    )
    assert out == {1: b"through\n"} and status["status"] == "Success"
    out, status = await _exec_ws(
        api + "/exec?stdout=true&command=sh&command=-c&command=exit%207", token, context=context
    )
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "7"}]

    # A viewer gets logs but not exec, at the API server already.
    assert await _get(api + "/log", cluster.tokens["viewer"], context) == (200, b"via the api\n")
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(
                api + "/exec?stdout=true&command=echo",
                protocols=[V5],
                headers={"Authorization": f"Bearer {cluster.tokens['viewer']}"},
                ssl=context,
            )
    assert refused.value.status == 403


async def test_a_client_leaving_a_followed_log_releases_the_agent(cluster, agent):
    """kubectl logs -f interrupted: the API server drops its stream to the agent at
    once, and the agent stops reading the runtime (not at the container's next line)."""
    pod = await _pod(agent, "app")
    agent.runtime.add(NODE, "default", pod, "app", 0, ["quiet from now on"])
    url = cluster.server.url + f"/api/v1/namespaces/default/pods/{pod}/log?follow=true"
    headers = {"Authorization": f"Bearer {cluster.tokens['admin']}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers=headers, ssl=_api_ssl(cluster)) as response,
    ):
        async with asyncio.timeout(DEADLINE):
            assert await response.content.readline() == b"quiet from now on\n"
        assert agent.runtime.following == 1
    async with asyncio.timeout(DEADLINE):
        while agent.runtime.following:
            await asyncio.sleep(0.05)


async def test_api_server_proxy_errors(cluster, agent):
    context = _api_ssl(cluster)
    token = cluster.tokens["admin"]
    pending = await _pod(agent, "app", node=None)
    status, body = await _get(
        cluster.server.url + f"/api/v1/namespaces/default/pods/{pending}/log", token, context
    )
    assert status == 400
    assert orjson.loads(body)["message"] == f"pod {pending} does not have a host assigned"

    # SPDY (kubectl's fallback) is answered with what to do instead.
    pod = await _pod(agent, "app")
    headers = {
        "Authorization": f"Bearer {token}",
        "Upgrade": "SPDY/3.1",
        "Connection": "Upgrade",
        "X-Stream-Protocol-Version": "v4.channel.k8s.io",
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            cluster.server.url
            + f"/api/v1/namespaces/default/pods/{pod}/exec?stdout=true&command=echo",
            headers=headers,
            ssl=context,
        ) as response,
    ):
        assert response.status == 400
        assert "WebSocket" in (await response.json())["message"]

    # A node whose agent does not answer: 503 naming the node and address.
    dead_port = free_port()
    await _register_node(agent.client, "node-dead", dead_port)
    lost = await _pod(agent, "app", node="node-dead")
    status, body = await _get(
        cluster.server.url + f"/api/v1/namespaces/default/pods/{lost}/log", token, context
    )
    message = orjson.loads(body)["message"]
    assert status == 503 and "node-dead" in message and f"127.0.0.1:{dead_port}" in message
    # For exec the same arrives in-band, so kubectl prints it instead of falling back.
    _, status_body = await _exec_ws(
        cluster.server.url + f"/api/v1/namespaces/default/pods/{lost}/exec?stdout=true"
        "&command=echo",
        token,
        context=context,
    )
    assert status_body["status"] == "Failure" and "node-dead" in status_body["message"]


async def test_access_review_answers_from_the_authorisers(cluster, agent):
    async def review(token: str, **attrs: str) -> dict[str, Any]:
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"namespace": "default", "resource": "pods", **attrs}},
        }
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                cluster.server.url + "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                json=body,
                headers=headers,
                ssl=_api_ssl(cluster),
            ) as response,
        ):
            assert response.status == 201, await response.text()
            return (await response.json())["status"]

    viewer = cluster.tokens["viewer"]
    assert (await review(viewer, verb="get", subresource="log"))["allowed"] is True
    denied = await review(viewer, verb="create", subresource="exec", name="x")
    assert denied["allowed"] is False and denied["reason"]
    assert (await review(cluster.tokens["admin"], verb="create", subresource="exec"))["allowed"]
    # A node's own pod is a pod bound to it, checked against the object as requests are.
    pod = await _pod(agent, "app", node="node-2")
    assert (await review(cluster.tokens["node2"], verb="get", name=pod))["allowed"] is True
    assert (await review(cluster.tokens["node1"], verb="get", name=pod))["allowed"] is False


def test_exec_is_create_whatever_the_method_and_discovery_lists_the_subresources():
    for method in ("GET", "POST"):
        info = requestinfo.parse(method, "/api/v1/namespaces/d/pods/p/exec", {})
        assert (info.verb, info.subresource) == ("create", "exec")
    assert requestinfo.parse("GET", "/api/v1/namespaces/d/pods/p/log", {}).verb == "get"
    listed = discovery.resource_list("", "v1")
    assert listed is not None
    entries = {e["name"]: e for e in listed["resources"]}
    assert entries["pods/log"]["verbs"] == ["get"]
    assert entries["pods/exec"]["verbs"] == ["create", "get"]
    groups = {g["name"] for g in discovery.api_groups()["groups"]}
    assert "authorization.k8s.io" in groups


# --- the real kubectl ------------------------------------------------------------------------


async def _kubectl(
    cluster: Cluster, *args: str, stdin: bytes | None = None, user: str = "admin"
) -> tuple[int, str, str]:
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.fail("kubectl is not installed on this machine; these tests need it")
    process = await asyncio.create_subprocess_exec(
        binary,
        "--kubeconfig",
        str(cluster.kubeconfigs[user]),
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate(stdin)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_kubectl_logs_previous_and_follow(cluster, agent):
    pod = await _pod(agent, "app")
    agent.runtime.add(NODE, "default", pod, "app", 0, ["crashed"], running=False)
    cid = agent.runtime.add(NODE, "default", pod, "app", 1, ["line 1", "line 2"])

    code, out, err = await _kubectl(cluster, "logs", pod)
    assert (code, out) == (0, "line 1\nline 2\n"), err
    code, out, err = await _kubectl(cluster, "logs", pod, "-c", "app", "--tail=1")
    assert (code, out) == (0, "line 2\n"), err
    code, out, err = await _kubectl(cluster, "logs", pod, "--previous")
    assert (code, out) == (0, "crashed\n"), err
    code, out, err = await _kubectl(cluster, "logs", pod, "--timestamps", "--tail=1")
    assert code == 0 and re.fullmatch(r"\S+Z line 2\n", out), (out, err)

    follow = asyncio.ensure_future(_kubectl(cluster, "logs", "-f", pod))
    await asyncio.sleep(0)  # let kubectl start; the line below arrives while it follows
    async with asyncio.timeout(DEADLINE):
        while agent.runtime.containers[cid].lines[-1].data != b"line 2\n":
            await asyncio.sleep(0.05)
    agent.runtime.append(cid, "line 3")
    agent.runtime.exit(cid)
    code, out, err = await follow
    assert (code, out) == (0, "line 1\nline 2\nline 3\n"), err

    single = await _pod(agent, "solo")
    agent.runtime.add(NODE, "default", single, "solo", 0, ["only"])
    code, out, err = await _kubectl(cluster, "logs", single, "--previous")
    assert code != 0 and f'previous terminated container "solo" in pod "{single}"' in err


async def test_kubectl_exec_exit_code_and_stdin(cluster, agent):
    pod = await _pod(agent, "app")
    agent.runtime.add(NODE, "default", pod, "app", 0)

    code, out, err = await _kubectl(cluster, "exec", pod, "--", "echo", "hi", "there")
    assert (code, out) == (0, "hi there\n"), err
    code, out, err = await _kubectl(cluster, "exec", pod, "--", "sh", "-c", "exit 3")
    assert code == 3 and "command terminated with exit code 3" in err, err
    code, out, err = await _kubectl(
        cluster, "exec", "-i", pod, "--", "cat", stdin=b"piped in\nand more\n"
    )
    assert (code, out) == (0, "piped in\nand more\n"), err
    # A viewer may read logs but not exec.
    code, out, err = await _kubectl(cluster, "exec", pod, "--", "echo", "no", user="viewer")
    assert code != 0 and "forbidden" in err.lower(), err


async def test_kubectl_auth_can_i(cluster):
    code, out, _ = await _kubectl(cluster, "auth", "can-i", "create", "pods", "--subresource=exec")
    assert (code, out.strip()) == (0, "yes")
    code, out, _ = await _kubectl(
        cluster, "auth", "can-i", "get", "pods", "--subresource=log", user="viewer"
    )
    assert (code, out.strip()) == (0, "yes")
    code, out, _ = await _kubectl(
        cluster, "auth", "can-i", "create", "pods", "--subresource=exec", user="viewer"
    )
    # kubectl prints the authoriser's reason after the answer.
    assert code == 1 and out.strip() == "no - viewers may only get, list and watch"
    code, out, _ = await _kubectl(cluster, "auth", "can-i", "delete", "nodes", user="node2")
    assert code == 1 and out.startswith("no")


def test_the_api_server_has_its_own_token(cluster):
    rows = (cluster.server.data_dir / "tokens.csv").read_text()
    assert ",system:apiserver,system:apiserver,system:masters" in rows


async def test_previous_is_the_last_state_the_agent_reported():
    """While a crashed container waits out its back-off, the kubelet's ``--previous``
    is its ``lastState.terminated``: the newest instance, not the one before it (a
    test once read the instance the agent was about to remove, and got 'not found')."""
    runtime = FakeRuntime()
    runtime.add(NODE, "default", "crash", "main", 1, ["run 1"], running=False)
    newest = runtime.add(NODE, "default", "crash", "main", 2, ["run 2"], running=False)
    waiting = {
        "containerStatuses": [
            {
                "name": "main",
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1, "containerID": f"sim://{newest}"}},
            }
        ]
    }

    async def previous(reported: Any) -> str:
        found = await find_container(
            runtime, NODE, "default", "crash", "main", previous=True, reported=reported
        )
        return found.id

    assert await previous(lambda uid: waiting if uid == "uid-1" else None) == newest
    # nothing reported of the pod yet (an agent just started): the one before the newest
    assert await previous(lambda uid: None) == "crash-main-1-uid-1"
    # reported, with no last state: no previous instance, whatever the runtime holds
    first_run = {"containerStatuses": [{"name": "main", "state": {"running": {}}}]}
    with pytest.raises(ApiError, match="previous terminated container"):
        await previous(lambda uid: first_run)
