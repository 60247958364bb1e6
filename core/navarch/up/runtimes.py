"""Which container runtime ``navarch up`` runs its nodes on.

In order: a containerd answering at its configured socket; else the cluster's own
containerd (:mod:`navarch.up.containerd`) when containerd is installed and we are
root; else a Docker answering at its configured socket. ``--runtime NAME`` forces one
(``containerd`` still starts the cluster's own when none answers). A cluster started
before keeps the runtime it was started on, since its containers run there. When
nothing can be had, the error says what to install.

``runtime.options`` are the options of the runtime ``runtime.name`` names when it was
set, else of the one ``--runtime`` forces; options the cluster ends up not running
with are named in a warning, never dropped silently (:func:`unused_options`).
"""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any

import attrs
from loguru import logger

from navarch.assembly import Assembly
from navarch.config import Config
from navarch.startup import StartupError
from navarch.up.containerd import PrivateContainerd, containerd_problem
from navarch.up.state import UpState

PROBE_SECONDS = 5.0
# How long the cluster's own containerd may take to answer after it was started.
CONTAINERD_START_SECONDS = 60.0

log = logger.bind(component="up")


@attrs.frozen
class RuntimeChoice:
    name: str
    options: dict[str, Any]
    private_containerd: bool = False
    why: str = ""


async def answers(assembly: Assembly, name: str, options: dict[str, Any]) -> str | None:
    """None when runtime ``name`` with ``options`` answers a Version call; else why not."""
    try:
        entry = assembly.registries.runtimes.entry(name)
    except Exception as exc:  # UnknownName lists the installed runtimes
        return str(exc)
    try:
        runtime = entry.value(options, str(Path(assembly.config["data_dir"]) / "runtime" / "up"))
        if inspect.isawaitable(runtime):
            runtime = await runtime
    except Exception as exc:
        return f"cannot open runtime {name!r}: {exc}"
    try:
        await asyncio.wait_for(runtime.version(), PROBE_SECONDS)
    except Exception as exc:
        return getattr(exc, "message", None) or str(exc) or type(exc).__name__
    finally:
        await runtime.close()
    return None


def private_containerd(data_dir: Path) -> PrivateContainerd:
    return PrivateContainerd(Path(data_dir) / "containerd")


def options_owner(config: Config, forced: str | None) -> str:
    """The runtime ``runtime.options`` are meant for: the one ``runtime.name`` names
    when it was set, else the one ``--runtime`` forces (``navarch up --runtime docker
    --set runtime.options=…`` means Docker's options), else ``runtime.name``'s default."""
    if forced and config.sources["runtime.name"] == "default":
        return forced
    return str(config["runtime.name"])


def unused_options(
    config: Config, forced: str | None, previous: UpState | None, choice: RuntimeChoice
) -> str | None:
    """Why the ``runtime.options`` the user set are not what the cluster runs with, in
    words that say what to do; None when they are used (or none were set)."""
    configured = dict(config["runtime.options"])
    where = config.sources["runtime.options"]
    if where == "default" or not configured or choice.options == configured:
        return None
    if previous is not None:
        return (
            f"runtime.options (from {where}) are not used: this cluster runs on "
            f"{choice.name} with the options it was started with ({choice.options}); run "
            "`navarch down` first to start it afresh with other options"
        )
    owner = options_owner(config, forced)
    if owner != choice.name:
        return (
            f"runtime.options (from {where}) are for runtime {owner!r} (runtime.name, from "
            f"{config.sources['runtime.name']}), and navarch up runs on {choice.name}: they "
            f"are not used. To use them, set runtime.name={choice.name} as well (or pass "
            f"--runtime {choice.name})"
        )
    if choice.private_containerd and "socket" in configured:
        return (
            f"runtime.options.socket {configured['socket']} (from {where}) does not answer: "
            f"navarch up started the cluster's own containerd at {choice.options['socket']} "
            "instead. Start containerd on that socket first, or leave runtime.options.socket "
            "out"
        )
    return None


async def choose_runtime(
    assembly: Assembly, forced: str | None, previous: UpState | None
) -> RuntimeChoice:
    """The runtime to run on (starting the cluster's own containerd when that is it).
    A warning says so when the ``runtime.options`` the user set are not used."""
    # A cluster `navarch down` emptied runs nothing: its runtime binds no longer.
    binding = previous if previous is not None and not previous.containers_removed else None
    choice = await _choose_runtime(assembly, forced, binding)
    problem = unused_options(assembly.config, forced, binding, choice)
    if problem is not None:
        log.bind(setting="runtime.options").warning(problem)
    return choice


async def _choose_runtime(
    assembly: Assembly, forced: str | None, previous: UpState | None
) -> RuntimeChoice:
    config = assembly.config
    configured = dict(config["runtime.options"])
    owner = options_owner(config, forced)
    data_dir = Path(config["data_dir"])
    if previous is not None:
        if forced and forced != previous.runtime:
            raise StartupError(
                f"this cluster ({data_dir}) runs on {previous.runtime}; its containers are "
                f"there. Run `navarch down` first to move it to {forced}, or use another "
                "--data-dir"
            )
        choice = RuntimeChoice(
            previous.runtime,
            dict(previous.runtime_options),
            previous.private_containerd,
            "the runtime this cluster was started on",
        )
        return await start_runtime(assembly, choice)
    if forced == "sim":
        options = configured if owner == "sim" else {}
        return RuntimeChoice("sim", options, why="--runtime sim (simulated containers)")
    tried: list[str] = []
    if forced in (None, "containerd"):
        options = configured if owner == "containerd" else {}
        problem = await answers(assembly, "containerd", options)
        if problem is None:
            return RuntimeChoice("containerd", options, why="containerd answers on its socket")
        tried.append(f"containerd on its configured socket: {problem}")
        cannot = containerd_problem()
        if cannot is None:
            choice = RuntimeChoice(
                "containerd",
                {**options, "socket": str(private_containerd(data_dir).socket_path)},
                True,
                "no containerd answered; started the cluster's own",
            )
            return await start_runtime(assembly, choice)
        tried.append(f"a containerd of the cluster's own: {cannot}")
    if forced in (None, "docker"):
        options = configured if owner == "docker" else {}
        problem = await answers(assembly, "docker", options)
        if problem is None:
            return RuntimeChoice("docker", options, why="Docker answers on its socket")
        tried.append(f"docker: {problem}")
    if forced not in (None, "containerd", "docker"):
        options = configured if owner == forced else {}
        problem = await answers(assembly, forced, options)
        if problem is None:
            return RuntimeChoice(forced, options, why=f"--runtime {forced}")
        tried.append(f"{forced}: {problem}")
    raise StartupError(
        "no container runtime can be had:\n  - "
        + "\n  - ".join(tried)
        + "\nInstall containerd and runc (Debian: apt-get install containerd runc) and run "
        "navarch up as root, or start Docker (apt-get install docker.io); "
        "`navarch up --runtime sim` runs a cluster of simulated containers without either"
    )


async def start_runtime(assembly: Assembly, choice: RuntimeChoice) -> RuntimeChoice:
    """Start the cluster's own containerd when the choice needs it; wait until the
    runtime answers."""
    if choice.private_containerd:
        containerd = private_containerd(Path(assembly.config["data_dir"]))
        try:
            containerd.start()
        except (RuntimeError, OSError) as exc:
            raise StartupError(f"cannot start the cluster's containerd: {exc}") from None
        deadline = asyncio.get_running_loop().time() + CONTAINERD_START_SECONDS
        while True:
            problem = await answers(assembly, choice.name, choice.options)
            if problem is None:
                return choice
            if containerd.exited() or asyncio.get_running_loop().time() > deadline:
                raise StartupError(
                    f"the cluster's containerd did not answer ({problem}); see "
                    f"{containerd.log_path}"
                )
            await asyncio.sleep(0.2)
    problem = await answers(assembly, choice.name, choice.options)
    if problem is not None:
        raise StartupError(
            f"runtime {choice.name} ({choice.why}) does not answer: {problem}; start it, or "
            "run `navarch down` and start afresh"
        )
    return choice
