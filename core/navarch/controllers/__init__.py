"""Controllers: the controller manager (``navarch controllers``) and its loops.

A controller is registered through ``navarch_register_controllers``; its factory gets
a :class:`ControllerContext`; :class:`QueueController` is the usual shape (informer
handlers feed a rate-limited :class:`WorkQueue`, workers sync one key at a time).
"""

from navarch.controllers.base import QueueController
from navarch.controllers.context import ControllerContext
from navarch.controllers.workqueue import QueueShutDown, WorkQueue

__all__ = ["ControllerContext", "QueueController", "QueueShutDown", "WorkQueue"]
