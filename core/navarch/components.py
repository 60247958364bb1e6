"""The names of Navarch's daemons as plugins see them: the ``component`` argument of
``navarch_startup`` and ``navarch_shutdown`` (docs/plugin-hooks.md lists the same
values; a test holds the two together). Kubernetes' names without their ``kube-``
prefix, and the ``component`` every daemon's log lines are bound with.

A process may run several: ``navarch up`` runs all four in one process, and its
agents (one per node) share one ``"agent"`` component."""

from __future__ import annotations

APISERVER = "apiserver"  # navarch server
SCHEDULER = "scheduler"  # navarch scheduler
CONTROLLER_MANAGER = "controller-manager"  # navarch controllers
AGENT = "agent"  # navarch agent, every node of the process

COMPONENTS = (APISERVER, SCHEDULER, CONTROLLER_MANAGER, AGENT)
