"""Navarch: a container orchestrator with Kubernetes' architecture, built from plugins.

Plugins import :data:`hookimpl` from here to mark their hook implementations.
``hookimpl`` and ``__version__`` are made on first use: a command that needs neither
(``navctl get pods``) does not import pluggy or read the package metadata.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from navarch.quietlogs import keep_quiet

if TYPE_CHECKING:
    import pluggy

    hookimpl: pluggy.HookimplMarker
    __version__: str

# A library stays quiet until an entry point configures logging (navarch.logs); loguru
# is imported only when a module that logs is (navarch.quietlogs says why).
keep_quiet()

__all__ = ["__version__", "hookimpl"]


def __getattr__(name: str) -> Any:
    if name == "hookimpl":
        import pluggy

        from navarch.hookspecs import PROJECT_NAME

        value: Any = pluggy.HookimplMarker(PROJECT_NAME)
    elif name == "__version__":
        value = _installed_version()
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def _installed_version() -> str:
    """The installed distribution's version, read from its ``navarch-VERSION.dist-info``
    directory name (the wheel format puts it there), as importlib.metadata finds it on
    ``sys.path`` but without importing importlib.metadata: that import and its search
    cost ~25 ms, a fifth of ``navctl version``. importlib.metadata is the fallback."""
    import os
    import sys

    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            stem, dot, suffix = name.rpartition(".")
            project, dash, found = stem.partition("-")
            if suffix == "dist-info" and dot and dash and project.lower() == "navarch":
                return found
    from importlib import metadata

    try:
        return metadata.version("navarch")
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+unknown"
