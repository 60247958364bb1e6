"""Timestamps read from wire objects, and how long ago they were as kubectl writes it."""

from __future__ import annotations

import datetime as dt
from typing import Any

UNKNOWN = "<unknown>"  # a time (or a fact a node reports) left unset


def human_duration(seconds: float) -> str:
    """Kubernetes' ``duration.HumanDuration``: two significant units while they matter
    (``5m3s``, ``3h20m``, ``2d5h``), one after (``45m``, ``20h``, ``30d``)."""
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        s = whole % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


def parse_time(value: Any) -> dt.datetime | None:
    """An RFC 3339 timestamp (``Time`` or ``MicroTime``); None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def since(value: Any, now: dt.datetime) -> str:
    """How long ago a timestamp was (``translateTimestampSince``); ``<unknown>`` if unset."""
    moment = parse_time(value)
    if moment is None:
        return UNKNOWN
    return human_duration((now - moment).total_seconds())
