"""The controller manager: builds the enabled controllers from their registered
factories around one client, one set of shared informers and one event recorder,
and runs them — only while this copy leads, when several run (leader election).

A controller whose ``run()`` fails (or returns) is logged and its ``run()`` called
again after a back-off (1 s doubling to 30 s): one broken loop never takes the others
down. It is the same controller object: its informer handlers stay registered on the
shared informers and keep feeding it, so ``run()`` must leave it able to run again
(:class:`navarch.controllers.QueueController` keeps its work queue across runs). It
is not rebuilt from its factory because a new one's handlers would not see the
objects already cached, and the old one's would stay registered.
"""

from __future__ import annotations

import asyncio
import contextlib

from loguru import logger

from navarch.assembly import Assembly
from navarch.client.client import Client
from navarch.client.events import EventRecorder
from navarch.client.sharedinformers import SharedInformerFactory
from navarch.components import CONTROLLER_MANAGER
from navarch.controllers.context import ControllerContext
from navarch.options import structure_options
from navarch.registry import Controller

COMPONENT = "navarch-controller-manager"
RESTART_FIRST = 1.0
RESTART_CAP = 30.0

log = logger.bind(component=CONTROLLER_MANAGER)


class ControllerManager:
    def __init__(self, assembly: Assembly, client: Client, instance: str):
        self.assembly = assembly
        self.client = client
        self.instance = instance

    def build(self, informers: SharedInformerFactory) -> dict[str, Controller]:
        recorder = EventRecorder(self.client, COMPONENT, self.instance)
        options = self.assembly.config["controllers.options"]
        controllers: dict[str, Controller] = {}
        for entry in self.assembly.controllers():
            raw = options.get(entry.name)
            structured = (
                structure_options(entry.options, raw, where=f"controllers.options.{entry.name}")
                if entry.options is not None
                else raw
            )
            context = ControllerContext(entry.name, self.client, informers, recorder, structured)
            controllers[entry.name] = entry.value(context)
        return controllers

    async def lead(self) -> None:
        """Run every enabled controller until cancelled (fresh state each time this
        copy becomes the leader)."""
        informers = SharedInformerFactory(self.client)
        controllers = self.build(informers)
        informers.start()
        log.bind(controllers=sorted(controllers)).info("controllers starting")
        tasks = [
            asyncio.create_task(_keep_running(name, controller), name=f"controller-{name}")
            for name, controller in controllers.items()
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await informers.stop()


async def _keep_running(name: str, controller: Controller) -> None:
    delay = RESTART_FIRST
    while True:
        try:
            await controller.run()
            log.bind(controller=name).warning("controller returned; starting it again")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.bind(controller=name, error=repr(exc)).opt(exception=exc).error(
                "controller failed; starting it again"
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, RESTART_CAP)
