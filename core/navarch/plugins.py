"""The plugin manager: the core's own plugins and every installed ``navarch`` entry point.

The core's defaults are ordinary plugins listed in :data:`DEFAULT_PLUGINS` and
registered exactly like third-party ones, so the core runs on its own hooks.
``NAVARCH_DISABLE_PLUGINS`` (or ``plugins.disabled``) blocks plugins by name before
they load; ``NAVARCH_TRACE_HOOKS`` (or ``plugins.trace``) logs every hook call.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from importlib import metadata
from types import ModuleType

import attrs
import pluggy
from loguru import logger

from navarch import hookspecs
from navarch.hookspecs import PROJECT_NAME

ENTRY_POINT_GROUP = PROJECT_NAME
# Module paths of the core's own plugins, registered under these same names.
DEFAULT_PLUGINS: tuple[str, ...] = ("navarch.admission", "navarch.scheduler.filters")

log = logger.bind(component="plugins")


class PluginError(RuntimeError):
    """A plugin failed to load or does not fit the hook specifications."""


def build_plugin_manager(
    disabled: Iterable[str] = (), *, trace: bool = False, entry_points: bool = True
) -> pluggy.PluginManager:
    """Register the defaults and the installed entry points, minus ``disabled``."""
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    disabled = [name for name in disabled if name]
    for name in disabled:
        pm.set_blocked(name)
    for module_name in DEFAULT_PLUGINS:
        if not pm.is_blocked(module_name):
            pm.register(importlib.import_module(module_name), name=module_name)
    if entry_points:
        try:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        except Exception as exc:  # an installed plugin that fails to import
            raise PluginError(
                f"a plugin in entry-point group {ENTRY_POINT_GROUP!r} failed to "
                f"load: {exc!r}; disable it with NAVARCH_DISABLE_PLUGINS=<name>"
            ) from exc
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"{exc}; known hooks: {', '.join(hook_names())}") from exc
    known = {name for name, _ in pm.list_name_plugin()} | set(_entry_point_names())
    for name in disabled:
        if name not in known:
            log.bind(plugin=name, installed=sorted(known)).warning(
                "asked to disable a plugin that is not installed"
            )
    if trace:
        pm.trace.root.setwriter(lambda text: log.debug(text.rstrip()))
        pm.enable_tracing()
    return pm


def hook_names() -> list[str]:
    return sorted(name for name in dir(hookspecs) if name.startswith("navarch_"))


@attrs.frozen
class PluginInfo:
    name: str
    distribution: str
    version: str
    source: str
    hooks: tuple[str, ...]


def describe_plugins(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """Each registered plugin: its name, distribution, version, where from, its hooks."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    core_version = _version("navarch")
    infos = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # blocked
            continue
        dist = dists.get(id(plugin))
        if dist is not None:
            dist_name, version = dist.metadata["name"], dist.version
        else:
            dist_name, version = "navarch", core_version
        hooks = tuple(sorted(caller.name for caller in pm.get_hookcallers(plugin) or ()))
        infos.append(PluginInfo(name, dist_name, version, _source(plugin), hooks))
    return sorted(infos, key=lambda info: (info.distribution != "navarch", info.name))


def _source(plugin: object) -> str:
    if isinstance(plugin, ModuleType):
        return getattr(plugin, "__file__", None) or plugin.__name__
    return type(plugin).__module__


def _entry_point_names() -> list[str]:
    return [ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)]


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"
