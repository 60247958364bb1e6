"""Running the API server: store from the configuration, tokens, bootstrap namespaces,
the listening socket, the kubeconfig file, and an orderly stop.

Every start-up failure a user can act on becomes a one-line
:class:`navarch.startup.StartupError` (exit status 1) or
:class:`navarch.config.ConfigError` (exit status 2); see docs/operations.md.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import socket
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from loguru import logger

from navarch.apiserver import auth, errors
from navarch.apiserver.app import Api, ServerSettings
from navarch.apiserver.datadir import init_lock, make_private_dir, write_atomically
from navarch.apiserver.pki import Pki, PkiError, ServingCertificate
from navarch.apiserver.serviceallocation import parse_port_range
from navarch.assembly import Assembly
from navarch.config import Config, ConfigError
from navarch.resources.core import NAMESPACES
from navarch.resources.core.services import SERVICES
from navarch.startup import (
    StartupError,
    bind_error,
    data_dir_error,
    store_error,
    unresolvable_address,
)
from navarch.store import StoreError

log = logger.bind(component="apiserver")
BOOTSTRAP_NAMESPACES = ("default", "kube-system", "kube-public", auth.NODE_LEASE_NAMESPACE)
_WILDCARDS = ("0.0.0.0", "::")
# How long a stopping server lets open requests finish before closing their
# connections. Watches end at once (Api.begin_shutdown); this bounds the rest.
SHUTDOWN_TIMEOUT_SECONDS = 3.0


def token_file(config: Config) -> auth.TokenFile:
    """The token file, created with an admin token on first use (under the data
    directory's lock, so processes starting together agree on one admin token). It
    always holds the API server's own user, which it presents to node agents."""
    data_dir = Path(config["data_dir"])
    try:
        with init_lock(data_dir):
            tokens = auth.TokenFile(data_dir / "tokens.csv").load_or_create()
            tokens.ensure(auth.ADMIN, auth.APISERVER_USER)
            return tokens
    except OSError as exc:
        raise data_dir_error(data_dir, exc) from None


def advertise_address(config: Config) -> str:
    """The address clients are told to use (kubeconfigs, discovery).

    As kube-apiserver's ``--advertise-address``: the setting if given; else the
    listening address when it is a concrete one; else (0.0.0.0 or ::) the address of
    the interface holding the default route, so that a kubeconfig copied to a worker
    names an address the worker can reach and the certificate carries.
    """
    if config["api.advertise_address"]:
        return config["api.advertise_address"]
    address = config["api.address"]
    if address not in _WILDCARDS:
        return address
    return default_route_address(ipv6=address == "::")


def default_route_address(*, ipv6: bool = False) -> str:
    """The local address of the default route's interface; 127.0.0.1 if there is none.

    Connecting a UDP socket sends nothing: the kernel only picks the route and the
    source address it would use to reach a documentation address (RFC 5737 / 3849).
    """
    probes = [(socket.AF_INET, "192.0.2.1")]
    if ipv6:
        probes.insert(0, (socket.AF_INET6, "2001:db8::1"))
    for family, probe in probes:
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.connect((probe, 9))
                return sock.getsockname()[0]
        except OSError:
            continue
    log.warning("no default route: advertising 127.0.0.1; set api.advertise_address")
    return "127.0.0.1"


def server_url(config: Config) -> str:
    address = advertise_address(config)
    host = f"[{address}]" if ":" in address else address
    scheme = "https" if config["api.tls"] else "http"
    return f"{scheme}://{host}:{config['api.port']}"


def serving_hosts(config: Config) -> list[str]:
    """Every name the serving certificate carries: loopback, the listening and the
    advertised address, and ``api.cert_sans``."""
    address = config["api.address"]
    return [
        "127.0.0.1",
        "::1",
        "localhost",
        *([address] if address not in _WILDCARDS else []),
        advertise_address(config),
        *config["api.cert_sans"],
    ]


def pki(config: Config) -> Pki:
    return Pki(Path(config["data_dir"]) / "pki")


def ca_pem(config: Config) -> bytes:
    """The cluster CA (created if missing; the serving certificate is never touched)."""
    data_dir = Path(config["data_dir"])
    try:
        return pki(config).ensure_ca().ca_cert.read_bytes()
    except PkiError as exc:
        raise StartupError(str(exc)) from None
    except OSError as exc:
        raise data_dir_error(data_dir, exc) from None


def kubeconfig(config: Config, token: str, user: str = "admin") -> dict[str, Any]:
    """A kubeconfig that kubectl, the kubernetes client and navctl all read."""
    cluster: dict[str, Any] = {"server": server_url(config)}
    if config["api.tls"]:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem(config)).decode()
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "navarch", "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {
                "name": "navarch",
                "context": {"cluster": "navarch", "user": user, "namespace": "default"},
            }
        ],
        "current-context": "navarch",
    }


def write_kubeconfig(config: Config, tokens: auth.TokenFile) -> Path:
    path = Path(config["data_dir"]) / "admin.kubeconfig"
    token = tokens.token_for("admin")
    if token is None:
        raise ConfigError(
            f"{tokens.path} has no admin user; add one with 'navarch token add --role admin'"
        )
    body = yaml.safe_dump(kubeconfig(config, token), sort_keys=False).encode()
    try:
        write_atomically(path, body)
    except OSError as exc:
        raise data_dir_error(path.parent, exc) from None
    return path


def check_address(address: str, tls: bool) -> None:
    if tls:
        return
    try:
        loopback = ipaddress.ip_address(address).is_loopback
    except ValueError:
        loopback = address == "localhost"
    if not loopback:
        raise ConfigError(
            f"api.address = {address!r}: with api.tls = false Navarch serves plain HTTP, which it "
            "does only on a loopback address (127.0.0.1 or ::1); turn api.tls back on"
        )


def open_serving_certificate(config: Config) -> ServingCertificate:
    try:
        return pki(config).open_serving(serving_hosts(config))
    except PkiError as exc:
        raise StartupError(str(exc)) from None
    except OSError as exc:
        raise data_dir_error(Path(config["data_dir"]), exc) from None


async def serve(
    assembly: Assembly,
    *,
    started: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
    settings: ServerSettings | None = None,
) -> None:
    """Serve until ``stop`` is set (or the task is cancelled)."""
    config = assembly.config
    check_address(config["api.address"], config["api.tls"])
    _check_resolvable(config["api.address"], config["api.port"])
    data_dir = Path(config["data_dir"])
    try:
        make_private_dir(data_dir)
    except OSError as exc:
        raise data_dir_error(data_dir, exc) from None
    async with contextlib.AsyncExitStack() as resources:
        await resources.enter_async_context(assembly.running("apiserver"))
        # The store first: its lock tells a second server on this data directory to
        # stop before it touches anything the first one uses.
        store = _open_store(assembly, data_dir)
        resources.push_async_callback(store.close)
        tokens = token_file(config)
        ssl_context = None
        if config["api.tls"]:
            serving = open_serving_certificate(config)
            resources.callback(serving.close)
            ssl_context = serving.context()
        try:
            node_ports = parse_port_range(config["api.service_node_port_range"])
            ipaddress.ip_network(config["api.service_cidr"], strict=False)
        except ValueError as exc:
            raise StartupError(f"api.service_cidr / api.service_node_port_range: {exc}") from None
        settings = settings or ServerSettings(
            max_inflight=config["api.max_inflight"],
            max_list_bytes_in_flight=config["api.max_list_bytes_in_flight"],
            service_cidr=config["api.service_cidr"],
            service_node_ports=node_ports,
        )
        api = Api(store, assembly.pm, tokens, settings)
        # Discovery's serverAddressByClientCIDRs names the advertised address, as
        # kube-apiserver's does, never a wildcard.
        api.address = server_url(config).split("://", 1)[1]
        resources.push_async_callback(api.close)
        try:
            await _bootstrap(api)
            await api.service_allocator.repair(SERVICES)
            # Custom resources are served from the first request on.
            await api.crds.start()
        except StoreError as exc:
            raise store_error(config["store.name"], exc) from None
        except errors.ApiError as exc:  # a store error, as the request path reports it
            raise StartupError(
                f"store {config['store.name']!r} cannot be used: {exc.message}; check that it "
                "runs and is reachable with store.options"
            ) from None
        runner = web.AppRunner(
            api.app(),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS,
        )
        await runner.setup()
        resources.push_async_callback(_stop_serving, api, runner)
        site = web.TCPSite(
            runner, config["api.address"], config["api.port"], ssl_context=ssl_context
        )
        try:
            await site.start()
        except OSError as exc:
            raise bind_error(config["api.address"], config["api.port"], exc) from None
        kubeconfig_path = write_kubeconfig(config, tokens)
        await api.control_plane.start(api.address)
        api.ready = True
        log.bind(
            url=server_url(config), store=config["store.name"], kubeconfig=str(kubeconfig_path)
        ).info("API server ready")
        if started is not None:
            started.set()
        await (stop.wait() if stop is not None else asyncio.Event().wait())
        log.info("API server stopping")
    log.info("API server stopped")


def _check_resolvable(address: str, port: int) -> None:
    """Fail before anything is created when the listening address names no host."""
    try:
        socket.getaddrinfo(address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise unresolvable_address(address, exc) from None


def _open_store(assembly: Assembly, data_dir: Path):
    config = assembly.config
    try:
        return assembly.store().value(config["store.options"], config["data_dir"])
    except StoreError as exc:
        raise store_error(config["store.name"], exc) from None
    except OSError as exc:
        raise data_dir_error(data_dir, exc) from None


async def _stop_serving(api: Api, runner: web.AppRunner) -> None:
    """Stop answering: not ready, every watch told to end, then the listener and the
    open connections closed (waiting at most SHUTDOWN_TIMEOUT_SECONDS for requests)."""
    api.ready = False
    api.begin_shutdown()
    await runner.cleanup()


async def _bootstrap(api: Api) -> None:
    for name in BOOTSTRAP_NAMESPACES:
        try:
            await api.storage.create(
                NAMESPACES,
                "",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
            )
        except errors.ApiError as exc:
            if exc.reason != "AlreadyExists":
                raise
