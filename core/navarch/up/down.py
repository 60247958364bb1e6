"""``navarch down [--purge]``: stop a ``navarch up`` cluster and remove its containers.

The ``up`` process (its pid in ``up.json``) is asked to stop with SIGTERM; then every
sandbox and container labelled with one of the cluster's nodes is stopped and removed
from the runtime it ran on (the cluster's own containerd is started for that when it
was stopped), and the nodes' network namespaces are removed with their links, routes
and rules (:func:`navarch.up.network.sweep`: also what an ``up`` killed with SIGKILL
left). The objects stay in the store: the next ``navarch up`` runs the
Deployments again. ``--purge`` also removes the demo images and the data directory:
the store, the keys, the cluster's containerd and its images.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

import attrs
from loguru import logger

from navarch.agent.daemon import make_runtime
from navarch.assembly import Assembly
from navarch.config import Config
from navarch.runtime import Runtime, labels
from navarch.runtime.errors import NotFound
from navarch.startup import StartupError
from navarch.up import network
from navarch.up.cluster import up_config
from navarch.up.containerd import alive
from navarch.up.demo import DEMO_IMAGES
from navarch.up.join import stop_worker, worker_dir, worker_names
from navarch.up.mounts import unmount_under
from navarch.up.nodes import node_dir
from navarch.up.runtimes import RuntimeChoice, private_containerd, start_runtime
from navarch.up.state import UpState

UP_STOP_SECONDS = 60.0
STOP_GRACE_SECONDS = 10

log = logger.bind(component="down")


@attrs.frozen
class DownResult:
    containers: int
    sandboxes: int
    purged: bool
    data_dir: Path


async def run_down(
    assembly_for: Callable[[Config], Assembly], config: Config, *, purge: bool
) -> DownResult:
    data_dir = Path(config["data_dir"])
    state = UpState.load(data_dir)
    if state is None:
        raise StartupError(
            f"no navarch up cluster in {data_dir} (no up.json); pass the --data-dir it was "
            "started with"
        )
    workers = worker_names(data_dir)
    # Every agent first (a running one would start its containers again), all at once:
    # the joined workers and up itself each get their whole stop time side by side.
    await asyncio.gather(
        *(asyncio.to_thread(stop_worker, worker_dir(data_dir, name)) for name in workers),
        _stop_up(state),
    )
    # the agents in them first (a running one would start its containers again)
    await asyncio.to_thread(network.sweep, network.cluster_id(data_dir))
    choice = RuntimeChoice(state.runtime, state.runtime_options, state.private_containerd)
    assembly = assembly_for(up_config(config, choice))
    containers = sandboxes = 0
    if choice.name != "sim":  # simulated containers ended with the up process
        await start_runtime(assembly, choice)
        nodes = [(node, _node_assembly(assembly, data_dir, node)) for node in state.nodes] + [
            (name, assembly_for(_in_dir(assembly.config, worker_dir(data_dir, name))))
            for name in workers
        ]
        runtimes: list[tuple[str, Runtime]] = []
        try:
            for node, owner in nodes:
                runtimes.append((node, await make_runtime(owner, node)))
            # all nodes at once: each container still gets its grace period, but the
            # periods run side by side instead of one node after another
            removed = await asyncio.gather(
                *(_remove_node(runtime, node) for node, runtime in runtimes)
            )
            containers = sum(c for c, _ in removed)
            sandboxes = sum(s for _, s in removed)
            if purge:  # one node after another: nodes may share the runtime's images
                for _, runtime in runtimes:
                    for image in DEMO_IMAGES:
                        with contextlib.suppress(NotFound):
                            await runtime.remove_image(image)
        finally:
            for _, runtime in runtimes:
                await runtime.close()
    if choice.private_containerd:
        containerd = private_containerd(data_dir)
        await asyncio.to_thread(containerd.stop)
        # shims of a containerd that died and was started again outlive both
        await asyncio.to_thread(containerd.end_leftovers)
    if purge:
        await asyncio.to_thread(_purge, data_dir)
    else:
        attrs.evolve(state, pid=None, containers_removed=True).save(data_dir)
    log.bind(containers=containers, sandboxes=sandboxes, purged=purge).info("cluster down")
    return DownResult(containers, sandboxes, purge, data_dir)


def _node_assembly(assembly: Assembly, data_dir: Path, node: str) -> Assembly:
    """The assembly of one of up's own nodes: its runtime keeps its state (sandboxes) in
    the node's directory when the node ran as a process of its own (:mod:`navarch.up.nodes`),
    else under the cluster's data directory."""
    directory = node_dir(data_dir, node)
    if not directory.is_dir():
        return assembly
    return attrs.evolve(assembly, config=_in_dir(assembly.config, directory))


def _in_dir(config: Config, directory: Path) -> Config:
    return attrs.evolve(config, values={**config.values, "data_dir": str(directory)})


async def _stop_up(state: UpState) -> None:
    pid = state.running_pid()
    if pid is None:
        return
    log.bind(pid=pid).info("stopping navarch up")
    os.kill(pid, signal.SIGTERM)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + UP_STOP_SECONDS
    while alive(pid) and loop.time() < deadline:
        await asyncio.sleep(0.2)
    if alive(pid):
        raise StartupError(
            f"navarch up (pid {pid}) did not stop within {UP_STOP_SECONDS:.0f} s; stop it "
            "(kill it) and run navarch down again"
        )


async def _remove_node(runtime: Runtime, node: str) -> tuple[int, int]:
    """Stop and remove every container and sandbox of ``node``; how many of each."""
    containers = sandboxes = 0
    mine = {labels.NODE: node}
    found = await runtime.list_containers(mine)
    await asyncio.gather(
        *(runtime.stop_container(c.id, STOP_GRACE_SECONDS) for c in found),
        return_exceptions=True,
    )
    for container in found:
        with contextlib.suppress(NotFound):
            await runtime.remove_container(container.id)
            containers += 1
    for sandbox in await runtime.list_sandboxes(mine):
        with contextlib.suppress(NotFound):
            await runtime.remove_sandbox(sandbox.id)
            sandboxes += 1
    return containers, sandboxes


def _purge(data_dir: Path) -> None:
    """Remove the data directory, unmounting first what the cluster's containerd left
    mounted under it (snapshots of a hard stop, network namespaces)."""
    unmount_under([data_dir.resolve()])
    socket_dir = private_containerd(data_dir).socket_path.parent
    shutil.rmtree(data_dir, ignore_errors=True)
    if socket_dir.name.startswith("navarch-") and socket_dir.parent == Path("/run"):
        shutil.rmtree(socket_dir, ignore_errors=True)
