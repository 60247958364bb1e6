"""The scheduler: binds pending pods to nodes through the filter/score/bind hooks."""

from navarch.scheduler.framework import CycleState, ScoreResult, request_of, tolerates

__all__ = ["CycleState", "ScoreResult", "request_of", "tolerates"]
