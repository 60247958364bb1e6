"""What every navctl command shares: the global flags (kubeconfig, context,
namespace), the API connection, resource names as kubectl accepts them, and running
a command with its errors turned into one clear line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import attrs

from navarch.cli.navctl.failures import CliError, describe_api_error
from navarch.client.errors import ApiException

if TYPE_CHECKING:
    from navarch.cli.navctl.discovery import Discovery
    from navarch.cli.navctl.transport import Transport
    from navarch.client.client import Client
    from navarch.client.kubeconfig import KubeConfig
    from navarch.resources.spec import Resource

# What a verb needs is imported where it is used, not here: every verb imports this
# module, and `navctl version` must not pay for aiohttp or the object model.

Command = Callable[["Session", argparse.Namespace], Awaitable[int]]

# One retry: a CLI should say at once that nothing answers, not back off for minutes.
CLI_RETRIES = 1


def _global_flags(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--kubeconfig",
        default=default,
        help="kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)",
    )
    group.add_argument("--context", default=default, help="kubeconfig context to use")
    group.add_argument(
        "-n", "--namespace", default=default, help="namespace (default: the context's)"
    )
    group.add_argument(
        "--request-timeout",
        type=float,
        default=argparse.SUPPRESS if suppress else 30.0,
        metavar="SECONDS",
        help="give up on one API call after this long (default 30)",
    )


def add_global_flags(parser: argparse.ArgumentParser) -> None:
    """On the top-level parser: ``navctl -n kube-system get pods``."""
    _global_flags(parser, suppress=False)


def add_command(
    commands: argparse._SubParsersAction,
    name: str,
    run: Command,
    *,
    help: str,
    aliases: tuple[str, ...] = (),
    **kwargs: Any,
) -> argparse.ArgumentParser:
    """Add a command whose parser also takes the global flags after the verb
    (``navctl get pods -n kube-system``), as kubectl does."""
    parser = commands.add_parser(name, help=help, aliases=list(aliases), **kwargs)
    _global_flags(parser, suppress=True)
    parser.set_defaults(run=run)
    return parser


def add_subcommand_group(
    commands: argparse._SubParsersAction, name: str, *, help: str
) -> argparse._SubParsersAction:
    """A verb with actions (``navctl rollout status …``, ``navctl config view``)."""
    parser = commands.add_parser(name, help=help)
    return parser.add_subparsers(dest=f"{name}_action", required=True, metavar="ACTION")


@attrs.define
class Session:
    """The connection and defaults one navctl invocation works with."""

    kubeconfig_path: str | None
    context: str | None
    namespace_flag: str | None
    timeout: float
    _config: KubeConfig | None = None
    _client: Client | None = None
    _transport: Transport | None = None
    _discovery: Discovery | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Session:
        return cls(args.kubeconfig, args.context, args.namespace, args.request_timeout)

    @property
    def config(self) -> KubeConfig:
        if self._config is None:
            from navarch.client.kubeconfig import KubeConfigError, load_kubeconfig

            try:
                self._config = load_kubeconfig(self.kubeconfig_path, self.context)
            except KubeConfigError as exc:
                raise CliError(
                    f"{exc}\nStart a cluster with `navarch up` (it writes an admin "
                    "kubeconfig and prints its path), then pass --kubeconfig FILE or set "
                    "KUBECONFIG."
                ) from None
        return self._config

    @property
    def namespace(self) -> str:
        """-n, else the context's namespace, else ``default``."""
        return self.namespace_flag or self.config.namespace or "default"

    @property
    def client(self) -> Client:
        """The API client, for streams (watch, logs, exec) and typed calls."""
        if self._client is None:
            from navarch.client.client import Client

            self._client = Client(self.config, retries=CLI_RETRIES, timeout=self.timeout)
        return self._client

    @property
    def transport(self) -> Transport:
        """Plain requests without aiohttp (see :mod:`navarch.cli.navctl.transport`)."""
        if self._transport is None:
            from navarch.cli.navctl.transport import Transport

            self._transport = Transport(self.config, self.timeout)
        return self._transport

    @property
    def discovery(self) -> Discovery:
        """The server's resources, for kinds navctl's own registry does not know
        (:mod:`navarch.cli.navctl.discovery`); fetched on first need, kept for the run."""
        if self._discovery is None:
            from navarch.cli.navctl.discovery import Discovery

            self._discovery = Discovery(self._discover)
        return self._discovery

    def _discover(self, path: str) -> Any:
        from navarch.cli.navctl.transport import HandOff
        from navarch.client.errors import NotFound

        try:
            return self.transport.get_now(path)
        except NotFound:
            return None  # a group version no longer served (a CRD just deleted)
        except HandOff as exc:
            raise CliError(f"couldn't get the server's resource list: {exc}") from None

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        if self._client is not None:
            await self._client.close()

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """A raw API call (wire dicts in and out), as ``Client.request`` makes it: the
        first attempt without aiohttp; one that settles nothing (no answer, or an
        answer the client retries) goes to the Client after its back-off, and the
        Client retries it as it retries any call."""
        from navarch.cli.navctl.transport import HandOff

        try:
            return await self.transport.request(method, path, **kwargs)
        except HandOff as handoff:
            from navarch.client.client import retry_delay

            await asyncio.sleep(retry_delay(0, handoff.retry_after))
            return await self.client.request(method, path, **kwargs)


def resource_path(res: Resource, namespace: str | None, name: str = "", sub: str = "") -> str:
    """The URL path of a collection, an object or its subresource."""
    return res.url_path(namespace, name, sub)


def find_resource(word: str) -> Resource:
    """A resource by plural, singular, short name or kind, case-insensitively, as
    kubectl accepts them (``po``, ``pod``, ``pods``, ``Pod``, ``deployments.apps``):
    from navctl's registry, else from the server's discovery (a kind served only
    there: a plugin installed on the server, a CustomResourceDefinition)."""
    from navarch.cli.navctl.discovery import CURRENT
    from navarch.resources.registry import registry

    res = registry().resolve(word)
    if res is not None:
        return res
    discovery = CURRENT.get()
    served = list(registry())
    if discovery is not None:
        res = discovery.resolve(word)
        if res is not None:
            return res
        served += [r for r in discovery if registry().get(r.group, r.version, r.plural) is None]
    known = ", ".join(
        f"{r.plural} ({', '.join(r.short_names)})" if r.short_names else r.plural for r in served
    )
    raise CliError(f'the server doesn\'t have a resource type "{word}"; known types: {known}')


def dispatch(args: argparse.Namespace) -> int:
    """Run the chosen command; errors a user can act on become one line on stderr."""
    session = Session.from_args(args)

    async def run() -> int:
        from navarch.cli.navctl.discovery import CURRENT

        # What find_resource consults for kinds only the server knows (asked on first
        # need). Set in the command's task, so it ends with the run (main() called
        # in-process, twice, must not see the first run's server).
        CURRENT.set(session.discovery)
        try:
            return await args.run(session, args)
        finally:
            await session.close()

    try:
        return asyncio.run(run())
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
    except ApiException as exc:
        print(describe_api_error(exc), file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `navctl get pods | head`
        return 0
    return 1
