"""Kinds as plugins: the resource spec (:mod:`~navarch.resources.spec`), the strategy a
kind's writes follow (:mod:`~navarch.resources.strategy`), its selectable fields
(:mod:`~navarch.resources.fields`) and the one registry every part reads
(:mod:`~navarch.resources.registry`; the core's kinds in :mod:`~navarch.resources.core`).

Nothing here imports the API server: the client and navctl read the same registry.
See docs/api.md, "How a kind is served".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from navarch.lazyexports import lazy_exports

if TYPE_CHECKING:
    from navarch.resources.fields import Getter, dotted, flag, path
    from navarch.resources.registry import (
        ResourceClash,
        ResourceRegistry,
        UnknownKind,
        registry,
    )
    from navarch.resources.spec import Resource, ScalePaths
    from navarch.resources.strategy import Strategy

__all__ = [
    "Getter",
    "Resource",
    "ResourceClash",
    "ResourceRegistry",
    "ScalePaths",
    "Strategy",
    "UnknownKind",
    "dotted",
    "flag",
    "path",
    "registry",
]

__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "Getter": "navarch.resources.fields",
        "dotted": "navarch.resources.fields",
        "flag": "navarch.resources.fields",
        "path": "navarch.resources.fields",
        "ResourceClash": "navarch.resources.registry",
        "ResourceRegistry": "navarch.resources.registry",
        "UnknownKind": "navarch.resources.registry",
        "registry": "navarch.resources.registry",
        "Resource": "navarch.resources.spec",
        "ScalePaths": "navarch.resources.spec",
        "Strategy": "navarch.resources.strategy",
    },
)
