"""The ``preferred-node`` score: 100 for a node labelled
``example.navarch.io/preferred=true``, 0 for any other.

The ``example-preferred`` profile weighs it 3 beside spread's own scores: 3 x 100 is
more than the other scores can ever differ by (least-allocated and taint-toleration,
100 each at most), so a pod goes to a preferred node whenever one fits, and among the
preferred nodes to the least allocated. When none fits, the pod goes elsewhere: a
preference, not a rule (a ``nodeSelector`` is the rule).
"""

from __future__ import annotations

from collections.abc import Sequence

from navarch.scheduler import ScoreResult
from navarch.scheduler.nodeinfo import NodeInfo

PREFERRED_LABEL = "example.navarch.io/preferred"
SCORE = "preferred-node"
PROFILE_NAME = "example-preferred"
PROFILE = {SCORE: 3, "least-allocated": 1, "taint-toleration": 1}


def is_preferred(node: NodeInfo) -> bool:
    return node.labels.get(PREFERRED_LABEL) == "true"


def score(nodes: Sequence[NodeInfo]) -> ScoreResult:
    return ScoreResult(SCORE, {node.name: 100 if is_preferred(node) else 0 for node in nodes})
