"""Start-up assembly: configuration + plugins -> the named parts a daemon runs with.

Every name the configuration gives (store, runtime, scheduler profile, controllers)
is resolved here, before anything starts, so a typo fails at once with the list of
what is installed.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs
import pluggy

from navarch.config import Config
from navarch.plugins import build_plugin_manager
from navarch.registry import Entry, Registries, UnknownName, collect

PARTS = ("store", "runtime", "scheduler", "controllers")


@attrs.frozen
class Assembly:
    config: Config
    pm: pluggy.PluginManager
    registries: Registries

    def store(self) -> Entry:
        return self.registries.stores.entry(self.config["store.name"])

    def runtime(self) -> Entry:
        return self.registries.runtimes.entry(self.config["runtime.name"])

    def scheduler_profile(self) -> Entry:
        return self.registries.scheduler_profiles.entry(self.config["scheduler.profile"])

    def controllers(self) -> list[Entry]:
        wanted = self.config["controllers.enabled"]
        registry = self.registries.controllers
        if "*" in wanted:
            return list(registry)
        return [registry.entry(name) for name in wanted]

    def check(
        self, parts: Iterable[str] = ("store", "runtime", "scheduler", "controllers")
    ) -> None:
        """Resolve the named parts a daemon needs; raise :class:`UnresolvedParts` listing
        every unknown name at once."""
        lookups = {
            "store": self.store,
            "runtime": self.runtime,
            "scheduler": self.scheduler_profile,
            "controllers": self.controllers,
        }
        problems = []
        for part in parts:
            try:
                lookups[part]()
            except UnknownName as exc:
                problems.append(exc)
        if problems:
            raise UnresolvedParts(problems)


class UnresolvedParts(LookupError):
    def __init__(self, problems: list[UnknownName]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def assemble(config: Config, *, entry_points: bool = True) -> Assembly:
    pm = build_plugin_manager(
        config["plugins.disabled"], trace=config["plugins.trace"], entry_points=entry_points
    )
    return Assembly(config, pm, collect(pm))
