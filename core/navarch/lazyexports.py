"""Package attributes imported on first use, so importing a package costs only what
its caller touches.

    __getattr__, __dir__ = lazy_exports(globals(), {"Client": "navarch.client.client"})

``from navarch.client import Client`` then imports ``navarch.client.client`` at that
moment, and ``from navarch.client import ApiException`` does not import it at all.
Why it matters: a command-line tool pays for every import on each run (``navctl
version`` is mostly interpreter start-up; aiohttp alone would triple it). The package
keeps its public names; type checkers read them from an ``if TYPE_CHECKING:`` import
block beside the call.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any


def lazy_exports(
    namespace: MutableMapping[str, Any], exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module ``__getattr__`` (PEP 562) and ``__dir__`` for the package whose
    ``globals()`` is ``namespace``: reading ``name`` imports ``exports[name]`` (a module
    path) once and keeps the value in the package, so later reads cost nothing."""
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is not None:
            value = getattr(importlib.import_module(module), name)
        elif not name.startswith("_") and importlib.util.find_spec(f"{package}.{name}"):
            # A submodule, as an eager package would have imported it (``api.validation``).
            value = importlib.import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports})

    return __getattr__, __dir__
