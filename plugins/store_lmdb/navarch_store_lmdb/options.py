"""Options of the LMDB store (``store.options`` in the configuration)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from navarch.store.contract import DEFAULT_MAX_VALUE_BYTES
from navarch.store.errors import InvalidArgument


@attrs.frozen(kw_only=True)
class LmdbOptions:
    # Virtual size of the first memory map; it doubles whenever it fills. The file on
    # disk only grows as pages are used.
    map_size: int = 1 << 30
    max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES
    # History kept for watch resumes and reads at past revisions: an entry is removed
    # once it is outside BOTH windows (0 disables a window).
    history_revisions: int = 100_000
    history_minutes: float = 10.0
    compact_interval_seconds: float = 30.0
    # Log entries deleted per step: small steps interleave with writes so compaction
    # never holds the writer for long.
    compact_step: int = 1_000
    # Most operations committed in one transaction (one fsync).
    max_batch: int = 4_096

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any] | None) -> LmdbOptions:
        options = dict(options or {})
        fields = {f.name: f for f in attrs.fields(cls)}
        unknown = sorted(set(options) - set(fields))
        if unknown:
            raise InvalidArgument(
                f"store.options: unknown option(s) {', '.join(unknown)} for the lmdb store; "
                f"known: {', '.join(fields)}"
            )
        for name, value in options.items():
            kind = type(fields[name].default)
            ok = isinstance(value, (int, float) if kind is float else int)
            if not ok or isinstance(value, bool) or value < 0:
                raise InvalidArgument(
                    f"store.options.{name} = {value!r}: must be a non-negative "
                    f"{'number' if kind is float else 'integer'}"
                )
        return cls(**options)
