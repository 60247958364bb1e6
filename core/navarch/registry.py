"""Registries of named things that plugins provide: stores, runtimes, scheduler
profiles, controllers (tox's ``register.add_run_env`` / llm's ``register(Model())``).

A plugin registers a factory under a name from a registration hook; the configuration
picks one by name; an unknown name is an error that lists the registered ones.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import attrs
import pluggy


class UnknownName(LookupError):
    """The configuration names something no installed plugin registered."""

    def __init__(self, kind: str, name: str, known: list[str], config_key: str, package: str):
        self.kind, self.name, self.known, self.config_key = kind, name, known, config_key
        installed = ", ".join(known) if known else "none"
        hint = f" (e.g. 'pip install {package.format(name=name)}')" if package else ""
        super().__init__(
            f"{config_key}: no {kind} named {name!r} is installed; installed {kind}s: "
            f"{installed}. Install the plugin package that provides it{hint} or choose an "
            "installed one."
        )


class DuplicateName(ValueError):
    """Two plugins registered the same name for the same kind of thing."""


@attrs.frozen
class Entry:
    name: str
    value: Any
    plugin: str


@attrs.define
class Registry:
    """Named entries of one kind, e.g. every store backend."""

    kind: str
    config_key: str
    package: str = ""  # the usual distribution name of a provider, e.g. navarch-store-{name}
    _entries: dict[str, Entry] = attrs.field(factory=dict)

    def add(self, name: str, value: Any, *, plugin: str) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"plugin {plugin!r} registered a {self.kind} without a name")
        existing = self._entries.get(name)
        if existing is not None:
            raise DuplicateName(
                f"{self.kind} {name!r} is registered by both plugin {existing.plugin!r} and "
                f"plugin {plugin!r}; disable one with NAVARCH_DISABLE_PLUGINS"
            )
        self._entries[name] = Entry(name, value, plugin)

    def get(self, name: str) -> Any:
        return self.entry(name).value

    def entry(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownName(
                self.kind, name, self.names(), self.config_key, self.package
            ) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries[name] for name in self.names())

    def __len__(self) -> int:
        return len(self._entries)


@attrs.frozen
class Registries:
    stores: Registry
    runtimes: Registry
    scheduler_profiles: Registry
    controllers: Registry

    def all(self) -> tuple[Registry, ...]:
        return (self.stores, self.runtimes, self.scheduler_profiles, self.controllers)


# hook name -> (registries attribute, kind, config key, usual provider distribution)
_REGISTRATION_HOOKS = {
    "navarch_register_stores": ("stores", "store", "store.name", "navarch-store-{name}"),
    "navarch_register_runtimes": ("runtimes", "runtime", "runtime.name", "navarch-runtime-{name}"),
    "navarch_register_scheduler_profiles": (
        "scheduler_profiles",
        "scheduler profile",
        "scheduler.profile",
        "navarch-sched-{name}",
    ),
    "navarch_register_controllers": ("controllers", "controller", "controllers.enabled", ""),
}


def _register(registry: Registry, name: str, value: Any, *, plugin: str) -> None:
    registry.add(name, value, plugin=plugin)


def collect(pm: pluggy.PluginManager) -> Registries:
    """Call every registration hook, one plugin at a time so each entry records the
    plugin that registered it (shown by ``navarch plugins``)."""
    registries = {
        attr: Registry(kind, key, package)
        for attr, kind, key, package in _REGISTRATION_HOOKS.values()
    }
    for hook_name, (attr, *_) in _REGISTRATION_HOOKS.items():
        registry = registries[attr]
        hook = getattr(pm.hook, hook_name)
        for impl in hook.get_hookimpls():
            others = [p for p in pm.get_plugins() if p is not impl.plugin]
            caller = pm.subset_hook_caller(hook_name, remove_plugins=others)

            caller(register=functools.partial(_register, registry, plugin=impl.plugin_name))
    return Registries(**registries)
