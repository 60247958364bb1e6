"""The scheduler: binds pending pods to nodes through the filter/score/bind hooks.

The names below are imported on first use (:mod:`navarch.lazyexports`), so that a
reader of one helper (navctl's ``describe`` reads ``navarch.scheduler.decision``) does
not load the framework.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from navarch.lazyexports import lazy_exports

if TYPE_CHECKING:
    from navarch.scheduler.framework import CycleState, ScoreResult, request_of, tolerates

__all__ = ["CycleState", "ScoreResult", "request_of", "tolerates"]

__getattr__, __dir__ = lazy_exports(
    globals(), {name: "navarch.scheduler.framework" for name in __all__}
)
