"""The scheduler: binds pending pods to nodes through the filter/score/bind hooks."""

from navarch.scheduler.framework import CycleState, ScoreResult

__all__ = ["CycleState", "ScoreResult"]
