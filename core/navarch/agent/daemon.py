"""``navarch agent``: one agent for this machine, or ``--simulate N`` agents in one
process (kwok's role) sharing one API connection pool, each with its own runtime
instance, Node, Lease and pod watch."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
from loguru import logger

from navarch.agent.agent import Agent, AgentSettings
from navarch.agent.machine import default_node_ip, read_machine
from navarch.agent.network import NetworkPlugin, PodNetwork
from navarch.agent.node import NodeIdentity, parse_taint
from navarch.assembly import Assembly
from navarch.client import Client, KubeConfig, load_kubeconfig, wait_for_api
from navarch.netpol.enforcer import PolicyEnforcer
from navarch.runtime import Runtime
from navarch.scheduler.daemon import kubeconfig_path

AGENT_CONNECTIONS = 16


def settings_from(assembly: Assembly, *, simulated: bool) -> AgentSettings:
    config = assembly.config
    return AgentSettings(
        lease_renew_seconds=config["agent.lease_renew_seconds"],
        lease_duration_seconds=config["agent.lease_duration_seconds"],
        status_update_seconds=config["agent.status_update_seconds"],
        relist_seconds=config["agent.relist_seconds"],
        pod_resync_seconds=config["agent.pod_resync_seconds"],
        backoff_initial_seconds=config["agent.backoff_initial_seconds"],
        backoff_max_seconds=config["agent.backoff_max_seconds"],
        address=config["agent.address"],
        port=None if simulated else config["agent.port"],
        data_dir=Path(config["data_dir"]) / "agent",
        pod_cidr=config["agent.pod_cidr"],
        service_proxy=config["agent.service_proxy"],
        dns_address=config["agent.dns_address"],
        cluster_dns=tuple(config["agent.cluster_dns"]),
        cluster_domain=config["agent.cluster_domain"],
    )


def identities(assembly: Assembly, names: list[str] | None = None) -> list[NodeIdentity]:
    """The node(s) this process runs, from the configuration (errors name the key), or
    the nodes ``names`` with the configured labels, taints and capacity."""
    config = assembly.config
    machine = read_machine()
    taints = [parse_taint(t) for t in config["agent.taints"]]
    capacity = machine.capacity(config["agent.capacity"])
    node_labels = {str(k): str(v) for k, v in config["agent.labels"].items()}
    ip = config["agent.node_ip"] or default_node_ip()
    count = config["agent.simulate"]
    if names is None and count:
        prefix = config["agent.simulate_prefix"]
        names = [f"{prefix}-{i}" for i in range(count)]
    elif names is None:
        names = [config["agent.node_name"] or machine.hostname]
    return [
        NodeIdentity(name, ip, machine, dict(capacity), dict(node_labels), list(taints))
        for name in names
    ]


async def make_runtime(assembly: Assembly, node: str) -> Runtime:
    entry = assembly.runtime()
    data_dir = str(Path(assembly.config["data_dir"]) / "runtime" / node)
    runtime = entry.value(assembly.config["runtime.options"], data_dir)
    if inspect.isawaitable(runtime):
        runtime = await runtime
    return runtime


async def make_network(assembly: Assembly, node: str) -> NetworkPlugin | None:
    """The node's pod network plugin (``agent.network``, its ``agent.network_options``,
    its state under ``data_dir/network/<node>``); None for ``none``."""
    entry = assembly.network()
    if entry is None:
        return None
    data_dir = str(Path(assembly.config["data_dir"]) / "network" / node)
    plugin = entry.value(assembly.config["agent.network_options"], data_dir)
    if inspect.isawaitable(plugin):
        plugin = await plugin
    return plugin


def streaming_for(kubeconfig: KubeConfig, settings: AgentSettings) -> Any:
    async def start(agent: Agent) -> Any:
        from navarch.agent.metrics import add_metrics_route
        from navarch.agent.streaming import serve_streaming

        server = await serve_streaming(
            agent.runtime,
            agent.node_name,
            kubeconfig,
            settings.address,
            settings.port or 0,
            settings.data_dir or Path("."),
            extra_routes=lambda app, access: add_metrics_route(app, agent, access),
            reported=agent.status.get,
        )
        return server.port, server.close

    return start


async def run_agents(
    assembly: Assembly,
    nodes: list[NodeIdentity] | None = None,
    *,
    prepare: Callable[[Runtime], Awaitable[None]] | None = None,
) -> None:
    """Run the configured agents, or (``navarch up``) the given ``nodes``: real agents
    with their own streaming port (a free one each) and data directory. ``prepare``
    runs on each agent's runtime before the agent starts (``up`` imports its demo
    image there)."""
    simulated = bool(assembly.config["agent.simulate"]) and nodes is None
    settings = settings_from(assembly, simulated=simulated)
    nodes = nodes if nodes is not None else identities(assembly)
    several_real = len(nodes) > 1 and not simulated
    logger.bind(component="agent", nodes=len(nodes), runtime=assembly.config["runtime.name"]).info(
        "starting"
    )
    kubeconfig = await wait_for_api(kubeconfig_path(assembly), component="agent")
    # A TLS connection costs ~128 KiB: a few for bursts of status writes, plus one per
    # node for its pod watch (held open) and one for its lease.
    connections = AGENT_CONNECTIONS + 2 * len(nodes)
    policy_kubeconfig = assembly.config["agent.network_policy_kubeconfig"]
    async with (
        assembly.running("agent"),
        Client(kubeconfig, max_connections=connections) as client,
        contextlib.AsyncExitStack() as stack,
    ):
        # Policies need every pod's labels, which a node's token may not read.
        policy_client = (
            await stack.enter_async_context(Client(load_kubeconfig(policy_kubeconfig)))
            if policy_kubeconfig
            else None
        )
        agents = []
        runtimes: list[Runtime] = []
        try:
            for identity in nodes:
                runtime = await make_runtime(assembly, identity.name)
                runtimes.append(runtime)
                if prepare is not None:
                    await prepare(runtime)
                own = settings
                if len(nodes) > 1:
                    # one data directory per agent (serving certificate, pod volumes:
                    # each agent removes the pod directories of pods not bound to it),
                    # and for real agents one port each
                    own = attrs.evolve(
                        settings,
                        port=0 if several_real else settings.port,
                        data_dir=(settings.data_dir or Path(".")) / identity.name,
                    )
                plugin = await make_network(assembly, identity.name)
                network = (
                    None
                    if plugin is None
                    else PodNetwork(plugin, client, identity.name, own.pod_cidr or "")
                )
                agents.append(
                    Agent(
                        client,
                        runtime,
                        identity,
                        own,
                        runtime_name=assembly.config["runtime.name"],
                        streaming=None if simulated else streaming_for(kubeconfig, own),
                        network=network,
                        policies=(
                            None
                            if network is None or policy_client is None
                            else PolicyEnforcer(policy_client, identity.name)
                        ),
                    )
                )
            await asyncio.gather(*(agent.run() for agent in agents))
        finally:
            for runtime in runtimes:
                await runtime.close()
