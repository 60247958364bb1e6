"""Argument forms the operations verbs share: kubectl's durations (``30s``, ``5m``,
``1h30m``) and object targets (``deployment/web``, ``deploy web``, ``web``)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from navarch.cli.navctl.failures import CliError
from navarch.cli.navctl.session import find_resource

if TYPE_CHECKING:
    from navarch.resources.spec import Resource

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in Go's duration form, as kubectl's ``--timeout`` and ``--since`` take
    them (``90s``, ``5m``, ``1h30m``); a bare number is seconds; ``0`` is zero."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    total, position = 0.0, 0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(text) or not text:
        raise CliError(f'invalid duration "{text}": use a number of seconds or 30s, 5m, 1h30m')
    return total


def parse_bool(text: str) -> bool:
    """``--watch=false`` and friends."""
    lowered = text.lower()
    if lowered in ("true", "1", "yes", "t"):
        return True
    if lowered in ("false", "0", "no", "f"):
        return False
    raise CliError(f'invalid boolean "{text}": use true or false')


def split_target(words: list[str], default: str | None = None) -> tuple[Resource, str]:
    """``TYPE/NAME``, ``TYPE NAME`` or (with a ``default`` type) ``NAME``."""
    if len(words) == 1 and "/" in words[0]:
        kind, _, name = words[0].partition("/")
    elif len(words) == 2:
        kind, name = words
    elif len(words) == 1 and default is not None:
        kind, name = default, words[0]
    else:
        wanted = "TYPE/NAME or TYPE NAME" + (" or NAME" if default else "")
        raise CliError(f"expected {wanted}, got: {' '.join(words) or 'nothing'}")
    if not name:
        raise CliError(f'"{words[0]}" names no object: use TYPE/NAME')
    return find_resource(kind), name
