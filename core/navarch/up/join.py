"""``navarch join NAME``: one more node for a ``navarch up`` cluster, as a process of
its own — a worker you can kill (``kill -9``) to watch its pods move, on this machine.

It joins as a real worker does: with a node token (made once, kept in its directory),
on the runtime the cluster runs on (from ``up.json``), its state under
``<data dir>/workers/NAME``. Its pid is kept there too, so that ``navarch down``
stops it before removing its containers (a running agent would start them again).

Run as root while ``navarch up`` runs its nodes in network namespaces, the joining
process moves into a namespace of its own on the cluster's LAN
(:func:`navarch.up.network.join`) before it starts anything, so its agent, pods and
rules live there like the other nodes'; it relays the API server into that namespace
as ``up`` does for its nodes, and removes the namespace when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import attrs
import yaml
from loguru import logger

from navarch.apiserver import server
from navarch.apiserver.datadir import make_private_dir, write_atomically
from navarch.config import Config
from navarch.startup import StartupError
from navarch.up import forward, network
from navarch.up.containerd import alive
from navarch.up.state import UpState

log = logger.bind(component="join")

PID_FILE = "agent.pid"
STOP_SECONDS = 30.0


def worker_dir(data_dir: Path, name: str) -> Path:
    return Path(data_dir) / "workers" / name


def worker_names(data_dir: Path) -> list[str]:
    """The nodes that joined this cluster (whether running now or not)."""
    root = Path(data_dir) / "workers"
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def join_config(config: Config, name: str) -> Config:
    """The agent configuration of node ``name`` joining the cluster in ``data_dir``."""
    data_dir = Path(config["data_dir"])
    state = UpState.load(data_dir)
    if state is None:
        raise StartupError(
            f"no navarch up cluster in {data_dir} (no up.json): start one with `navarch up` "
            "first, with the same --data-dir"
        )
    if name in state.nodes:
        raise StartupError(
            f"{name} is one of the nodes navarch up runs itself ({', '.join(state.nodes)}); "
            "choose another name"
        )
    directory = worker_dir(data_dir, name)
    make_private_dir(directory)
    kubeconfig = directory / "node.kubeconfig"
    if not kubeconfig.exists():
        token = server.token_file(config).add("node", name)
        document = server.kubeconfig(config, token, user=f"system:node:{name}")
        write_atomically(kubeconfig, yaml.safe_dump(document, sort_keys=False).encode())
    values = {
        **config.values,
        "data_dir": str(directory),
        "kubeconfig": str(kubeconfig),
        "runtime.name": state.runtime,
        "runtime.options": state.runtime_options,
        "agent.node_name": name,
        "agent.node_ip": config["agent.node_ip"] or "127.0.0.1",
        "agent.address": "127.0.0.1",
        "agent.port": 0,
    }
    sources = {**config.sources, **{key: "navarch join" for key in values if key != "data_dir"}}
    return attrs.evolve(config, values=values, sources=sources)


def record_pid(directory: Path) -> None:
    write_atomically(directory / PID_FILE, f"{os.getpid()}\n".encode())


def forget_pid(directory: Path) -> None:
    (directory / PID_FILE).unlink(missing_ok=True)


def stop_worker(directory: Path) -> None:
    """SIGTERM the joined agent recorded in ``directory`` (when it still runs) and wait."""
    try:
        pid = int((directory / PID_FILE).read_text().strip())
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return
    if b"join" not in argv:
        return  # the pid was reused: not ours
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(pid):
        raise StartupError(f"the agent of {directory.name} (pid {pid}) did not stop; kill it")


@attrs.frozen
class JoinedLan:
    """The namespace this process moved into, and the host's, held open to reach the
    API server from."""

    netns: network.NodeNetns
    host_path: str


def enter_lan(cluster_dir: Path, name: str) -> JoinedLan | None:
    """Move this process (its calling thread, before it starts anything) into a new
    namespace for node ``name`` on the LAN of the cluster in ``cluster_dir``; None,
    with a warning, when namespaces cannot be made here (not root)."""
    problem = network.possible()
    if problem is not None:
        log.bind(why=problem).warning("the node joins on the host's network")
        return None
    netns = network.join(network.cluster_id(cluster_dir), name)
    host = os.open("/proc/thread-self/ns/net", os.O_RDONLY)  # kept open for the relay
    try:
        forward.enter(netns.path)
    except BaseException:
        os.close(host)
        network.remove(netns.name)
        raise
    return JoinedLan(netns, f"/proc/self/fd/{host}")


def with_settings(config: Config, settings: dict[str, Any]) -> Config:
    values = {**config.values, **settings}
    sources = {**config.sources, **{key: "navarch join" for key in settings}}
    return attrs.evolve(config, values=values, sources=sources)


async def run_joined(
    agents: Coroutine[Any, Any, None], joined: JoinedLan | None, api_port: int
) -> None:
    """Run the agent; on the cluster's LAN, with the API server relayed into the node's
    namespace (its 127.0.0.1), and the namespace removed at the end."""
    if joined is None:
        await agents
        return
    relay = forward.relay_to(
        lambda: forward.connect_in(joined.host_path, "127.0.0.1", api_port), node=joined.netns.node
    )
    try:
        server = await forward.listen_in(None, "127.0.0.1", api_port, relay)
        try:
            await agents
        finally:
            server.close()
    finally:
        await asyncio.to_thread(network.remove, joined.netns.name)
