"""``navarch``: run Navarch's daemons and inspect an installation.

navarch version
navarch plugins [-o json]
navarch config show [-o yaml|json]
navarch config check
navarch server | scheduler | controllers | agent [--runtime NAME] [--simulate N] [--cleanup]
navarch up [--nodes N] [--runtime NAME] | join NAME | down [--purge] [-v]
"""

from __future__ import annotations

import argparse
import sys

import orjson
import yaml

from navarch import __version__
from navarch.apiserver import server
from navarch.assembly import assemble
from navarch.cli.common import (
    add_global_flags,
    config_from_args,
    run,
    run_daemon,
    until_stopped,
)
from navarch.cli.up import add_up_commands, down, join, up
from navarch.config import ConfigError, reference_table
from navarch.plugins import describe_plugins


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="navarch",
        description="Navarch daemons and administration. Use navctl to manage workloads.",
    )
    add_global_flags(parser)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("version", help="print the version")
    plugins = commands.add_parser("plugins", help="list installed plugins and their hooks")
    plugins.add_argument("-o", "--output", choices=("table", "json"), default="table")
    config = commands.add_parser("config", help="inspect the effective configuration")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    show = config_commands.add_parser("show", help="print the effective configuration")
    show.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml")
    config_commands.add_parser(
        "check", help="validate the configuration and resolve every named plugin part"
    )
    config_commands.add_parser(
        "reference", help="print every setting, and installed plugins' options, as Markdown"
    )
    server = commands.add_parser("server", help="run the API server on the configured store")
    server.add_argument(
        "--print-kubeconfig",
        action="store_true",
        help="print a kubeconfig with the admin token and exit (creates the CA and the "
        "admin token on a fresh data directory; never touches a running server's files)",
    )
    commands.add_parser("scheduler", help="run the scheduler against the API server")
    commands.add_parser(
        "controllers",
        help="run the controller manager (ReplicaSets, Deployments, node lifecycle, "
        "garbage collection …) against the API server",
    )
    agent = commands.add_parser(
        "agent", help="run the node agent: register this node and run the pods bound to it"
    )
    agent.add_argument("--runtime", help="container runtime by name (sets runtime.name)")
    agent.add_argument("--node-name", help="the Node's name (sets agent.node_name)")
    agent.add_argument("--kubeconfig", help="kubeconfig with a node token (sets kubeconfig)")
    agent.add_argument(
        "--simulate",
        type=int,
        metavar="N",
        help="run N agents in this process (nodes <agent.simulate_prefix>-0 …), usually "
        "with --runtime sim",
    )
    agent.add_argument(
        "--cleanup",
        action="store_true",
        help="remove the Service proxy's and the NetworkPolicies' nftables tables (ip "
        "navarch-proxy, inet navarch-policy) from the network namespace this runs in, and "
        "exit (kube-proxy --cleanup); a stopping agent leaves them, as kube-proxy does",
    )
    add_up_commands(commands)
    token = commands.add_parser("token", help="manage the API server's bearer tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    add = token_commands.add_parser("add", help="add a user and print its new token")
    add.add_argument("--role", required=True, choices=("admin", "node", "viewer"))
    add.add_argument("--name", required=True, help="user name; for a node, the Node's name")
    add.add_argument(
        "-o",
        "--output",
        choices=("token", "kubeconfig"),
        default="token",
        help="print the token (default), or a kubeconfig holding it (for an agent: "
        "navarch agent --kubeconfig FILE)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run("navarch", lambda: _dispatch(args))


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "version":
        print(f"navarch {__version__}")
        return 0
    if args.command == "agent" and args.cleanup:
        return _cleanup_tables()
    if args.command == "agent":
        args.set = [*_agent_flags(args), *args.set]
    config = config_from_args(args)
    if args.command == "plugins":
        return _plugins(assemble(config), args.output)
    if args.command == "server":
        return _server(config, args.print_kubeconfig)
    if args.command == "scheduler":
        return _scheduler(config)
    if args.command == "controllers":
        return _controllers(config)
    if args.command == "agent":
        return _agent(config)
    if args.command == "up":
        return up(config, args)
    if args.command == "down":
        return down(config, args)
    if args.command == "join":
        return join(config, args)
    if args.command == "token":
        token = server.token_file(config).add(args.role, args.name)
        if args.output == "kubeconfig":
            user = f"system:node:{args.name}" if args.role == "node" else args.name
            document = server.kubeconfig(config, token, user=user)
            sys.stdout.write(yaml.safe_dump(document, sort_keys=False))
        else:
            print(token)
        return 0
    if args.config_command == "reference":
        print(reference_table())
        options = assemble(config).options_reference()  # what installed plugins declare
        if options:
            print("\n" + options)
        return 0
    if args.config_command == "show":
        return _config_show(config, args.output)
    assembly = assemble(config)
    assembly.check()
    print("configuration is valid; every named part is installed")
    return 0


def _cleanup_tables() -> int:
    import asyncio

    from navarch.netpol.ruleset import Nft as PolicyNft
    from navarch.netpol.ruleset import NftError as PolicyNftError
    from navarch.proxy.apply import NftError
    from navarch.proxy.proxier import remove_rules

    try:
        asyncio.run(remove_rules())
        asyncio.run(PolicyNft().apply(None))
    except (NftError, PolicyNftError) as exc:
        print(f"navarch: could not remove the agent's nftables tables: {exc}", file=sys.stderr)
        return 1
    print(
        "removed the Service proxy's and the NetworkPolicies' tables "
        "(ip navarch-proxy, inet navarch-policy), where there were any"
    )
    return 0


def _server(config, print_kubeconfig: bool) -> int:
    if print_kubeconfig:
        tokens = server.token_file(config)
        sys.stdout.write(
            yaml.safe_dump(
                server.kubeconfig(config, tokens.token_for("admin") or ""), sort_keys=False
            )
        )
        return 0
    assembly = assemble(config)
    assembly.check(["store"])
    return run_daemon(lambda stop: server.serve(assembly, stop=stop))


def _scheduler(config) -> int:
    from navarch.scheduler.daemon import run_scheduler

    assembly = assemble(config)
    assembly.check(["scheduler"])
    _check_election(config)
    return run_daemon(lambda stop: until_stopped(run_scheduler(assembly), stop))


def _check_election(config) -> None:
    from navarch.client.leaderelection import ElectionTimes

    try:
        ElectionTimes.from_config(config)
    except ValueError as exc:
        raise ConfigError(f"leader_election: {exc}") from None


def _controllers(config) -> int:
    from navarch.controllers.daemon import run_controller_manager

    assembly = assemble(config)
    assembly.check(["controllers"])
    _check_election(config)
    return run_daemon(lambda stop: until_stopped(run_controller_manager(assembly), stop))


def _agent_flags(args: argparse.Namespace) -> list[str]:
    """The agent's own flags as ``--set`` overrides (explicit --set still wins)."""
    keys = {
        "runtime": "runtime.name",
        "node_name": "agent.node_name",
        "kubeconfig": "kubeconfig",
        "simulate": "agent.simulate",
    }
    return [f"{key}={getattr(args, attr)}" for attr, key in keys.items() if getattr(args, attr)]


def _agent(config) -> int:
    from navarch.agent.daemon import identities, run_agents

    assembly = assemble(config)
    assembly.check(["runtime"])
    assembly.runtime()  # an empty runtime.name is an error here: say which are installed
    identities(assembly)  # a bad agent.taints entry fails now, naming the setting
    return run_daemon(lambda stop: until_stopped(run_agents(assembly), stop))


def _plugins(assembly, output: str) -> int:
    infos = describe_plugins(assembly.pm)
    provided: dict[str, list[str]] = {}
    for registry in assembly.registries.all():
        for entry in registry:
            provided.setdefault(entry.plugin, []).append(f"{registry.kind} {entry.name}")
    resources = assembly.registries.resources
    for res in resources:
        provided.setdefault(resources.plugin_of(res), []).append(f"resource {res.group_resource}")
    if output == "json":
        rows = [
            {
                "name": i.name,
                "distribution": i.distribution,
                "version": i.version,
                "source": i.source,
                "hooks": list(i.hooks),
                "provides": provided.get(i.name, []),
            }
            for i in infos
        ]
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    for info in infos:
        print(f"{info.name}  ({info.distribution} {info.version})")
        print(f"    from:     {info.source}")
        print(f"    hooks:    {', '.join(info.hooks) or '-'}")
        if info.name in provided:
            print(f"    provides: {', '.join(provided[info.name])}")
    return 0


def _config_show(config, output: str) -> int:
    if output == "json":
        body = {"values": config.nested(), "sources": dict(config.sources)}
        sys.stdout.write(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    print(f"# effective configuration (file: {config.file or 'none'})")
    for key, value in config.values.items():
        rendered = yaml.safe_dump({key: value}, default_flow_style=True).strip()[1:-1]
        print(f"{rendered:<48} # {config.sources[key]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
