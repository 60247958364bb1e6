"""Registries of named things that plugins provide: stores, runtimes, scheduler
profiles, controllers (tox's ``register.add_run_env`` / llm's ``register(Model())``).

A plugin registers a factory under a name from a registration hook, optionally with
the attrs class of its options; the configuration picks one by name; an unknown name
is an error that lists the registered ones. When an entry declares its options class,
the ``*.options`` mapping of the configuration is structured into it (type-checked,
unknown keys refused) before the factory sees it, and ``navarch config reference``
lists the options.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import attrs
import pluggy

from navarch.options import structure_options

if TYPE_CHECKING:
    from navarch.controllers.context import ControllerContext
    from navarch.resources.registry import ResourceRegistry
    from navarch.resources.spec import Resource
    from navarch.runtime.contract import Runtime
    from navarch.store.contract import Store

T_contra = TypeVar("T_contra", contravariant=True)


class Register(Protocol[T_contra]):
    """The ``register`` callable a registration hook receives."""

    def __call__(self, name: str, value: T_contra, /, *, options: type | None = None) -> None: ...


class RegisterResource(Protocol):
    """The ``register`` callable ``navarch_register_resources`` receives."""

    def __call__(self, resource: Resource, /) -> None: ...


class StoreFactory(Protocol):
    """``factory(options, data_dir)``: ``options`` is an instance of the registered options
    class, or the raw ``store.options`` mapping when none was registered."""

    def __call__(self, options: Any, data_dir: str, /) -> Store: ...


class RuntimeFactory(Protocol):
    """``factory(options, data_dir)`` returns an object implementing the runtime contract,
    :class:`navarch.runtime.Runtime`."""

    def __call__(self, options: Any, data_dir: str, /) -> Runtime: ...


class NetworkFactory(Protocol):
    """``factory(options, data_dir)`` returns an object implementing the pod network
    contract, :class:`navarch.agent.network.NetworkPlugin` (or an awaitable of one)."""

    def __call__(self, options: Any, data_dir: str, /) -> Any: ...


class Controller(Protocol):
    async def run(self) -> None: ...


class ControllerFactory(Protocol):
    """``factory(context)``: the context (navarch.controllers.ControllerContext) holds
    the client, the shared informers, a work-queue factory, an event recorder, the
    controller's options (structured into its options class) and a bound logger."""

    def __call__(self, context: ControllerContext, /) -> Controller: ...


# A scheduler profile is not built: it is the weights themselves, by score plugin name.
ProfileWeights = Mapping[str, int]

# Distributions that exist and provide a registered name, for hints in errors. Only
# real packages go here: a hint must never send a user to install something that is
# not there.
KNOWN_PROVIDERS: dict[str, dict[str, str]] = {
    "store": {"lmdb": "navarch-store-lmdb", "etcd": "navarch-store-etcd"},
    "scheduler profile": {"spread": "navarch-sched-spread", "binpack": "navarch-sched-binpack"},
}


class UnknownName(LookupError):
    """The configuration names something no installed plugin registered."""

    def __init__(self, kind: str, name: str, known: list[str], config_key: str):
        self.kind, self.name, self.known, self.config_key = kind, name, known, config_key
        installed = ", ".join(known) if known else "none"
        package = KNOWN_PROVIDERS.get(kind, {}).get(name)
        hint = (
            f"Install the plugin package that provides it (pip install {package})"
            if package
            else "Install a plugin package that provides it"
        )
        super().__init__(
            f"{config_key}: no {kind} named {name!r} is installed; installed {kind}s: "
            f"{installed}. {hint} or choose an installed one."
        )


class DuplicateName(ValueError):
    """Two plugins registered the same name for the same kind of thing."""


@attrs.frozen
class Entry:
    name: str
    value: Any  # the factory as the core calls it: with options, when declared, structured
    plugin: str
    options: type[attrs.AttrsInstance] | None = None  # its options class, when it declares one

    def check_options(self, options: Mapping[str, Any] | None, *, where: str) -> None:
        """Raise :class:`navarch.options.OptionsError` when ``options`` do not fit."""
        if self.options is not None:
            structure_options(self.options, options, where=where)


@attrs.define
class Registry:
    """Named entries of one kind, e.g. every store backend."""

    kind: str
    config_key: str
    options_key: str = ""  # where the configuration keeps the chosen entry's options
    # the factory is called with its options structured (stores, runtimes); False: the
    # caller structures them (controllers get them inside their context)
    options_first: bool = True
    _entries: dict[str, Entry] = attrs.field(factory=dict)

    def add(self, name: str, value: Any, *, plugin: str, options: type | None = None) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"plugin {plugin!r} registered a {self.kind} without a name")
        existing = self._entries.get(name)
        if existing is not None:
            raise DuplicateName(
                f"{self.kind} {name!r} is registered by both plugin {existing.plugin!r} and "
                f"plugin {plugin!r}; disable one with NAVARCH_DISABLE_PLUGINS"
            )
        if options is not None and not attrs.has(options):
            raise TypeError(
                f"plugin {plugin!r} registered {self.kind} {name!r} with options "
                f"{options!r}, which is not an attrs class"
            )
        if options is not None and self.options_first:
            value = functools.partial(
                _with_options, value, options, self.options_key or f"{self.kind} options"
            )
        self._entries[name] = Entry(name, value, plugin, options)

    def get(self, name: str) -> Any:
        return self.entry(name).value

    def entry(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownName(self.kind, name, self.names(), self.config_key) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries[name] for name in self.names())

    def __len__(self) -> int:
        return len(self._entries)


def _with_options(
    factory: Any, cls: type[attrs.AttrsInstance], where: str, options: Any, *args: Any
) -> Any:
    if not isinstance(options, cls):
        options = structure_options(cls, options, where=where)
    return factory(options, *args)


@attrs.frozen
class Registries:
    stores: Registry
    runtimes: Registry
    scheduler_profiles: Registry
    controllers: Registry
    networks: Registry
    # the process's resource registry (navarch.resources.registry), with every plugin's kinds
    resources: ResourceRegistry

    def all(self) -> tuple[Registry, ...]:
        """The registries of named factories (the resources are not chosen by name)."""
        return (
            self.stores,
            self.runtimes,
            self.scheduler_profiles,
            self.controllers,
            self.networks,
        )


# hook name -> (registries attribute, kind, config key, options key)
_REGISTRATION_HOOKS = {
    "navarch_register_stores": ("stores", "store", "store.name", "store.options"),
    "navarch_register_runtimes": ("runtimes", "runtime", "runtime.name", "runtime.options"),
    "navarch_register_scheduler_profiles": (
        "scheduler_profiles",
        "scheduler profile",
        "scheduler.profile",
        "",
    ),
    "navarch_register_controllers": (
        "controllers",
        "controller",
        "controllers.enabled",
        "controllers.options",
    ),
    "navarch_register_networks": (
        "networks",
        "network plugin",
        "agent.network",
        "agent.network_options",
    ),
}


def _register(
    registry: Registry, name: str, value: Any, *, plugin: str, options: type | None = None
) -> None:
    registry.add(name, value, plugin=plugin, options=options)


def collect(pm: pluggy.PluginManager) -> Registries:
    """Call every registration hook, one plugin at a time so each entry records the
    plugin that registered it (shown by ``navarch plugins``)."""
    registries = {
        attr: Registry(kind, key, options_key, options_first=attr != "controllers")
        for attr, kind, key, options_key in _REGISTRATION_HOOKS.values()
    }
    for hook_name, (attr, *_) in _REGISTRATION_HOOKS.items():
        registry = registries[attr]
        hook = getattr(pm.hook, hook_name)
        for impl in hook.get_hookimpls():
            others = [p for p in pm.get_plugins() if p is not impl.plugin]
            caller = pm.subset_hook_caller(hook_name, remove_plugins=others)

            caller(register=functools.partial(_register, registry, plugin=impl.plugin_name))
    return Registries(**registries, resources=collect_resources(pm))


def collect_resources(pm: pluggy.PluginManager) -> ResourceRegistry:
    """Add every plugin's kinds (``navarch_register_resources``) to the process's resource
    registry, each recorded with its plugin; a clash is a start-up error naming both."""
    from navarch.resources.registry import registry as resource_registry

    resources = resource_registry()
    hook_name = "navarch_register_resources"
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        others = [p for p in pm.get_plugins() if p is not impl.plugin]
        caller = pm.subset_hook_caller(hook_name, remove_plugins=others)
        caller(register=functools.partial(_add_resource, resources, plugin=impl.plugin_name))
    return resources


def _add_resource(resources: ResourceRegistry, resource: Resource, *, plugin: str) -> None:
    resources.add(resource, plugin=plugin)
