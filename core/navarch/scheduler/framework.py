"""Types the scheduling hooks exchange (the Kubernetes scheduling framework's shape)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

MIN_SCORE = 0
MAX_SCORE = 100


@attrs.define
class CycleState:
    """Scratch space for one scheduling cycle (one pod), keyed by plugin name so that
    plugins never see each other's data by accident."""

    _data: dict[str, Any] = attrs.field(factory=dict)
    # The active profile's weights: a score plugin may skip work no one will weigh.
    weights: Mapping[str, int] | None = None

    def wants(self, score: str) -> bool:
        return self.weights is None or bool(self.weights.get(score))

    def read(self, plugin: str, default: Any = None) -> Any:
        return self._data.get(plugin, default)

    def write(self, plugin: str, value: Any) -> None:
        self._data[plugin] = value


@attrs.frozen
class ScoreResult:
    """One score plugin's verdict on the feasible nodes: ``{node name: 0..100}``."""

    plugin: str
    scores: Mapping[str, int]

    def __attrs_post_init__(self) -> None:
        if (
            self.scores
            and not MIN_SCORE <= min(self.scores.values()) <= max(self.scores.values()) <= MAX_SCORE
        ):
            node, score = next(
                (n, v) for n, v in self.scores.items() if not MIN_SCORE <= v <= MAX_SCORE
            )
            raise ValueError(
                f"score plugin {self.plugin!r} gave node {node!r} the score {score}; "
                f"scores must be within {MIN_SCORE}..{MAX_SCORE}"
            )
