"""The ``component`` that ``navarch_startup`` and ``navarch_shutdown`` receive is the
one docs/plugin-hooks.md promises, for every daemon (issue 21 item 9: the controller
manager sent ``"controllers"`` where ``"controller-manager"`` was documented).

Each daemon is started in this process with a plugin that records its ``component``
and then refuses to start (an exception in ``navarch_startup`` stops the daemon, as
documented), so nothing else of the daemon runs."""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from navarch import hookimpl
from navarch.agent.daemon import run_agents
from navarch.apiserver import server
from navarch.assembly import Assembly
from navarch.components import (
    AGENT,
    APISERVER,
    COMPONENTS,
    CONTROLLER_MANAGER,
    SCHEDULER,
)
from navarch.config import load_config
from navarch.controllers.daemon import run_controller_manager
from navarch.plugins import build_plugin_manager
from navarch.registry import collect
from navarch.scheduler.daemon import run_scheduler
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.daemon import free_port

DOCS = Path(__file__).parents[1] / "docs" / "plugin-hooks.md"

DAEMONS: dict[str, Callable[[Assembly], Coroutine[Any, Any, None]]] = {
    APISERVER: server.serve,
    SCHEDULER: run_scheduler,
    CONTROLLER_MANAGER: run_controller_manager,
    AGENT: run_agents,
}


def documented_components() -> dict[str, str]:
    """``component`` value -> the ``navarch`` command, from the table in the
    ``navarch_startup`` section of docs/plugin-hooks.md."""
    text = DOCS.read_text()
    section = text.split("## `navarch_startup`", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r'^\| `"([a-z-]+)"` \| `navarch (\w+)`', section, re.MULTILINE))


def test_the_documented_components_are_the_constant() -> None:
    documented = documented_components()
    assert tuple(documented) == COMPONENTS
    assert set(DAEMONS) == set(COMPONENTS)
    # each is a daemon command of the navarch CLI
    from navarch.cli.navarch import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert set(documented.values()) <= set(commands)


class StartupRefused(Exception):
    pass


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    @hookimpl
    def navarch_startup(self, component: str) -> None:
        self.calls.append(("startup", component))
        raise StartupRefused(component)

    @hookimpl
    def navarch_shutdown(self, component: str) -> None:
        self.calls.append(("shutdown", component))


@pytest.mark.parametrize("component", COMPONENTS)
async def test_each_daemon_sends_its_documented_component(
    component: str, api_server: ApiServerProcess, tmp_path: Path
) -> None:
    assert component in documented_components()
    recorder = Recorder()
    pm = build_plugin_manager()
    pm.register(recorder, name="recorder")
    config = load_config(
        file=None,
        env={},
        overrides=[
            f"data_dir={tmp_path}",
            f"kubeconfig={api_server.kubeconfig}",
            "api.address=127.0.0.1",
            f"api.port={free_port()}",
            "runtime.name=sim",
            "agent.node_name=components-node",
        ],
    )
    with pytest.raises(StartupRefused):
        await DAEMONS[component](Assembly(config, pm, collect(pm)))
    assert recorder.calls == [("startup", component), ("shutdown", component)]
