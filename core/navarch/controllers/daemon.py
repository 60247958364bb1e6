"""``navarch controllers``: the controller manager as a daemon, an API client like the
scheduler, leading through a Lease when ``leader_election.enabled``."""

from __future__ import annotations

from loguru import logger

from navarch.assembly import Assembly
from navarch.client import Client, wait_for_api
from navarch.client.leaderelection import ElectionTimes, LeaderElector, identity
from navarch.components import CONTROLLER_MANAGER
from navarch.controllers.manager import ControllerManager
from navarch.scheduler.daemon import kubeconfig_path

LEASE_NAME = "navarch-controller-manager"


async def run_controller_manager(assembly: Assembly) -> None:
    instance = identity()
    enabled = [entry.name for entry in assembly.controllers()]
    logger.bind(component=CONTROLLER_MANAGER, identity=instance, controllers=enabled).info(
        "starting"
    )
    times = ElectionTimes.from_config(assembly.config)  # checked before waiting on anything
    kubeconfig = await wait_for_api(kubeconfig_path(assembly), component=CONTROLLER_MANAGER)
    async with assembly.running(CONTROLLER_MANAGER), Client(kubeconfig) as client:
        manager = ControllerManager(assembly, client, instance)
        if not assembly.config["leader_election.enabled"]:
            await manager.lead()
            return
        elector = LeaderElector(client, LEASE_NAME, instance, times=times)
        await elector.run(manager.lead)
