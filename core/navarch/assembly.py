"""Start-up assembly: configuration + plugins -> the named parts a daemon runs with.

Every name the configuration gives (store, runtime, scheduler profile, controllers)
is resolved here, before anything starts, so a typo fails at once with the list of
what is installed; the options of a part that declares an options class are checked
here too. :meth:`Assembly.running` brackets a daemon's life with the
``navarch_startup`` and ``navarch_shutdown`` hooks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import attrs
import pluggy
from loguru import logger

from navarch.components import COMPONENTS
from navarch.config import Config
from navarch.options import OptionsError, options_table
from navarch.plugins import build_plugin_manager, call_all
from navarch.registry import Entry, Registries, UnknownName, collect

PARTS = ("store", "runtime", "scheduler", "controllers", "network")
NO_NETWORK = "none"  # agent.network: no plugin, pods get loopback only


class NoRuntime(UnknownName):
    """``runtime.name`` is empty: fine until a daemon that runs containers starts."""

    def __init__(self, known: list[str]):
        LookupError.__init__(
            self,
            "runtime.name: no container runtime is configured; installed runtimes: "
            f"{', '.join(known) or 'none'}. Set runtime.name to one of them.",
        )
        self.kind, self.name, self.known, self.config_key = "runtime", "", known, "runtime.name"


@attrs.frozen
class Assembly:
    config: Config
    pm: pluggy.PluginManager
    registries: Registries

    def store(self) -> Entry:
        return self.registries.stores.entry(self.config["store.name"])

    def runtime(self) -> Entry:
        name = self.config["runtime.name"]
        if not name:
            raise NoRuntime(self.registries.runtimes.names())
        return self.registries.runtimes.entry(name)

    def network(self) -> Entry | None:
        """The agent's pod network plugin (``agent.network``); None for ``"none"``."""
        name = self.config["agent.network"]
        if not name or name == NO_NETWORK:
            return None
        return self.registries.networks.entry(name)

    def scheduler_profile(self) -> Entry:
        return self.registries.scheduler_profiles.entry(self.config["scheduler.profile"])

    def controllers(self) -> list[Entry]:
        """The enabled controllers: ``*`` for every registered one, names, and
        ``-name`` to leave one out; each one's ``controllers.options`` checked."""
        wanted = [str(name) for name in self.config["controllers.enabled"]]
        registry = self.registries.controllers
        left_out = {name[1:] for name in wanted if name.startswith("-")}
        for name in left_out:
            registry.entry(name)  # an unknown name is an error, even to leave out
        if "*" in wanted:
            chosen = list(registry)
        else:
            chosen = [registry.entry(name) for name in wanted if not name.startswith("-")]
        chosen = [entry for entry in chosen if entry.name not in left_out]
        options = self.config["controllers.options"]
        for name in options:
            registry.entry(str(name))  # options for a controller that does not exist
        for entry in chosen:
            entry.check_options(options.get(entry.name), where=f"controllers.options.{entry.name}")
        return chosen

    def check(self, parts: Iterable[str] = PARTS) -> None:
        """Resolve the named parts a daemon needs and check their options; raise
        :class:`UnresolvedParts` listing every problem at once.

        An empty ``runtime.name`` (a control-plane machine's choice) is not a problem
        here: the daemon that runs containers calls :meth:`runtime`, which raises
        :class:`NoRuntime`."""
        lookups = {
            "store": lambda: self._with_options(self.store(), "store.options"),
            "runtime": lambda: self._with_options(self.runtime(), "runtime.options"),
            "scheduler": self.scheduler_profile,
            "controllers": self.controllers,
            "network": self._network_with_options,
        }
        problems: list[Exception] = []
        for part in parts:
            try:
                lookups[part]()
            except NoRuntime:
                pass
            except (UnknownName, OptionsError) as exc:
                problems.append(exc)
        if problems:
            raise UnresolvedParts(problems)

    def _network_with_options(self) -> Entry | None:
        entry = self.network()
        return None if entry is None else self._with_options(entry, "agent.network_options")

    def _with_options(self, entry: Entry, key: str) -> Entry:
        entry.check_options(self.config[key], where=key)
        return entry

    def options_reference(self) -> str:
        """The options of every installed part that declares them, as Markdown."""
        sections = []
        for registry in self.registries.all():
            for entry in registry:
                if entry.options is not None:
                    title = (
                        f"`{registry.options_key}` of {registry.kind} `{entry.name}` "
                        f"(plugin `{entry.plugin}`)"
                    )
                    sections.append(options_table(title, entry.options))
        return "\n\n".join(sections)

    @asynccontextmanager
    async def running(self, component: str) -> AsyncIterator[None]:
        """Call ``navarch_startup`` on entry and ``navarch_shutdown`` on exit (always,
        also after an error or a cancellation), for the daemon named ``component`` (one
        of :data:`navarch.components.COMPONENTS`, the values plugins are promised)."""
        if component not in COMPONENTS:
            raise ValueError(f"unknown component {component!r}: one of {', '.join(COMPONENTS)}")
        args = {"config": self.config, "pm": self.pm, "component": component}
        try:
            await call_all(self.pm, "navarch_startup", **args)
            yield
        finally:
            try:
                await call_all(self.pm, "navarch_shutdown", **args)
            except Exception as exc:  # a plugin's clean-up must not hide why we stop
                logger.bind(component=component, error=repr(exc)).opt(exception=exc).error(
                    "a plugin's navarch_shutdown failed"
                )


class UnresolvedParts(LookupError):
    def __init__(self, problems: list[Exception]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def assemble(config: Config, *, entry_points: bool = True) -> Assembly:
    pm = build_plugin_manager(
        config["plugins.disabled"], trace=config["plugins.trace"], entry_points=entry_points
    )
    return Assembly(config, pm, collect(pm))
