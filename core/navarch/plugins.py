"""The plugin manager: the core's own plugins and every installed ``navarch`` entry point.

The core's defaults are ordinary plugins listed in :data:`DEFAULT_PLUGINS` and
registered exactly like third-party ones, so the core runs on its own hooks.
``NAVARCH_DISABLE_PLUGINS`` (or ``plugins.disabled``) blocks plugins by name before
they load, except the :data:`ESSENTIAL_PLUGINS` (pytest's "essential plugins": the
object model's validation must not be switched off by accident);
``NAVARCH_TRACE_HOOKS`` (or ``plugins.trace``) logs every hook call at DEBUG, its
arguments and result redacted (:mod:`navarch.redaction`).

:func:`call_first` and :func:`call_all` are the one rule for hooks the core awaits.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from types import ModuleType
from typing import Any

import attrs
import pluggy
from loguru import logger
from pluggy import HookImpl

from navarch import hookspecs
from navarch.hookspecs import PROJECT_NAME
from navarch.redaction import redact, redact_text

ENTRY_POINT_GROUP = PROJECT_NAME
# Module paths of the core's own plugins, registered under these same names.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "navarch.resources.core.plugin",
    "navarch.admission",
    "navarch.apiserver.authz",
    "navarch.apiserver.noderestriction",
    "navarch.apiserver.volumerestriction",
    "navarch.apiserver.defaulttolerationseconds",
    "navarch.scheduler.filters",
    "navarch.scheduler.volumebinding",
    "navarch.controllers.builtin",
)
# Core plugins that cannot be disabled: without them nothing is served, or nothing checks
# what is stored.
ESSENTIAL_PLUGINS: tuple[str, ...] = (
    "navarch.resources.core.plugin",  # without it nothing is served
    "navarch.admission",
    "navarch.apiserver.authz",
    "navarch.apiserver.noderestriction",
    "navarch.apiserver.volumerestriction",
)

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
    essential = sorted(set(disabled) & set(ESSENTIAL_PLUGINS))
    if essential:
        raise PluginError(
            f"plugin {', '.join(essential)} is essential (it registers the core's kinds, or "
            "validates or authorises every request) and cannot be disabled; remove it from "
            "NAVARCH_DISABLE_PLUGINS (plugins.disabled)"
        )
    for name in disabled:
        pm.set_blocked(name)
    for module_name in DEFAULT_PLUGINS:
        if not pm.is_blocked(module_name):
            pm.register(importlib.import_module(module_name), name=module_name)
    installed = _entry_points()
    if entry_points:
        for name, dist in installed.items():
            if not pm.is_blocked(name):
                _load_entry_point(pm, name, dist)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"{exc}; known hooks: {', '.join(hook_names())}") from exc
    # Known = what could be loaded; pluggy's list_name_plugin() also lists every
    # blocked name (set_blocked records it), so it cannot tell a typo from a plugin.
    known = set(DEFAULT_PLUGINS) | set(installed)
    for name in disabled:
        if name not in known:
            log.bind(plugin=name, installed=sorted(known)).warning(
                "asked to disable a plugin that is not installed"
            )
    if trace:
        trace_hook_calls(pm)
    return pm


def trace_hook_calls(pm: pluggy.PluginManager) -> None:
    """Log every hook call and its outcome at DEBUG, arguments and results redacted.

    Not pluggy's own ``enable_tracing``: it turns the arguments into text first, and
    then a bearer token among ``navarch_authenticate``'s headers can no longer be told
    from any other header value."""

    def before(hook_name: str, impls: Sequence[HookImpl], kwargs: Mapping[str, Any]) -> None:
        log.bind(
            hook=hook_name,
            plugins=[impl.plugin_name for impl in impls],
            arguments=redact(dict(kwargs)),
        ).debug("hook {} called", hook_name)

    def after(
        outcome: pluggy.Result[Any],
        hook_name: str,
        impls: Sequence[HookImpl],
        kwargs: Mapping[str, Any],
    ) -> None:
        if outcome.exception is not None:
            log.bind(hook=hook_name, error=redact_text(repr(outcome.exception))).debug(
                "hook {} raised", hook_name
            )
        else:
            log.bind(hook=hook_name, result=redact(outcome.get_result())).debug(
                "hook {} returned", hook_name
            )

    pm.add_hookcall_monitoring(before, after)


def _load_entry_point(pm: pluggy.PluginManager, name: str, dist: str) -> None:
    try:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=name)
    except Exception as exc:  # an installed plugin that fails to import or register
        raise PluginError(
            f"plugin {name!r} (distribution {dist}) failed to load: {exc!r}; fix or "
            f"uninstall it, or disable it with NAVARCH_DISABLE_PLUGINS={name}"
        ) from exc


# --- hooks the core awaits -------------------------------------------------------------
#
# One rule wherever the core awaits a hook: an implementation may return a value or an
# awaitable, and an awaitable is awaited before its value counts. For a first-result
# hook that means an awaitable resolving to None passes the call on, exactly like a
# plain None. pluggy itself stops a first-result call at the first non-None return,
# and a coroutine object is not None, so the implementations are called one at a time
# (each through a pluggy subset caller, so tracing, wrappers and tryfirst/trylast
# still apply; wrappers wrap each implementation's call).


async def call_first(pm: pluggy.PluginManager, hook_name: str, /, **kwargs: Any) -> Any:
    """The first result that is not None, awaiting awaitables; None if there is none."""
    hook = getattr(pm.hook, hook_name)
    impls = [impl for impl in hook.get_hookimpls() if not impl.wrapper and not impl.hookwrapper]
    if len(impls) <= 1:  # nothing to fall through to: one ordinary pluggy call
        return await _resolved(hook(**kwargs))
    plugins = [impl.plugin for impl in impls]
    for impl in reversed(impls):  # pluggy's call order: last registered first
        others = [plugin for plugin in plugins if plugin is not impl.plugin]
        caller = pm.subset_hook_caller(hook_name, remove_plugins=others)
        result = await _resolved(caller(**kwargs))
        if result is not None:
            return result
    return None


async def call_all(pm: pluggy.PluginManager, hook_name: str, /, **kwargs: Any) -> list[Any]:
    """Every result that is not None, awaiting awaitables in pluggy's call order."""
    results = []
    for result in getattr(pm.hook, hook_name)(**kwargs):
        value = await _resolved(result)
        if value is not None:
            results.append(value)
    return results


async def _resolved(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


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


def _entry_points() -> dict[str, str]:
    """Installed plugin name -> the distribution providing it."""
    found = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        found[ep.name] = dist.metadata["name"] if dist is not None else "unknown"
    return found


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"
