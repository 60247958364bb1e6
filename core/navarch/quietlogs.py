"""The core's logs stay off until an entry point configures logging
(:func:`navarch.logs.configure_logging`), without importing loguru to say so.

``import navarch`` used to call ``logger.disable("navarch")`` at once, which imports
loguru (30-40 ms: asyncio, logging, multiprocessing), and every ``navctl`` run paid for
it, ``navctl version`` included, though only the verbs that stream ever log. Now the
call is made the moment loguru is first imported — by the first navarch module that
logs, so before any record can be written — or at once if loguru is already there.
"""

from __future__ import annotations

import importlib.util
import sys
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

PACKAGE = "navarch"


def keep_quiet() -> None:
    """Disable ``navarch``'s logs now, or as soon as loguru is imported."""
    loguru = sys.modules.get("loguru")
    if loguru is not None:
        loguru.logger.disable(PACKAGE)
    elif not any(isinstance(finder, _DisableOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _DisableOnImport())


class _DisableOnImport:
    """An import finder for ``loguru`` only: it finds loguru as usual and disables
    ``navarch`` right after loguru's own module has run, then leaves ``sys.meta_path``."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if name != "loguru":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            load(module)
            module.logger.disable(PACKAGE)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec
