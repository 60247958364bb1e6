"""Pod networks end to end (issue 24 items 1 and 2): ``navarch agent`` processes with
runtime containerd and ``agent.network: cni``, each in a node namespace of the test's
own (a private containerd and the API server stay in the host's namespace; the agent
reaches the API server through a relay, containerd through its unix socket).

A pod gets ``status.podIP`` from the node's range and another pod reaches it over TCP;
deleting it removes its veth and frees its address; pods on two nodes of one LAN reach
each other through the host-gw routes; missing CNI plugins make the Node report
NetworkUnavailable and pods wait with nothing made; an agent SIGKILLed during a pod's
network setup and restarted leaks no veth or address, nor one SIGKILLed and restarted
after its pod was removed meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import stat
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from navarch import api
from navarch.client import Client
from navarch.client.errors import NotFound
from navarch.testing import netns
from navarch.testing.containerd import ContainerdProcess, containerd_problem
from navarch.testing.daemon import require_or_skip, unmount_under
from navarch.testing.images import BUSYBOX_IMAGE, busybox_archive
from navarch_network_cni.network import REQUIRED_PLUGINS
from navarch_network_cni.options import DEFAULT_BIN_DIR
from navarch_runtime_containerd import ContainerdClient, import_image_archive
from tests.agent.conftest import api_server, client, eventually, pod_body  # noqa: F401
from tests.network.podnet import ApiRelay, NodeAgent

pytestmark = pytest.mark.daemon

SERVER = "mkdir -p /www && echo hello-from-pod > /www/index.html && httpd -f -p 8080 -h /www"


def fetch_command(ip: str) -> list[str]:
    """A client pod's command: succeed once the page answers (busybox's wget -T
    crashes: timeout bounds each try)."""
    script = (
        f"for i in $(seq 1 60); do timeout 5 wget -q -O - http://{ip}:8080/ "
        "| grep -q hello-from-pod && exit 0; sleep 1; done; exit 1"
    )
    return ["sh", "-c", script]


def quick(body: dict[str, Any]) -> dict[str, Any]:
    """busybox's sh as PID 1 ignores SIGTERM: stop at once rather than after 30 s."""
    body["spec"]["terminationGracePeriodSeconds"] = 1
    return body


def as_dict(obj: Any) -> dict[str, Any]:
    return obj if isinstance(obj, dict) else api.dump(obj)


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainerdProcess]:
    require_or_skip(containerd_problem())
    process = ContainerdProcess(tmp_path_factory.mktemp("containerd"))
    try:
        process.start()
        yield process
    finally:
        process.remove()


@pytest.fixture
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return busybox_archive(tmp_path_factory.getbasetemp())


@contextlib.asynccontextmanager
async def node_agents(
    tmp_path: Path,
    api_server: Any,  # noqa: F811
    containerd: ContainerdProcess,
    image: Path,
    specs: list[dict[str, Any]],
) -> AsyncIterator[list[NodeAgent]]:
    """One node namespace per spec (joined on a LAN when several), an API relay and an
    agent (not started) in each, the busybox image in each agent's containerd
    namespace. Everything is removed afterwards, whatever happened."""
    with netns.namespaces(*(f"node{i}" for i in range(len(specs)))) as nodes:
        lan = netns.lan(nodes) if len(nodes) > 1 else None
        relays: list[ApiRelay] = []
        agents: list[NodeAgent] = []
        try:
            for index, (node, spec) in enumerate(zip(nodes, specs, strict=True)):
                relays.append(ApiRelay(node, api_server.port))
                agent = NodeAgent(
                    tmp_path / f"agent{index}",
                    node,
                    api_server.kubeconfig,
                    containerd.socket_path,
                    name=f"net-{uuid.uuid4().hex[:8]}-{index}",
                    node_ip=lan.addresses[node.name] if lan else "10.250.0.1",
                    **spec,
                )
                agents.append(agent)
                async with ContainerdClient(
                    containerd.socket_path, namespace=agent.namespace, timeout=10.0
                ) as inspector:
                    await inspector.ensure_namespace()
                    await import_image_archive(inspector, image)
            yield agents
        except BaseException:
            for agent in agents:  # shown with the failure
                print(f"--- agent {agent.name} log ---\n{agent.tail()}")
            raise
        finally:
            for agent in agents:
                agent.stop()
            async with Client.from_kubeconfig(api_server.kubeconfig) as admin:
                for agent in agents:  # no stale Node for the next test's routes
                    with contextlib.suppress(NotFound):
                        await admin.nodes.delete(agent.name)
            # containers a failed test left die with the module's containerd
            for agent in agents:
                unmount_under((agent.data_dir,))
            for relay in relays:
                relay.close()
            if lan is not None:
                lan.hub.remove()


async def _node_condition(client: Client, node: str, kind: str) -> dict[str, Any] | None:  # noqa: F811
    status = as_dict(await client.nodes.get(node)).get("status") or {}
    for condition in status.get("conditions") or []:
        if condition["type"] == kind:
            return dict(condition)
    return None


async def _until_ready(client: Client, agent: NodeAgent) -> None:  # noqa: F811
    async def ready() -> bool:
        assert agent.alive(), agent.tail()
        condition = await _node_condition(client, agent.name, "Ready")
        return condition is not None and condition["status"] == "True"

    await eventually(ready, f"node {agent.name} Ready")


async def _pod(client: Client, name: str) -> dict[str, Any]:  # noqa: F811
    return as_dict(await client.pods.get(name, "default"))


async def _pod_ip(client: Client, name: str) -> str | None:  # noqa: F811
    status = (await _pod(client, name)).get("status") or {}
    running = any("running" in s.get("state", {}) for s in status.get("containerStatuses") or [])
    return status.get("podIP") if running else None


async def _phase(client: Client, name: str) -> str:  # noqa: F811
    return str(((await _pod(client, name)).get("status") or {}).get("phase") or "")


async def _gone(client: Client, name: str) -> bool:  # noqa: F811
    names = [p.metadata.name for p in (await client.pods.list("default")).items]
    return name not in names


async def test_pods_get_addresses_reach_each_other_and_deletion_frees_them(
    tmp_path: Path,
    api_server: Any,  # noqa: F811
    client: Client,  # noqa: F811
    containerd: ContainerdProcess,
    image: Path,
) -> None:
    specs = [{"pod_cidr": "10.42.1.0/24"}]
    async with node_agents(tmp_path, api_server, containerd, image, specs) as (agent,):
        agent.start()
        await _until_ready(client, agent)
        unavailable = await _node_condition(client, agent.name, "NetworkUnavailable")
        assert unavailable is not None and unavailable["status"] == "False", unavailable
        # pods' traffic leaving the cluster's ranges is masqueraded, never pod to pod
        table = agent.node.run(["nft", "list", "table", "ip", "navarch_cni"]).stdout
        assert "ip saddr 10.42.1.0/24 ip daddr != 10.42.0.0/16" in table and "masquerade" in table

        web = pod_body("web", agent.name, image=BUSYBOX_IMAGE, command=["sh", "-c", SERVER])
        await client.pods.create(quick(web))
        ip = await eventually(lambda: _pod_ip(client, "web"), "web running with a podIP")
        assert ip.startswith("10.42.1."), ip
        web = await _pod(client, "web")
        assert web["status"]["podIPs"] == [{"ip": ip}]
        assert agent.allocated() == [ip]
        assert len(agent.veths()) == 1

        fetch = pod_body("fetch", agent.name, image=BUSYBOX_IMAGE, command=fetch_command(ip))
        fetch["spec"]["restartPolicy"] = "Never"
        await client.pods.create(quick(fetch))

        async def finished() -> str | None:
            phase = await _phase(client, "fetch")
            return phase if phase in ("Succeeded", "Failed") else None

        assert await eventually(finished, "fetch finished") == "Succeeded"
        fetcher_ip = (await _pod(client, "fetch"))["status"]["podIP"]
        assert fetcher_ip.startswith("10.42.1.") and fetcher_ip != ip

        async def released() -> bool:  # a finished pod's address goes, its object stays
            return agent.allocated() == [ip] and len(agent.veths()) == 1

        await eventually(released, "the finished pod's address and veth released")
        assert (await _pod(client, "fetch"))["status"]["podIP"] == fetcher_ip

        for name in ("web", "fetch"):
            await client.pods.delete(name, "default")
        await eventually(lambda: _gone(client, "web"), "web deleted")
        await eventually(lambda: _gone(client, "fetch"), "fetch deleted")

        async def nothing_left() -> bool:
            return agent.veths() == [] and agent.allocated() == []

        await eventually(nothing_left, "every veth and address of the pods released")
        assert agent.alive(), agent.tail()


async def test_missing_cni_plugins_make_the_network_unavailable_and_pods_wait(
    tmp_path: Path,
    api_server: Any,  # noqa: F811
    client: Client,  # noqa: F811
    containerd: ContainerdProcess,
    image: Path,
) -> None:
    empty = tmp_path / "no-plugins"
    empty.mkdir()
    specs = [{"pod_cidr": "10.42.1.0/24", "network_options": {"bin_dir": str(empty)}}]
    async with node_agents(tmp_path, api_server, containerd, image, specs) as (agent,):
        agent.start()

        async def unavailable() -> dict[str, Any] | None:
            assert agent.alive(), agent.tail()
            condition = await _node_condition(client, agent.name, "NetworkUnavailable")
            wanted = condition and condition["status"] == "True"
            return condition if wanted and condition["reason"] == "NoCNIPlugins" else None

        condition = await eventually(unavailable, "NetworkUnavailable=True, NoCNIPlugins")
        for name in REQUIRED_PLUGINS:
            assert str(empty / name) in condition["message"]
        ready = await _node_condition(client, agent.name, "Ready")
        assert ready is not None and ready["status"] == "False"
        assert "NoCNIPlugins" in ready["message"]

        await client.pods.create(quick(pod_body("waits", agent.name, image=BUSYBOX_IMAGE)))

        async def told() -> list[Any]:
            events = await client.events.list("default", field_selector="involvedObject.name=waits")
            return [e for e in events.items if e.reason == "NetworkNotReady"]

        (event,) = (await eventually(told, "a NetworkNotReady Event"))[:1]
        assert "NoCNIPlugins" in event.message
        waiting = (await _pod(client, "waits"))["status"]["containerStatuses"][0]["state"]
        assert waiting["waiting"]["reason"] == "ContainerCreating"
        assert "NoCNIPlugins" in waiting["waiting"]["message"]
        # nothing was made for it: no sandbox in the runtime, no veth, no address
        sandboxes = agent.data_dir / "runtime" / agent.name / "containerd" / "sandboxes"
        assert not sandboxes.is_dir() or list(sandboxes.glob("*.json")) == []
        assert agent.veths() == [] and agent.allocated() == []

        # the plugins installed: the node becomes available and the pod starts
        for name in REQUIRED_PLUGINS:
            (empty / name).symlink_to(Path(DEFAULT_BIN_DIR) / name)
        ip = await eventually(lambda: _pod_ip(client, "waits"), "waits running")
        assert ip.startswith("10.42.1.")
        condition = await _node_condition(client, agent.name, "NetworkUnavailable")
        assert condition is not None and condition["status"] == "False"
        await client.pods.delete("waits", "default")
        await eventually(lambda: _gone(client, "waits"), "waits deleted")


async def test_pods_on_two_nodes_reach_each_other_over_host_gw_routes(
    tmp_path: Path,
    api_server: Any,  # noqa: F811
    client: Client,  # noqa: F811
    containerd: ContainerdProcess,
    image: Path,
) -> None:
    specs = [{"pod_cidr": "10.42.1.0/24"}, {"pod_cidr": "10.42.2.0/24"}]
    async with node_agents(tmp_path, api_server, containerd, image, specs) as (a, b):
        a.start()
        b.start()
        await _until_ready(client, a)
        await _until_ready(client, b)

        def routed() -> bool:
            return [r["dst"] for r in a.routes()] == ["10.42.2.0/24"] and [
                r["dst"] for r in b.routes()
            ] == ["10.42.1.0/24"]

        async def routes_made() -> bool:
            return routed()

        await eventually(routes_made, "host-gw routes on both nodes")
        assert a.routes()[0]["gateway"] == "10.250.0.2"

        body = pod_body("far-web", a.name, image=BUSYBOX_IMAGE, command=["sh", "-c", SERVER])
        await client.pods.create(quick(body))
        ip = await eventually(lambda: _pod_ip(client, "far-web"), "far-web running")
        assert ip.startswith("10.42.1.")
        fetch = pod_body("far-fetch", b.name, image=BUSYBOX_IMAGE, command=fetch_command(ip))
        fetch["spec"]["restartPolicy"] = "Never"
        await client.pods.create(quick(fetch))

        async def finished() -> str | None:
            phase = await _phase(client, "far-fetch")
            return phase if phase in ("Succeeded", "Failed") else None

        assert await eventually(finished, "far-fetch finished") == "Succeeded"
        fetcher = await _pod(client, "far-fetch")
        assert fetcher["status"]["podIP"].startswith("10.42.2.")

        # a node gone: its route goes from the others
        b.stop()
        await client.nodes.delete(b.name)

        async def route_removed() -> bool:
            return a.routes() == []

        await eventually(route_removed, "the route to the deleted node removed")
        for name in ("far-web", "far-fetch"):
            with contextlib.suppress(Exception):
                await client.pods.delete(name, "default", grace_period_seconds=0)


# A bridge plugin that does its work and then hangs before answering: the agent is
# killed while the pod's setup is in flight, the veth and the address already made.
SLOW_BRIDGE = """#!/bin/sh
out=$({real} "$@")
rc=$?
if [ -e {marker} ]; then sleep 15; fi
printf '%s' "$out"
exit $rc
"""


async def test_agent_killed_during_setup_leaks_no_veth_or_address(
    tmp_path: Path,
    api_server: Any,  # noqa: F811
    client: Client,  # noqa: F811
    containerd: ContainerdProcess,
    image: Path,
) -> None:
    bin_dir = tmp_path / "cni-bin"
    bin_dir.mkdir()
    marker = tmp_path / "slow"
    marker.touch()
    for name in REQUIRED_PLUGINS:
        if name != "bridge":
            (bin_dir / name).symlink_to(Path(DEFAULT_BIN_DIR) / name)
    bridge = bin_dir / "bridge"
    bridge.write_text(SLOW_BRIDGE.format(real=Path(DEFAULT_BIN_DIR) / "bridge", marker=marker))
    bridge.chmod(bridge.stat().st_mode | stat.S_IEXEC)
    specs = [{"pod_cidr": "10.42.1.0/24", "network_options": {"bin_dir": str(bin_dir)}}]
    async with node_agents(tmp_path, api_server, containerd, image, specs) as (agent,):
        agent.start()
        await _until_ready(client, agent)
        await client.pods.create(quick(pod_body("interrupted", agent.name, image=BUSYBOX_IMAGE)))

        async def half_set_up() -> bool:
            assert agent.alive(), agent.tail()
            return len(agent.veths()) == 1 and len(agent.allocated()) == 1

        await eventually(half_set_up, "the bridge plugin made the veth and the address")
        agent.kill()
        marker.unlink()  # the restarted agent's plugins answer at once

        agent.start()
        ip = await eventually(lambda: _pod_ip(client, "interrupted"), "the pod running")
        # the half set-up sandbox was torn down and replaced: one veth, one address
        assert agent.allocated() == [ip]
        assert len(agent.veths()) == 1

        # Killed again, and the pod removed meanwhile: the restarted agent removes the
        # orphaned sandbox and its garbage collection tears the network down.
        agent.kill()
        await client.pods.delete("interrupted", "default", grace_period_seconds=0)
        await eventually(lambda: _gone(client, "interrupted"), "the pod deleted")
        assert len(agent.veths()) == 1 and agent.allocated() == [ip]
        agent.start()

        async def nothing_left() -> bool:
            assert agent.alive(), agent.tail()
            return agent.veths() == [] and agent.allocated() == []

        await eventually(nothing_left, "no veth or address left")


# A bridge plugin whose ADD makes the veth and takes the address, then fails.
FAILING_BRIDGE = """#!/bin/sh
if [ "$CNI_COMMAND" = ADD ] && [ -e {marker} ]; then
  {real} "$@" > /dev/null
  printf '{{"cniVersion":"1.0.0","code":11,"msg":"bridge refused for the test"}}'
  exit 1
fi
exec {real} "$@"
"""


async def test_a_failed_setup_is_an_event_and_retried_with_nothing_left_over(
    tmp_path: Path,
    api_server: Any,  # noqa: F811
    client: Client,  # noqa: F811
    containerd: ContainerdProcess,
    image: Path,
) -> None:
    bin_dir = tmp_path / "cni-bin"
    bin_dir.mkdir()
    marker = tmp_path / "failing"
    marker.touch()
    for name in REQUIRED_PLUGINS:
        if name != "bridge":
            (bin_dir / name).symlink_to(Path(DEFAULT_BIN_DIR) / name)
    bridge = bin_dir / "bridge"
    bridge.write_text(FAILING_BRIDGE.format(real=Path(DEFAULT_BIN_DIR) / "bridge", marker=marker))
    bridge.chmod(bridge.stat().st_mode | stat.S_IEXEC)
    specs = [{"pod_cidr": "10.42.1.0/24", "network_options": {"bin_dir": str(bin_dir)}}]
    async with node_agents(tmp_path, api_server, containerd, image, specs) as (agent,):
        agent.start()
        await _until_ready(client, agent)
        await client.pods.create(quick(pod_body("refused", agent.name, image=BUSYBOX_IMAGE)))

        async def failures() -> list[Any]:
            events = await client.events.list(
                "default", field_selector="involvedObject.name=refused"
            )
            return [e for e in events.items if e.reason == "FailedCreatePodSandBox"]

        (event,) = (await eventually(failures, "a FailedCreatePodSandBox Event"))[:1]
        assert "bridge refused for the test" in event.message

        async def creating() -> dict[str, Any] | None:
            # the status is written after the Event (the status manager coalesces writes)
            status = (await _pod(client, "refused"))["status"]
            waiting = [c["state"].get("waiting", {}) for c in status.get("containerStatuses", [])]
            return status if waiting and waiting[0].get("reason") == "ContainerCreating" else None

        status = await eventually(creating, "the container waiting in ContainerCreating")
        assert "podIP" not in status

        marker.unlink()  # the plugin works again: the retry (with back-off) succeeds
        ip = await eventually(lambda: _pod_ip(client, "refused"), "the pod running")
        # every failed attempt's veth and address were released: one of each is left
        assert agent.allocated() == [ip]
        assert len(agent.veths()) == 1
        await client.pods.delete("refused", "default")
        await eventually(lambda: _gone(client, "refused"), "the pod deleted")


_FETCH = """
import sys, urllib.request
for _ in range(60):
    try:
        print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode().strip())
        break
    except OSError:
        import time; time.sleep(0.5)
"""


async def test_a_host_port_answers_on_the_node_and_its_rules_go_with_the_pod(
    tmp_path: Path,
    api_server: Any,  # noqa: F811
    client: Client,  # noqa: F811
    containerd: ContainerdProcess,
    image: Path,
) -> None:
    specs = [{"pod_cidr": "10.42.1.0/24"}]
    async with node_agents(tmp_path, api_server, containerd, image, specs) as (agent,):
        agent.start()
        await _until_ready(client, agent)
        body = pod_body("published", agent.name, image=BUSYBOX_IMAGE, command=["sh", "-c", SERVER])
        body["spec"]["containers"][0]["ports"] = [{"containerPort": 8080, "hostPort": 18080}]
        await client.pods.create(quick(body))
        await eventually(lambda: _pod_ip(client, "published"), "published running")
        # from the node's own namespace, to the node's address on the bridge (the
        # gateway of its pod range): portmap's DNAT takes it to the pod
        fetched = await asyncio.to_thread(
            agent.node.run, [sys.executable, "-c", _FETCH, "http://10.42.1.1:18080/"], check=False
        )
        assert fetched.stdout.strip() == "hello-from-pod", fetched.stderr
        rules = agent.node.run(["iptables-save", "-t", "nat"]).stdout
        assert "18080" in rules

        await client.pods.delete("published", "default")
        await eventually(lambda: _gone(client, "published"), "published deleted")

        async def no_rules() -> bool:
            return "18080" not in agent.node.run(["iptables-save", "-t", "nat"]).stdout

        await eventually(no_rules, "portmap's rules for the pod removed")


async def test_without_agent_pod_cidr_the_nodes_spec_pod_cidr_is_used(
    tmp_path: Path,
    api_server: Any,  # noqa: F811
    client: Client,  # noqa: F811
    containerd: ContainerdProcess,
    image: Path,
) -> None:
    specs = [{"pod_cidr": ""}]
    async with node_agents(tmp_path, api_server, containerd, image, specs) as (agent,):
        agent.start()

        async def no_range() -> dict[str, Any] | None:
            assert agent.alive(), agent.tail()
            condition = await _node_condition(client, agent.name, "NetworkUnavailable")
            return condition if condition and condition["reason"] == "NoPodCIDR" else None

        condition = await eventually(no_range, "NetworkUnavailable with NoPodCIDR")
        assert condition["status"] == "True"
        # what the node IPAM controller does: the Node's range, written once
        cidr = {"podCIDR": "10.42.7.0/24", "podCIDRs": ["10.42.7.0/24"]}
        await client.nodes.patch(agent.name, {"spec": cidr})
        await _until_ready(client, agent)
        await client.pods.create(quick(pod_body("ranged", agent.name, image=BUSYBOX_IMAGE)))
        ip = await eventually(lambda: _pod_ip(client, "ranged"), "ranged running")
        assert ip.startswith("10.42.7."), ip
        await client.pods.delete("ranged", "default")
        await eventually(lambda: _gone(client, "ranged"), "ranged deleted")
