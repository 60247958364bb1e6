"""Controllers: the controller manager (``navarch controllers``) and its loops.

A controller is registered through ``navarch_register_controllers``; its factory gets
a :class:`ControllerContext`; :class:`QueueController` is the usual shape (informer
handlers feed a rate-limited :class:`WorkQueue`, workers sync one key at a time).

The names below are imported on first use (:mod:`navarch.lazyexports`), so that a
reader of one helper (navctl's ``rollout`` reads ``deployment_history``) does not load
the client and informers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from navarch.lazyexports import lazy_exports

if TYPE_CHECKING:
    from navarch.controllers.base import QueueController
    from navarch.controllers.context import ControllerContext
    from navarch.controllers.workqueue import QueueShutDown, WorkQueue

__all__ = ["ControllerContext", "QueueController", "QueueShutDown", "WorkQueue"]

__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "ControllerContext": "navarch.controllers.context",
        "QueueController": "navarch.controllers.base",
        "QueueShutDown": "navarch.controllers.workqueue",
        "WorkQueue": "navarch.controllers.workqueue",
    },
)
