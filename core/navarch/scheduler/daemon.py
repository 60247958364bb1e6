"""``navarch scheduler``: the scheduler as a daemon, an API client like any other,
scheduling only while it holds the ``navarch-scheduler`` Lease when
``leader_election.enabled`` (several copies: one schedules)."""

from __future__ import annotations

from pathlib import Path

from loguru import logger

from navarch.assembly import Assembly
from navarch.client import Client, wait_for_api
from navarch.client.leaderelection import ElectionTimes, LeaderElector, identity
from navarch.scheduler.scheduler import Scheduler

LEASE_NAME = "navarch-scheduler"


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

        async def lead() -> None:
            await Scheduler(client, assembly.pm, weights).run()

        if not assembly.config["leader_election.enabled"]:
            await lead()
            return
        times = ElectionTimes.from_config(assembly.config)
        elector = LeaderElector(client, LEASE_NAME, identity(), times=times)
        await elector.run(lead)
