"""``navctl create``: POST objects from manifests (``-f``), or one object built from
flags as kubectl's ``create KIND`` builds it (deployment, namespace, configmap,
secret generic|docker-registry|tls, job, cronjob). An object that exists is refused
(kubectl's AlreadyExists); ``--dry-run=client|server`` writes nothing, ``-o`` prints
the object instead of the one-line report.

The objects themselves come from :mod:`navarch.cli.navctl.generators`; this module
reads the flags, asks the server for what a generator needs (the CronJob behind
``create job --from``), and writes the result.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from navarch.cli.navctl.failures import CliError, describe_api_error
from navarch.cli.navctl.manifests import add_file_flag, read_placed, with_namespace
from navarch.cli.navctl.session import Session, add_command, find_resource, resource_path
from navarch.client import ApiException

if TYPE_CHECKING:
    from navarch.resources.spec import Resource

DRY_RUN_MODES = ("none", "client", "server")
CREATE_OUTPUTS = ("yaml", "json", "name")

# A kind's builder: the resource word and the object the flags describe.
Builder = Callable[[Session, argparse.Namespace], Awaitable[tuple[str, dict[str, Any]]]]


def register(commands: argparse._SubParsersAction) -> None:
    create = add_command(
        commands, "create", run, help="create objects from manifests, or a named one"
    )
    add_file_flag(create, required=False)
    _output_flags(create, default=None)
    kinds = create.add_subparsers(dest="create_kind", metavar="KIND")

    def kind(name: str, builder: Builder, help: str, aliases: tuple[str, ...] = ()) -> Any:
        # Through add_command, so the global flags are taken after the kind too.
        parser = add_command(kinds, name, run, help=help, aliases=aliases)
        parser.set_defaults(build=builder)
        parser.add_argument("name", metavar="NAME")
        _output_flags(parser, default=argparse.SUPPRESS)
        return parser

    deployment = kind("deployment", _deployment, "a Deployment", ("deploy",))
    deployment.add_argument("--image", required=True, help="the container image")
    deployment.add_argument("--replicas", type=int, default=1, help="how many pods (default 1)")
    deployment.add_argument("--port", type=int, help="the container port to declare")
    _command_words(deployment)
    kind("namespace", _namespace, "a Namespace", ("ns",))

    configmap = kind(
        "configmap", _configmap, "a ConfigMap from literals, files or env files", ("cm",)
    )
    _data_sources(configmap)

    secrets = add_command(kinds, "secret", run, help="a Secret (generic, docker-registry, tls)")
    secret_types = secrets.add_subparsers(dest="secret_type", metavar="TYPE", required=True)
    generic = add_command(secret_types, "generic", run, help="from literals, files or env files")
    _secret_flags(generic, _secret_generic)
    _data_sources(generic)
    generic.add_argument("--type", help="the Secret's type (default: the server's, Opaque)")
    registry = add_command(
        secret_types, "docker-registry", run, help="credentials for pulling from a registry"
    )
    _secret_flags(registry, _secret_docker_registry)
    registry.add_argument(
        "--docker-server", default=None, help="the registry (default: Docker Hub's address)"
    )
    registry.add_argument("--docker-username", help="the user name for the registry")
    registry.add_argument("--docker-password", help="the password for the registry")
    registry.add_argument("--docker-email", default="", help="an e-mail address (optional)")
    registry.add_argument(
        "--from-file",
        action="append",
        default=[],
        metavar="[KEY=]PATH",
        help="an existing docker config file instead of the --docker-* flags",
    )
    tls = add_command(secret_types, "tls", run, help="a certificate and its private key")
    _secret_flags(tls, _secret_tls)
    tls.add_argument("--cert", required=True, help="PEM certificate file")
    tls.add_argument("--key", required=True, help="PEM private key file (unencrypted)")

    job = kind("job", _job, "a Job running an image, or from a CronJob's template")
    job.add_argument("--image", help="the container image")
    job.add_argument(
        "--from",
        dest="from_object",
        metavar="cronjob/NAME",
        help="copy the job template of this CronJob (kubectl's manual run)",
    )
    _command_words(job)
    cronjob = kind("cronjob", _cronjob, "a CronJob running an image on a schedule", ("cj",))
    cronjob.add_argument("--image", required=True, help="the container image")
    cronjob.add_argument(
        "--schedule", required=True, help='when, in cron format ("*/5 * * * *", "@hourly")'
    )
    cronjob.add_argument(
        "--restart",
        choices=("OnFailure", "Never"),
        default="OnFailure",
        help="the pods' restart policy (default OnFailure)",
    )
    _command_words(cronjob)


def _output_flags(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument(
        "--dry-run",
        nargs="?",
        const="client",
        choices=DRY_RUN_MODES,
        default=default,
        help="client: only print the object; server: the server checks it but keeps nothing",
    )
    parser.add_argument(
        "-o", "--output", choices=CREATE_OUTPUTS, default=default, help="print the object"
    )


def _command_words(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "command",
        nargs="*",
        metavar="-- COMMAND [ARG…]",
        help="the container's command, after -- (as kubectl create)",
    )
    parser.set_defaults(takes_command=True)


def _data_sources(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from-literal", action="append", default=[], metavar="KEY=VALUE", help="a key and value"
    )
    parser.add_argument(
        "--from-file",
        action="append",
        default=[],
        metavar="[KEY=]PATH",
        help="a file's content (key: its name unless given); a directory: each file in it",
    )
    parser.add_argument(
        "--from-env-file",
        action="append",
        default=[],
        metavar="PATH",
        help="KEY=VALUE lines (not with --from-file or --from-literal)",
    )


def _secret_flags(parser: argparse.ArgumentParser, builder: Builder) -> None:
    parser.set_defaults(build=builder)
    parser.add_argument("name", metavar="NAME")
    _output_flags(parser, default=argparse.SUPPRESS)


# --- running -----------------------------------------------------------------------------


async def run(session: Session, args: argparse.Namespace) -> int:
    build: Builder | None = getattr(args, "build", None)
    if build is not None and args.filename:
        raise CliError(
            "give either -f FILE or a kind to create (deployment, configmap, …), not both"
        )
    if build is not None:
        word, obj = await build(session, args)
        if args.dry_run == "client" and args.output in ("yaml", "json"):
            # what kubectl prints offline: no server is asked what the kind is
            from navarch.cli.navctl.printing import print_objects

            print_objects([obj], args.output, sys.stdout, single=True)
            return 0
        return await _create_objects(session, args, [(find_resource(word), obj, "")])
    if not args.filename:
        raise CliError(
            "create needs -f FILE (a manifest) or a kind: `navctl create deployment NAME "
            "--image=IMAGE`, `navctl create configmap NAME --from-literal=KEY=VALUE`, …"
        )
    placed_docs = read_placed(session, args.filename)
    return await _create_objects(
        session, args, [(res, obj, doc.where) for doc, res, _, obj in placed_docs]
    )


async def _create_objects(
    session: Session, args: argparse.Namespace, objects: list[tuple[Resource, dict[str, Any], str]]
) -> int:
    from navarch.cli.navctl.printing import object_name, print_objects

    dry_run = args.dry_run or "none"
    failed = False
    for res, obj, where in objects:
        if res.namespaced and (dry_run != "client" or session.namespace_flag):
            obj = with_namespace(obj, obj["metadata"].get("namespace") or session.namespace)
        ns = (obj["metadata"].get("namespace") or session.namespace) if res.namespaced else None
        written = obj
        if dry_run != "client":
            params = {"dryRun": "All"} if dry_run == "server" else None
            try:
                written = await session.request(
                    "POST", resource_path(res, ns), body=obj, params=params
                )
            except ApiException as exc:
                suffix = f" (from {where})" if where else ""
                print(f"{describe_api_error(exc)}{suffix}", file=sys.stderr)
                failed = True
                continue
        if args.output:
            print_objects([written], args.output, sys.stdout, single=True)
            continue
        note = {"client": " (dry run)", "server": " (server dry run)"}.get(dry_run, "")
        print(f"{object_name(res, obj['metadata']['name'])} created{note}")
    return 1 if failed else 0


# --- the kinds -------------------------------------------------------------------------------


def _command(args: argparse.Namespace) -> list[str]:
    return args.command[1:] if args.command[:1] == ["--"] else list(args.command)


async def _deployment(session: Session, args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    from navarch.cli.navctl.generators.workloads import deployment_manifest

    obj = deployment_manifest(args.name, args.image, args.replicas, args.port, _command(args))
    return "deployments", obj


async def _namespace(session: Session, args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    return "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": args.name}}


async def _configmap(session: Session, args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    from navarch.cli.navctl.generators import configuration

    entries = configuration.gather(
        "ConfigMap", args.name, args.from_literal, args.from_file, args.from_env_file
    )
    return "configmaps", configuration.configmap_manifest(args.name, entries)


async def _secret_generic(session: Session, args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    from navarch.cli.navctl.generators import configuration

    entries = configuration.gather(
        "Secret", args.name, args.from_literal, args.from_file, args.from_env_file
    )
    return "secrets", configuration.secret_manifest(args.name, entries, args.type)


async def _secret_docker_registry(
    session: Session, args: argparse.Namespace
) -> tuple[str, dict[str, Any]]:
    from navarch.cli.navctl.generators import configuration

    if args.from_file:
        entries = configuration.gather("Secret", args.name, [], args.from_file, [])
    else:
        missing = [
            flag
            for flag, value in (
                ("--docker-username", args.docker_username),
                ("--docker-password", args.docker_password),
            )
            if not value
        ]
        if missing:
            raise CliError(
                f"missing {' and '.join(missing)}: give the registry's credentials "
                "(or --from-file=PATH of a docker config file)"
            )
        server = args.docker_server or configuration.DOCKER_HUB
        entries = {
            configuration.DOCKER_CONFIG_KEY: configuration.docker_config_json(
                server, args.docker_username, args.docker_password, args.docker_email
            )
        }
    obj = configuration.secret_manifest(args.name, entries, configuration.DOCKER_CONFIG_JSON)
    return "secrets", obj


async def _secret_tls(session: Session, args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    from navarch.cli.navctl.generators import configuration

    entries = configuration.tls_pair(args.cert, args.key)
    return "secrets", configuration.secret_manifest(args.name, entries, configuration.TLS_TYPE)


async def _job(session: Session, args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    from navarch.cli.navctl.generators import workloads

    command = _command(args)
    if bool(args.image) == bool(args.from_object):
        raise CliError(
            "--image and --from are mutually exclusive"
            if args.image
            else "either --image or --from must be specified"
        )
    if args.image:
        return "jobs", workloads.job_manifest(args.name, args.image, command)
    if command:
        raise CliError("cannot specify --from and command")
    kind, slash, source = args.from_object.partition("/")
    res = find_resource(kind) if slash and source else None
    if res is None or (res.group, res.kind) != ("batch", "CronJob"):
        raise CliError(
            f'--from must name an existing cronjob as cronjob/NAME, not "{args.from_object}"'
        )
    cronjob = await session.request("GET", resource_path(res, session.namespace, source))
    return "jobs", workloads.job_from_cronjob(args.name, cronjob)


async def _cronjob(session: Session, args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    from navarch.cli.navctl.generators.workloads import cronjob_manifest

    obj = cronjob_manifest(args.name, args.image, args.schedule, _command(args), args.restart)
    return "cronjobs", obj
