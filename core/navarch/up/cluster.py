"""``navarch up``: a whole cluster on one machine — the API server on the embedded
store, the scheduler, the controller manager and N node agents on one container
runtime — for trying Navarch on one machine.

The API server listens on 127.0.0.1 only. The agents run as nodes ``node-1`` …
``node-N`` on the same runtime (each finds its own containers by the node label). Run
as root, each node is an agent process inside a network namespace of its own, the
nodes joined on a LAN of the cluster's own (:mod:`navarch.up.network`,
:mod:`navarch.up.nodes`), and NodePort and LoadBalancer Services are forwarded to the
host's 127.0.0.1 (:mod:`navarch.up.services`); the host's own network is never
changed. Otherwise (not root) the agents run inside the ``up`` process on the host's
network, each with a streaming port of its own for ``logs`` and ``exec``. Leader
election is off: one process holds the data directory (the store's lock refuses a
second).

Stopping (Ctrl-C, SIGTERM) stops the agents, the controllers and the scheduler,
then the API server; containers keep running, as they do when a kubelet stops. The
next ``navarch up`` on the same data directory adopts them. ``navarch down`` removes
them (:mod:`navarch.up.down`). While it runs, ``up`` starts the cluster's own
containerd again when it dies (:mod:`navarch.up.supervise`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import attrs
from loguru import logger

from navarch.agent.daemon import identities, make_runtime, run_agents
from navarch.apiserver import egress, server
from navarch.assembly import Assembly
from navarch.client import Client, wait_for_api
from navarch.config import Config
from navarch.controllers.daemon import run_controller_manager
from navarch.controllers.localpath import NAME as LOCAL_PATH_NAME
from navarch.runtime import Runtime
from navarch.scheduler.daemon import kubeconfig_path, run_scheduler
from navarch.up import forward, network
from navarch.up.demo import import_demo_images
from navarch.up.nodes import node_dir, run_node_agents
from navarch.up.pieces import node_networking
from navarch.up.runtimes import RuntimeChoice, answers, choose_runtime, private_containerd
from navarch.up.services import forward_services
from navarch.up.state import UpState
from navarch.up.supervise import supervise_containerd

DEFAULT_NODES = 3

log = logger.bind(component="up")


@attrs.frozen
class UpReady:
    """What ``navarch up`` tells its user once the cluster answers."""

    data_dir: Path
    kubeconfig: Path
    server_url: str
    runtime: RuntimeChoice
    nodes: tuple[str, ...]
    log_file: Path | None
    # NodePort and LoadBalancer Services are forwarded to the host's 127.0.0.1
    forwarding: bool = False
    # each node's namespace and address on the cluster's LAN (empty: the host's network)
    node_addresses: dict[str, str] = attrs.Factory(dict)
    # the nodes' agent.network: "none" until a network plugin is installed
    pod_network: str = "none"


def node_names(count: int) -> tuple[str, ...]:
    return tuple(f"node-{i}" for i in range(1, count + 1))


def up_config(config: Config, choice: RuntimeChoice) -> Config:
    """The configuration every part of ``up`` runs with: the chosen runtime, nodes
    and their streaming servers on 127.0.0.1, no leader election, the data
    directory's admin kubeconfig."""
    values = {
        **config.values,
        "controllers.options": _local_path_under_data_dir(config),
        "runtime.name": choice.name,
        "runtime.options": choice.options,
        "agent.node_ip": config["agent.node_ip"] or "127.0.0.1",
        "agent.address": "127.0.0.1",
        "leader_election.enabled": False,
        "kubeconfig": "",
    }
    sources = {**config.sources}
    for key in ("runtime.name", "runtime.options", "leader_election.enabled", "kubeconfig"):
        sources[key] = "navarch up"
    return attrs.evolve(config, values=values, sources=sources)


def _local_path_under_data_dir(config: Config) -> dict[str, Any]:
    """The controllers' options with the local-path volumes under ``<data_dir>/storage``
    (as k3s keeps them under its own data directory) unless the configuration says
    where: a cluster's volumes go with its data, and ``navarch down --purge`` leaves
    nothing of them on the machine."""
    options = dict(config["controllers.options"] or {})
    provisioner = dict(options.get(LOCAL_PATH_NAME) or {})
    provisioner.setdefault("base_dir", str(Path(config["data_dir"]) / "storage"))
    options[LOCAL_PATH_NAME] = provisioner
    return options


async def run_up(
    assembly_for: Callable[[Config], Assembly],
    config: Config,
    *,
    nodes: int,
    forced_runtime: str | None,
    stop: asyncio.Event,
    on_ready: Callable[[UpReady], None],
    log_file: Path | None = None,
) -> None:
    """Run the cluster until ``stop`` is set; ``on_ready`` is called once it answers."""
    data_dir = Path(config["data_dir"])
    previous = UpState.load(data_dir)
    names = previous.nodes if previous is not None and previous.nodes else node_names(nodes)
    if previous is not None and len(previous.nodes) != nodes:
        log.bind(nodes=list(previous.nodes)).warning(
            "this cluster was started with other nodes; keeping them (navarch down to change)"
        )
    choice = await choose_runtime(assembly_for(config), forced_runtime, previous)
    config = up_config(config, choice)
    assembly = assembly_for(config)
    state = UpState(choice.name, choice.options, choice.private_containerd, names, os.getpid())
    state.save(data_dir)
    log.bind(runtime=choice.name, why=choice.why, nodes=list(names)).info("starting the cluster")
    try:
        await _serve_cluster(assembly, names, stop, on_ready, choice, log_file)
    finally:
        attrs.evolve(state, pid=None).save(data_dir)
        if choice.private_containerd:
            # its shims keep the containers running until the next up
            await asyncio.to_thread(private_containerd(data_dir).stop)


async def _serve_cluster(
    assembly: Assembly,
    names: tuple[str, ...],
    stop: asyncio.Event,
    on_ready: Callable[[UpReady], None],
    choice: RuntimeChoice,
    log_file: Path | None,
) -> None:
    data_dir = Path(assembly.config["data_dir"])
    api_started = asyncio.Event()
    api_stop = asyncio.Event()
    api = asyncio.ensure_future(server.serve(assembly, started=api_started, stop=api_stop))
    # the API server holds the store's lock from here: no other up runs on this data
    # directory, so the namespaces of its name are this process's to sweep and make
    await _first(api, api_started.wait())
    lan: network.ClusterNetwork | None = None
    try:
        problem = network.possible()
        if problem is None:
            lan = await asyncio.to_thread(network.create, network.cluster_id(data_dir), names)
        else:
            log.bind(why=problem).warning(
                "the nodes share the host's network (no namespace of their own); NodePort "
                "and LoadBalancer Services are not forwarded to 127.0.0.1"
            )
        if lan is not None:
            egress.use_cluster_sockets(forward.lan_sockets(lan.lan_path, network.LAN_CIDR))
        await _serve_parts(assembly, api, names, stop, on_ready, choice, log_file, lan)
    finally:
        api_stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await api
        egress.use_cluster_sockets(None)
        if lan is not None:
            # what ran in them has stopped: their links, routes and rules go with them
            own = [lan.lan, *(node.name for node in lan.nodes.values())]
            await asyncio.to_thread(network.sweep, lan.cluster, own)


async def _serve_parts(
    assembly: Assembly,
    api: asyncio.Future[None],
    names: tuple[str, ...],
    stop: asyncio.Event,
    on_ready: Callable[[UpReady], None],
    choice: RuntimeChoice,
    log_file: Path | None,
    lan: network.ClusterNetwork | None,
) -> None:
    config = assembly.config
    data_dir = Path(config["data_dir"])

    async def prepare(runtime: Runtime) -> None:
        await import_demo_images(runtime, data_dir / "images")

    if lan is not None:
        # the nodes share one runtime: its images are every node's
        await _import_demo_images(assembly, names[0])
    parts: dict[str, Coroutine[Any, Any, None]] = {
        "scheduler": run_scheduler(assembly),
        "controllers": run_controller_manager(assembly),
    }
    pod_network = "none"
    if lan is not None:
        networking = node_networking(assembly, list(lan.nodes.values()))
        pod_network = next(iter(networking.values())).network
        log.bind(**{node: n.settings for node, n in networking.items()}).info(
            "node network settings"
        )
        parts["agents"] = run_node_agents(config, lan.nodes, networking)
        parts["services"] = _forward_services(assembly, lan)
    else:
        parts["agents"] = run_agents(assembly, identities(assembly, list(names)), prepare=prepare)
    if choice.private_containerd:
        # nobody else brings the cluster's own containerd back when it dies
        parts["containerd"] = supervise_containerd(
            private_containerd(data_dir), lambda: answers(assembly, choice.name, choice.options)
        )
    tasks = {name: asyncio.ensure_future(work) for name, work in parts.items()}
    on_ready(
        UpReady(
            data_dir,
            data_dir / "admin.kubeconfig",
            server.server_url(config),
            choice,
            names,
            log_file,
            forwarding=lan is not None,
            node_addresses={n.node: n.address for n in lan.nodes.values()} if lan else {},
            pod_network=pod_network,
        )
    )
    stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait(
            [api, stopping, *tasks.values()], return_when=asyncio.FIRST_COMPLETED
        )
        for name, task in tasks.items():
            if task in done and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
            if task in done:
                log.bind(part=name).warning("a part of the cluster ended; stopping")
    finally:
        log.info("stopping the cluster")
        stopping.cancel()
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        log.info("the cluster stopped; its containers keep running (navarch down removes them)")


async def _import_demo_images(assembly: Assembly, node: str) -> None:
    """The demo images, loaded once into the runtime all the nodes share."""
    config = assembly.config
    data_dir = Path(config["data_dir"])
    values = {**config.values, "data_dir": str(node_dir(data_dir, node))}
    runtime = await make_runtime(
        attrs.evolve(assembly, config=attrs.evolve(config, values=values)), node
    )
    try:
        await import_demo_images(runtime, data_dir / "images")
    finally:
        await runtime.close()


async def _forward_services(assembly: Assembly, lan: network.ClusterNetwork) -> None:
    kubeconfig = await wait_for_api(kubeconfig_path(assembly), component="up")
    async with Client(kubeconfig, max_connections=4) as client:
        await forward_services(client, lan)


async def _first(task: asyncio.Future[None], started: Coroutine[Any, Any, Any]) -> None:
    """Wait until ``started`` finishes, or raise what ``task`` failed with first."""
    waiting = asyncio.ensure_future(started)
    await asyncio.wait([task, waiting], return_when=asyncio.FIRST_COMPLETED)
    if not waiting.done():
        waiting.cancel()
        await task  # raises its error
        raise RuntimeError("the API server stopped before it was ready")
