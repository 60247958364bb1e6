"""Explaining a scheduling decision in words an operator reads without the source.

A bound pod carries the annotation ``scheduler.navarch.io/decision``, a few lines:

    n2 chosen from 3 feasible nodes: score 350 = least-allocated 80
        + owner-spread 100 (weight 2) + taint-toleration 100           (one line)
    runner-up n1: score 300 = least-allocated 60 + …                   (the best two)
    2 of 5 nodes filtered out: 1 Insufficient cpu, 1 node(s) had untolerated taint {gpu: true}

Several short lines rather than one long one, because ``kubectl describe`` prints a
multi-line annotation line by line and cuts any line beyond 140 characters. A pod that
fits nowhere gets Kubernetes' message instead (``0/5 nodes are available: …``). Both
are built from what the cycle computed anyway, so explaining costs a few string joins.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping

DECISION_ANNOTATION = "scheduler.navarch.io/decision"
RUNNERS_UP = 2


def count_reasons(reasons: Iterable[str]) -> str:
    """``"2 Insufficient cpu, 1 node(s) had untolerated taint {gpu: true}"``: one node
    may give several reasons (``"Insufficient cpu, Insufficient memory"``), each counted."""
    counts: Counter[str] = Counter()
    for reason in reasons:
        for part in reason.split(", "):
            counts[part] += 1
    return ", ".join(f"{count} {reason}" for reason, count in sorted(counts.items()))


def unschedulable_message(total: int, rejected: Mapping[str, str]) -> str:
    """Kubernetes' shape: "0/5 nodes are available: 3 Insufficient cpu, 2 node(s) had
    untolerated taint {gpu: true}." (reasons counted over nodes, sorted)."""
    if not total:
        return "0/0 nodes are available: no nodes registered."
    return f"0/{total} nodes are available: {count_reasons(rejected.values())}."


def explain(
    chosen: str,
    totals: Mapping[str, int],
    details: Mapping[str, Mapping[str, int]],
    weights: Mapping[str, int],
    *,
    rejected: Mapping[str, str],
    examined: int,
    total: int,
) -> str:
    """The decision annotation: the chosen node and its score per plugin, the best
    runners-up, and how many nodes the filters removed and why.

    ``totals`` are the weighted sums per feasible node, ``details`` each plugin's raw
    0..100 score per node, ``rejected`` node -> reason for the nodes filtered out,
    ``examined`` how many nodes the search looked at (it stops once enough are
    feasible) out of ``total``.
    """
    feasible = len(totals)
    if feasible == 1:
        lines = [f"{chosen} chosen: the only feasible node, so no scoring was needed"]
    else:
        best = totals[chosen]
        tied = sum(1 for value in totals.values() if value == best)
        tie = f" (tied with {tied - 1} other(s), picked at random)" if tied > 1 else ""
        lines = [
            f"{chosen} chosen from {feasible} feasible nodes: score "
            f"{_breakdown(chosen, totals, details, weights)}{tie}"
        ]
        runners_up = heapq.nlargest(
            RUNNERS_UP, (n for n in totals if n != chosen), key=totals.__getitem__
        )
        lines += [
            f"runner-up {name}: score {_breakdown(name, totals, details, weights)}"
            for name in runners_up
        ]
    lines.append(_filtered(rejected, examined, total))
    return "\n".join(lines)


def _breakdown(
    node: str,
    totals: Mapping[str, int],
    details: Mapping[str, Mapping[str, int]],
    weights: Mapping[str, int],
) -> str:
    if not details:
        return f"{totals[node]} (the profile weighs no score)"
    parts = []
    for plugin, scores in sorted(details.items()):
        weight = weights.get(plugin, 1)
        score = scores.get(node, 0)
        parts.append(f"{plugin} {score}" if weight == 1 else f"{plugin} {score} (weight {weight})")
    return f"{totals[node]} = " + " + ".join(parts)


def _filtered(rejected: Mapping[str, str], examined: int, total: int) -> str:
    searched = (
        f"{examined} of {total} nodes examined (the search stops once enough fit); "
        if examined < total
        else ""
    )
    if not rejected:
        return (
            f"{searched}no node filtered out" if searched else f"none of {total} nodes filtered out"
        )
    if searched:
        return f"{searched}{len(rejected)} filtered out: {count_reasons(rejected.values())}"
    return f"{len(rejected)} of {total} nodes filtered out: {count_reasons(rejected.values())}"
