"""The node agents of ``navarch up``, each a process of its own inside its node's
network namespace (:mod:`navarch.up.network`).

Each agent joins as a worker does, with a node token of its own (made once, kept in
``<data dir>/nodes/<node>``, with its configuration, state and log). The ``up``
process relays what must cross between the namespaces (:mod:`navarch.up.forward`):

- the API server listens on the host's 127.0.0.1; inside each node's namespace ``up``
  listens on 127.0.0.1 at the same port and relays there, so the agent's kubeconfig
  (``https://127.0.0.1:<port>``, as the serving certificate names it) works unchanged;
- the agent's port (logs, exec, port-forward: 10250, as a kubelet's, in every
  namespace) listens on the node's LAN address, which the Node reports; the API
  server, in ``up``'s process, connects to it from the LAN's namespace
  (:mod:`navarch.apiserver.egress`, :func:`navarch.up.forward.lan_sockets`).

containerd stays in the host's namespace (pulls from a 127.0.0.1 registry keep
working; its unix socket reaches every namespace). Each agent process is started with
a parent-death signal, so an ``up`` killed outright takes its agents with it; an agent
that exits is started again after :data:`RESTART_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import IO, Any

import attrs
import yaml
from loguru import logger

from navarch.apiserver import server
from navarch.apiserver.datadir import make_private_dir, write_atomically
from navarch.config import Config
from navarch.up.forward import connect_in, listen_in, relay_to
from navarch.up.network import NodeNetns
from navarch.up.pieces import NodeNetworking

AGENT_PORT = 10250  # the kubelet's; every node has a namespace, so a port, of its own
RESTART_SECONDS = 2.0
STOP_SECONDS = 30.0
KUBECONFIG = "node.kubeconfig"
# A viewer's: NetworkPolicy enforcement reads every pod's labels, which the node's own
# token may not (agent.network_policy_kubeconfig).
POLICY_KUBECONFIG = "policy.kubeconfig"
CONFIG_FILE = "agent.yaml"
LOG_FILE = "agent.log"

log = logger.bind(component="up-nodes")


def node_dir(data_dir: Path, node: str) -> Path:
    """Where node ``node`` of ``up`` keeps its configuration, state and log."""
    return Path(data_dir) / "nodes" / node


def node_kubeconfig(config: Config, node: str, directory: Path) -> Path:
    """The node's kubeconfig, with a node token made on first use and kept after."""
    path = directory / KUBECONFIG
    token = None
    if path.exists():
        users = (yaml.safe_load(path.read_text()) or {}).get("users") or []
        token = ((users[0] if users else {}).get("user") or {}).get("token")
    if not token:
        token = server.token_file(config).add("node", node)
    return _write_kubeconfig(config, path, token, f"system:node:{node}")


def policy_kubeconfig(config: Config, node: str, directory: Path) -> Path:
    """The kubeconfig the node's agent enforces NetworkPolicies with: a viewer of the
    cluster's, one per node, made on first use and kept after."""
    user = f"navarch-netpol-{node}"
    token = server.token_file(config).ensure("viewer", user)
    return _write_kubeconfig(config, directory / POLICY_KUBECONFIG, token, user)


def _write_kubeconfig(config: Config, path: Path, token: str, user: str) -> Path:
    # the relay in the node's namespace is on 127.0.0.1, which the certificate names,
    # whatever address the API server advertises to the host
    local = attrs.evolve(config, values={**config.values, "api.advertise_address": "127.0.0.1"})
    document = server.kubeconfig(local, token, user=user)
    write_atomically(path, yaml.safe_dump(document, sort_keys=False).encode())
    return path


def agent_config(
    config: Config, node: str, directory: Path, networking: NodeNetworking
) -> dict[str, Any]:
    """The whole configuration file of node ``node``'s agent: ``up``'s own, with the
    node's name, directory, token, port and network settings."""
    values = {
        **config.values,
        "data_dir": str(directory),
        "kubeconfig": str(directory / KUBECONFIG),
        "agent.node_name": node,
        "agent.port": AGENT_PORT,
        "agent.simulate": 0,
        **networking.settings,
    }
    if networking.network != "none" and not config["agent.network_policy_kubeconfig"]:
        values["agent.network_policy_kubeconfig"] = str(directory / POLICY_KUBECONFIG)
    return attrs.evolve(config, values=values).nested()


@attrs.define
class NodeAgent:
    """One node's agent process and the relays of its namespace."""

    node: str
    netns: NodeNetns
    directory: Path
    api_port: int
    process: asyncio.subprocess.Process | None = None
    servers: list[asyncio.Server] = attrs.Factory(list)

    async def open_relays(self) -> None:
        """The API server, reached from inside the node's namespace."""
        api = relay_to(lambda: connect_in(None, "127.0.0.1", self.api_port), node=self.node)
        self.servers.append(await listen_in(self.netns.path, "127.0.0.1", self.api_port, api))

    def argv(self) -> list[str]:
        return [
            # the agent ends with up, even when up is killed outright (SIGKILL)
            "setpriv", "--pdeathsig", "TERM", "--",
            "nsenter", f"--net={self.netns.path}", "--",
            sys.executable, "-m", "navarch.cli.navarch",
            "--config", str(self.directory / CONFIG_FILE), "agent",
        ]  # fmt: skip

    async def run(self) -> None:
        """Run the agent until cancelled, starting it again whenever it exits."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("NAVARCH_")}
        try:
            while True:
                with open(self.directory / LOG_FILE, "ab") as output:
                    self.process = await self._start(env, output)
                log.bind(node=self.node, pid=self.process.pid, netns=self.netns.name).info(
                    "agent started in its network namespace"
                )
                code = await self.process.wait()
                log.bind(node=self.node, code=code, log=str(self.directory / LOG_FILE)).warning(
                    "the node's agent exited; starting it again"
                )
                await asyncio.sleep(RESTART_SECONDS)
        finally:
            await self.stop()

    async def _start(self, env: dict[str, str], output: IO[bytes]) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *self.argv(), stdin=asyncio.subprocess.DEVNULL, stdout=output, stderr=output, env=env
        )

    async def stop(self) -> None:
        process = self.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(process.wait()), STOP_SECONDS)
            except TimeoutError:
                log.bind(node=self.node, pid=process.pid).warning("the agent did not stop; killed")
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        for relay in self.servers:
            relay.close()
        self.servers.clear()


async def run_node_agents(
    config: Config, nodes: dict[str, NodeNetns], networking: dict[str, NodeNetworking]
) -> None:
    """Run every node's agent in its namespace until cancelled; then stop them all."""
    data_dir = Path(config["data_dir"])
    agents = []
    for node, netns in nodes.items():
        directory = node_dir(data_dir, node)
        make_private_dir(directory)
        node_kubeconfig(config, node, directory)
        if networking[node].network != "none":
            policy_kubeconfig(config, node, directory)
        agent = NodeAgent(node, netns, directory, int(config["api.port"]))
        agents.append(agent)
    try:
        for agent in agents:
            await agent.open_relays()
            document = agent_config(config, agent.node, agent.directory, networking[agent.node])
            write_atomically(agent.directory / CONFIG_FILE, yaml.safe_dump(document).encode())
        await asyncio.gather(*(agent.run() for agent in agents))
    finally:
        await asyncio.gather(*(agent.stop() for agent in agents), return_exceptions=True)
