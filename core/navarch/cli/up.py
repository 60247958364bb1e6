"""``navarch up`` and ``navarch down``: the one-command cluster (core/navarch/up/)."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import attrs

from navarch.assembly import assemble
from navarch.cli.common import run_daemon
from navarch.config import Config
from navarch.logs import add_file_log, configure_logging
from navarch.up.cluster import DEFAULT_NODES, UpReady, run_up
from navarch.up.demo import DEMO_IMAGES

LOG_FILE = "navarch.log"


def add_up_commands(commands: argparse._SubParsersAction) -> None:
    up = commands.add_parser(
        "up",
        help="run a whole cluster on this machine in one process: API server, scheduler, "
        "controllers and N node agents on a container runtime found here",
    )
    up.add_argument(
        "--nodes", type=int, default=DEFAULT_NODES, help=f"node agents (default {DEFAULT_NODES})"
    )
    up.add_argument(
        "--runtime",
        help="containerd, docker or sim (default: a running containerd, else one of the "
        "cluster's own when containerd is installed, else a running Docker)",
    )
    join = commands.add_parser(
        "join",
        help="run one more node for the navarch up cluster of this data directory, in "
        "this process (kill it to see its pods move)",
    )
    join.add_argument("name", help="the new node's name, e.g. node-4")
    down = commands.add_parser("down", help="stop a navarch up cluster and remove its containers")
    down.add_argument(
        "--purge",
        action="store_true",
        help="also remove the demo images and the data directory (store, keys, containerd)",
    )
    down.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log each step on the terminal (INFO); by default it shows warnings only",
    )


def up_data_dir(config: Config) -> Config:
    """Root keeps the configured data directory (/var/lib/navarch by default); another
    user, left with the default, gets ~/.local/share/navarch, which it can write."""
    if os.geteuid() == 0 or config.sources["data_dir"] != "default":
        return config
    home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    values = {**config.values, "data_dir": str(home / "navarch")}
    return attrs.evolve(config, values=values, sources={**config.sources, "data_dir": "navarch up"})


def up(config: Config, args: argparse.Namespace) -> int:
    if args.nodes < 1:
        print("navarch: error: --nodes must be at least 1", file=sys.stderr)
        return 2
    config = up_data_dir(config)
    data_dir = Path(config["data_dir"])
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    log_file = data_dir / LOG_FILE
    # The terminal shows warnings and the banner; everything else goes to the log file,
    # unless a log level was asked for.
    if config.sources["log.level"] == "default":
        configure_logging("WARNING", config["log.format"])
    add_file_log(str(log_file), config["log.level"], config["log.format"])
    return run_daemon(
        lambda stop: run_up(
            assemble,
            config,
            nodes=args.nodes,
            forced_runtime=args.runtime,
            stop=stop,
            on_ready=print_banner,
            log_file=log_file,
        )
    )


def join(config: Config, args: argparse.Namespace) -> int:
    from navarch.agent.daemon import run_agents
    from navarch.cli.common import until_stopped
    from navarch.up.join import (
        enter_lan,
        forget_pid,
        join_config,
        record_pid,
        run_joined,
        with_settings,
    )
    from navarch.up.nodes import policy_kubeconfig
    from navarch.up.pieces import node_networking

    cluster = up_data_dir(config)
    config = join_config(cluster, args.name)
    assemble(config).check(["runtime"])
    joined = enter_lan(Path(cluster["data_dir"]), args.name)
    if joined is not None:  # the settings the cluster's own nodes get, as the user left them
        networking = node_networking(assemble(cluster), [joined.netns])[args.name]
        settings = {**networking.settings, "agent.port": 10250}
        if networking.network != "none" and not config["agent.network_policy_kubeconfig"]:
            path = policy_kubeconfig(cluster, args.name, Path(config["data_dir"]))
            settings["agent.network_policy_kubeconfig"] = str(path)
        config = with_settings(config, settings)
    assembly = assemble(config)
    directory = Path(config["data_dir"])
    record_pid(directory)
    where = f", at {joined.netns.address} in {joined.netns.name}" if joined else ""
    print(
        f"{args.name} joins the cluster on {config['runtime.name']} (state in {directory}"
        f"{where}); Ctrl-C stops it, kill -9 makes it die as a machine does",
        flush=True,
    )
    try:
        return run_daemon(
            lambda stop: until_stopped(
                run_joined(run_agents(assembly), joined, int(config["api.port"])), stop
            )
        )
    finally:
        forget_pid(directory)


def down(config: Config, args: argparse.Namespace) -> int:
    import asyncio

    from navarch.up.down import run_down

    config = up_data_dir(config)
    # A command run at a terminal prints its result, not its log: warnings only, unless
    # -v or a log level was asked for.
    if args.verbose:
        configure_logging(_at_least_info(config["log.level"]), config["log.format"])
    elif config.sources["log.level"] == "default":
        configure_logging("WARNING", config["log.format"])
    result = asyncio.run(run_down(assemble, config, purge=args.purge))
    print(
        f"navarch down: removed {_count(result.containers, 'container')} and "
        f"{_count(result.sandboxes, 'pod sandbox', 'pod sandboxes')} of the cluster in "
        f"{result.data_dir}"
    )
    if result.purged:
        print(f"navarch down: removed {result.data_dir} and the demo images")
    else:
        print(
            "The objects stay in the store: `navarch up` runs them again; "
            "`navarch down --purge` forgets everything."
        )
    return 0


def print_banner(ready: UpReady) -> None:
    navctl = _tool("navctl")
    runtime = f"{ready.runtime.name} ({ready.runtime.why})" if ready.runtime.why else ""
    lines = [
        f"Navarch is up: {_count(len(ready.nodes), 'node')} ({', '.join(ready.nodes)}) "
        f"on {runtime}",
        f"  API server    {ready.server_url}",
        f"  kubeconfig    {ready.kubeconfig}   (navctl and kubectl read it)",
        f"  data          {ready.data_dir}",
    ]
    if ready.log_file is not None:
        lines.append(f"  log           {ready.log_file}")
    lines += [
        f"  demo images   {', '.join(DEMO_IMAGES)}   (on every node; no registry needed)",
        "",
        "Next, in another terminal:",
        f"  export KUBECONFIG={ready.kubeconfig}",
        f"  {navctl} get nodes",
        f"  {navctl} create deployment hello --image={DEMO_IMAGES[0]} --replicas=3 -- sleep 3600",
        f"  {navctl} get pods -o wide",
        "  (docs/tutorial.md goes on from here; examples/ holds more manifests)",
    ]
    if ready.forwarding:
        addresses = ", ".join(f"{node} {ip}" for node, ip in ready.node_addresses.items())
        lines += [
            "",
            f"Each node has a network namespace of its own ({addresses}); NodePort and",
            "LoadBalancer Services are forwarded to this machine's 127.0.0.1 at their nodePort.",
        ]
        if ready.pod_network == "none":
            lines.append(
                "  Pods have loopback only: no network plugin is installed (agent.network none)."
            )
        else:
            lines.append(
                f"  {navctl} apply -f examples/web.yaml    then  curl http://127.0.0.1:30080/"
            )
    lines += [
        "",
        "Ctrl-C stops the cluster; its containers keep running and the next `navarch up` "
        "adopts them.",
        "`navarch down` removes the containers; `navarch down --purge` also the data.",
    ]
    print("\n".join(lines), flush=True)


def _count(n: int, one: str, many: str | None = None) -> str:
    """``1 node``, ``3 nodes``."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _at_least_info(level: str) -> str:
    """``level`` when it shows INFO already (DEBUG, TRACE), else INFO."""
    verbose = ("TRACE", "DEBUG", "INFO")
    return level if level in verbose else "INFO"


def _tool(name: str) -> str:
    """``name`` when the shell finds this installation's copy, else its full path."""
    ours = Path(sys.argv[0]).resolve().parent / name
    found = shutil.which(name)
    if found and Path(found).resolve() == ours.resolve():
        return name
    return str(ours) if ours.exists() else name
