"""Targets each benchmark compares its figures with, printed as "met" or "not met".

    targets = [Target("pods bound/s at 5,000 nodes", 1240.0, ">=", 1000, "pods/s")]
    report(targets, quick=False)

A figure that could not be measured (a peer of zero, nothing bound) is "n/a", never
infinity. A quick run uses smaller counts, so its verdicts are only indicative.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

_COMPARE = {">=": operator.ge, "<=": operator.le, "<": operator.lt, ">": operator.gt}


@dataclass(frozen=True)
class Target:
    what: str
    figure: float | None
    op: str
    goal: float
    unit: str = ""

    def met(self) -> bool | None:
        if self.figure is None or self.figure != self.figure:  # not measured, or NaN
            return None
        return _COMPARE[self.op](self.figure, self.goal)

    def line(self) -> str:
        verdict = {True: "met", False: "not met", None: "n/a"}[self.met()]
        figure = "n/a" if self.met() is None else f"{_number(self.figure)}{self.unit}"
        goal = f"{self.op} {_number(self.goal)}{self.unit}"
        return f"  {verdict:<8} {self.what}: {figure} (target {goal})"


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when the denominator is zero."""
    return numerator / denominator if denominator else None


def format_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def report(targets: Sequence[Target], *, quick: bool) -> bool:
    """Print each target with its verdict; returns whether every measured one was met."""
    print()
    print("Targets" + (" (quick run: smaller counts, indicative only):" if quick else ":"))
    for target in targets:
        print(target.line())
    met = [t.met() for t in targets]
    print(
        f"  {met.count(True)} of {len(targets)} met"
        + (f", {met.count(None)} not measured" if None in met else "")
    )
    return all(m is not False for m in met)


def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
