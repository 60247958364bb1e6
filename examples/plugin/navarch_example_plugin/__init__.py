"""Navarch's example third-party plugin: the hook implementations Navarch calls.

Each hook hands the work to a small module of its own: ``preferred`` (a score and the
profile weighing it), ``restarts`` (a controller), ``backups`` (a kind of its own) and
``backup_operator`` (the controller that runs that kind: an operator).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from navarch import hookimpl
from navarch.registry import ControllerFactory, ProfileWeights, Register, RegisterResource
from navarch.scheduler import CycleState, ScoreResult
from navarch.scheduler.nodeinfo import NodeInfo
from navarch_example_plugin import backup_operator, backups, preferred, restarts


@hookimpl
def navarch_score(pod: Any, nodes: Sequence[NodeInfo], state: CycleState) -> ScoreResult | None:
    # Profiles that do not weigh this score (spread, binpack) never pay for it.
    if not state.wants(preferred.SCORE):
        return None
    return preferred.score(nodes)


@hookimpl
def navarch_register_scheduler_profiles(register: Register[ProfileWeights]) -> None:
    register(preferred.PROFILE_NAME, preferred.PROFILE)


@hookimpl
def navarch_register_controllers(register: Register[ControllerFactory]) -> None:
    register(restarts.NAME, restarts.RestartCounter)
    register(
        backup_operator.NAME,
        backup_operator.BackupOperator,
        options=backup_operator.BackupOperatorOptions,
    )


@hookimpl
def navarch_register_resources(register: RegisterResource) -> None:
    register(backups.BACKUPS)
