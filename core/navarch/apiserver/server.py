"""Running the API server: store from the configuration, tokens, bootstrap namespaces,
the listening socket, the kubeconfig file, and an orderly stop."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import os
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from loguru import logger

from navarch.apiserver import auth, errors
from navarch.apiserver.app import Api, ServerSettings
from navarch.apiserver.pki import Pki
from navarch.apiserver.registry import expire_loop
from navarch.apiserver.resources import BY_PATH
from navarch.assembly import Assembly
from navarch.config import Config, ConfigError

log = logger.bind(component="apiserver")
BOOTSTRAP_NAMESPACES = ("default", "kube-system", "kube-public", auth.NODE_LEASE_NAMESPACE)


def token_file(config: Config) -> auth.TokenFile:
    return auth.TokenFile(Path(config["data_dir"]) / "tokens.csv").load_or_create()


def server_url(config: Config) -> str:
    address = config["api.address"]
    host = f"[{address}]" if ":" in address else address
    scheme = "https" if config["api.tls"] else "http"
    return f"{scheme}://{host}:{config['api.port']}"


def pki(config: Config) -> Pki:
    """The CA and serving certificate (created on first use)."""
    address = config["api.address"]
    hosts = [
        "127.0.0.1",
        "::1",
        "localhost",
        *([address] if address not in ("0.0.0.0", "::") else []),
    ]
    return Pki(Path(config["data_dir"]) / "pki").ensure(hosts)


def kubeconfig(config: Config, token: str, user: str = "admin") -> dict[str, Any]:
    """A kubeconfig that kubectl, the kubernetes client and navctl all read."""
    cluster: dict[str, Any] = {"server": server_url(config)}
    if config["api.tls"]:
        ca = pki(config).ca_cert.read_bytes()
        cluster["certificate-authority-data"] = base64.b64encode(ca).decode()
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
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(kubeconfig(config, token), handle, sort_keys=False)
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
    Path(config["data_dir"]).mkdir(parents=True, exist_ok=True, mode=0o700)
    store = assembly.store().value(config["store.options"], config["data_dir"])
    tokens = token_file(config)
    settings = settings or ServerSettings(max_inflight=config["api.max_inflight"])
    api = Api(store, assembly.pm, tokens, settings)
    api.address = f"{config['api.address']}:{config['api.port']}"
    runner = web.AppRunner(api.app(), access_log=None, handle_signals=False)
    sweeper: asyncio.Task[None] | None = None
    try:
        await _bootstrap(api)
        await runner.setup()
        ssl_context = pki(config).server_context() if config["api.tls"] else None
        site = web.TCPSite(
            runner,
            config["api.address"],
            config["api.port"],
            reuse_address=True,
            ssl_context=ssl_context,
        )
        await site.start()
        kubeconfig_path = write_kubeconfig(config, tokens)
        sweeper = asyncio.create_task(expire_loop(api.registry, settings.grace_sweep_seconds))
        api.ready = True
        log.bind(
            url=server_url(config), store=config["store.name"], kubeconfig=str(kubeconfig_path)
        ).info("API server ready")
        if started is not None:
            started.set()
        await (stop.wait() if stop is not None else asyncio.Event().wait())
    finally:
        api.ready = False
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        await runner.cleanup()
        await api.watch_cache.close()
        await store.close()
        log.info("API server stopped")


async def _bootstrap(api: Api) -> None:
    namespaces = BY_PATH[("", "v1", "namespaces")]
    for name in BOOTSTRAP_NAMESPACES:
        try:
            await api.registry.create(
                namespaces,
                "",
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
            )
        except errors.ApiError as exc:
            if exc.reason != "AlreadyExists":
                raise
    await api.registry.find_terminating(BY_PATH[("", "v1", "pods")])
