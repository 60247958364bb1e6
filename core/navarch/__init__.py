"""Navarch: a container orchestrator with Kubernetes' architecture, built from plugins.

Plugins import :data:`hookimpl` from here to mark their hook implementations.
"""

from importlib.metadata import PackageNotFoundError, version

import pluggy
from loguru import logger

from navarch.hookspecs import PROJECT_NAME

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

# A library stays quiet until an entry point configures logging (navarch.logs).
logger.disable("navarch")

try:
    __version__ = version("navarch")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "hookimpl"]
