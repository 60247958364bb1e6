"""``navarch scheduler``: the scheduler as a daemon, an API client like any other."""

from __future__ import annotations

from pathlib import Path

from loguru import logger

from navarch.assembly import Assembly
from navarch.client import Client, wait_for_api
from navarch.scheduler.scheduler import Scheduler


def kubeconfig_path(assembly: Assembly) -> Path:
    config = assembly.config
    return Path(config["kubeconfig"] or Path(config["data_dir"]) / "admin.kubeconfig")


def profile_weights(assembly: Assembly) -> dict[str, int]:
    """The configured profile's weights, with ``scheduler.weights`` overriding them."""
    weights = dict(assembly.scheduler_profile().value)
    weights.update({str(k): int(v) for k, v in assembly.config["scheduler.weights"].items()})
    return weights


async def run_scheduler(assembly: Assembly) -> None:
    weights = profile_weights(assembly)
    logger.bind(
        component="scheduler", profile=assembly.config["scheduler.profile"], weights=weights
    ).info("starting")
    # Started before the API server (or before it wrote the kubeconfig), it waits.
    kubeconfig = await wait_for_api(kubeconfig_path(assembly), component="scheduler")
    async with assembly.running("scheduler"), Client(kubeconfig) as client:
        await Scheduler(client, assembly.pm, weights).run()
