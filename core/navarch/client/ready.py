"""Waiting for the API server, as kubelet and kube-scheduler do: a daemon started
before the server (or before the server has written its kubeconfig) waits with
back-off and says so, instead of failing.

    config = await wait_for_api(path, component="scheduler")
    async with Client(config) as client: ...

Cancelling the waiting task (SIGTERM) stops it at once.
"""

from __future__ import annotations

import asyncio
import os

import aiohttp
from loguru import logger

from navarch.client.kubeconfig import KubeConfig, KubeConfigError, load_kubeconfig

# What one /readyz probe may take before it counts as "not answering".
PROBE_TIMEOUT_SECONDS = 5.0


async def wait_for_api(
    kubeconfig_path: str | os.PathLike[str],
    *,
    component: str = "client",
    first_delay: float = 0.25,
    max_delay: float = 5.0,
) -> KubeConfig:
    """Wait until ``kubeconfig_path`` can be read and its server answers ``/readyz``
    with 200; return the kubeconfig. Waits indefinitely, doubling the pause between
    tries up to ``max_delay``; logs a line each time the reason for waiting changes.
    """
    log = logger.bind(component=component, kubeconfig=str(kubeconfig_path))
    delay = first_delay
    last_reason = None
    config: KubeConfig | None
    reason: str | None
    while True:
        try:
            config = load_kubeconfig(kubeconfig_path)
        except KubeConfigError as exc:
            config, reason = None, str(exc)
        else:
            reason = await probe_ready(config)
            if reason is None:
                if last_reason is not None:
                    log.bind(server=config.server).info("the API server is ready")
                return config
        if reason != last_reason:
            if config is None:
                log.bind(reason=reason).info("waiting for the API server's kubeconfig")
            else:
                log.bind(server=config.server, reason=reason).info(
                    f"waiting for the API server at {config.server}"
                )
            last_reason = reason
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay)


async def probe_ready(config: KubeConfig) -> str | None:
    """None when the server answers ``/readyz`` with 200, else why not (for the log)."""
    headers = {"Authorization": f"Bearer {config.token}"} if config.token else {}
    timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT_SECONDS)
    connector = aiohttp.TCPConnector(ssl=config.ssl_context() or False)
    try:
        async with (
            aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
            session.get(f"{config.server}/readyz", headers=headers) as response,
        ):
            if response.status == 200:
                return None
            return f"/readyz answered {response.status}"
    except aiohttp.ClientConnectorCertificateError as exc:
        return f"certificate not trusted: {exc.certificate_error}"
    except (aiohttp.ClientError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    except TimeoutError:
        return f"no answer within {PROBE_TIMEOUT_SECONDS:g}s"
