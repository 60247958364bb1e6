"""Options of the LMDB store (``store.options`` in the configuration).

Declared once as an attrs class and registered with the store, so the core checks them
(with cattrs, see navarch.options) and ``navarch config reference`` lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from navarch.options import structure_options
from navarch.store.contract import DEFAULT_MAX_VALUE_BYTES
from navarch.store.errors import InvalidArgument


def _non_negative(_: Any, attribute: attrs.Attribute, value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} = {value:g}: must be 0 or more")


def _option(default: Any, help: str) -> Any:
    return attrs.field(default=default, validator=_non_negative, metadata={"help": help})


@attrs.frozen(kw_only=True)
class LmdbOptions:
    # The file on disk only grows as pages are used, whatever the map's virtual size.
    map_size: int = _option(1 << 30, "Virtual size of the first memory map; doubles when full.")
    max_value_bytes: int = _option(DEFAULT_MAX_VALUE_BYTES, "Largest value stored.")
    # An entry is removed once it is outside BOTH windows.
    history_revisions: int = _option(
        100_000, "Revisions of history kept for watch resumes (0: no revision window)."
    )
    history_minutes: float = _option(10.0, "Minutes of history kept (0: no time window).")
    compact_interval_seconds: float = _option(30.0, "Seconds between compactions.")
    # Small steps interleave with writes so compaction never holds the writer for long.
    compact_step: int = _option(1_000, "Log entries deleted per compaction step.")
    max_batch: int = _option(4_096, "Most operations committed in one transaction (one fsync).")

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any] | None) -> LmdbOptions:
        return structure_options(cls, options, where="store.options", error=InvalidArgument)
