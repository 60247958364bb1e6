"""What a controller's factory receives: everything a control loop needs from the
controller manager, so a third party's loop is built like the core's own.

    def factory(context: ControllerContext) -> Controller:
        pods = context.informers.informer("pods")      # shared with every other loop
        queue = context.queue()                          # rate-limited, per-key back-off
        ...
"""

from __future__ import annotations

from typing import Any

import attrs
from loguru import logger

from navarch.client.client import Client
from navarch.client.events import EventRecorder
from navarch.client.sharedinformers import SharedInformerFactory
from navarch.controllers.workqueue import WorkQueue


@attrs.frozen
class ControllerContext:
    """``name`` is the controller's registered name; ``options`` its entry of
    ``controllers.options``, structured into its registered options class (or the
    raw mapping when it declared none); ``log`` is bound with ``controller=name``."""

    name: str
    client: Client
    informers: SharedInformerFactory
    recorder: EventRecorder
    options: Any = None
    log: Any = attrs.field(default=None)

    def __attrs_post_init__(self) -> None:
        if self.log is None:
            object.__setattr__(self, "log", logger.bind(controller=self.name))

    def queue(self, **limits: Any) -> WorkQueue:
        """A new work queue named after the controller (``base_delay``, ``max_delay``,
        ``qps``, ``burst`` override client-go's defaults)."""
        return WorkQueue(self.name, **limits)
