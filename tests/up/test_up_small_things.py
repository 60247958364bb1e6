"""What a new user trips on with navarch up and down (issue 21 item 11): down stops
every node's containers together, runtime.options the cluster does not use are named
in a warning, the banner counts its nodes in English, and down prints its result,
not its log."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from loguru import logger

from navarch.assembly import assemble
from navarch.cli.up import print_banner
from navarch.config import load_config
from navarch.up import down, runtimes
from navarch.up.cluster import UpReady
from navarch.up.runtimes import RuntimeChoice, choose_runtime
from navarch.up.state import UpState

NODES = ("node-1", "node-2", "node-3")
# bounded: with stops one node after another, the first waits this long, then the
# order of the journal shows it
ALL_ISSUED_DEADLINE = 10.0


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    seen: list[str] = []
    logger.enable("navarch")  # the library is quiet unless asked (navarch/__init__.py)
    sink = logger.add(lambda message: seen.append(str(message)), level="WARNING")
    yield seen
    logger.remove(sink)
    logger.disable("navarch")


class NodeRuntime:
    """One node's runtime with one container whose stop ends only once every node's
    stop was issued (or a bounded wait passed); what happened goes to ``journal``."""

    def __init__(self, node: str, journal: list[tuple[str, str]], all_issued: asyncio.Event):
        self.node = node
        self.journal = journal
        self.all_issued = all_issued

    async def list_containers(self, wanted: dict[str, str]) -> list[Any]:
        return [SimpleNamespace(id=f"{self.node}-c")]

    async def stop_container(self, container_id: str, grace: float) -> None:
        self.journal.append(("stop issued", container_id))
        if sum(1 for what, _ in self.journal if what == "stop issued") == len(NODES):
            self.all_issued.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.all_issued.wait(), ALL_ISSUED_DEADLINE)
        self.journal.append(("stopped", container_id))

    async def remove_container(self, container_id: str) -> None:
        self.journal.append(("removed", container_id))

    async def list_sandboxes(self, wanted: dict[str, str]) -> list[Any]:
        return []

    async def remove_image(self, image: str) -> None:
        pass

    async def close(self) -> None:
        pass


async def test_down_stops_the_nodes_containers_together(tmp_path, monkeypatch):
    """Each container keeps its grace period, but no node waits for another's: every
    stop is issued before any of them finishes."""
    UpState("fake", {}, False, NODES).save(tmp_path)
    journal: list[tuple[str, str]] = []
    all_issued = asyncio.Event()

    async def runtime_answers(assembly, choice):
        return choice

    async def node_runtime(assembly, node):
        return NodeRuntime(node, journal, all_issued)

    monkeypatch.setattr(down, "start_runtime", runtime_answers)
    monkeypatch.setattr(down, "make_runtime", node_runtime)
    config = load_config(None, {}, [f"data_dir={tmp_path}"])
    result = await down.run_down(lambda c: SimpleNamespace(config=c), config, purge=False)

    assert result.containers == len(NODES)
    events = [what for what, _ in journal]
    first_stopped = events.index("stopped")
    assert events[:first_stopped] == ["stop issued"] * len(NODES), journal


async def test_options_follow_the_runtime_that_up_is_told_to_run(tmp_path, monkeypatch):
    """`navarch up --runtime docker --set runtime.options={socket: …}`: the socket is
    Docker's, though runtime.name was left at its default (containerd)."""
    probed: list[tuple[str, dict[str, Any]]] = []

    async def docker_answers(assembly, name, options):
        probed.append((name, options))
        return None if name == "docker" else "refused"

    monkeypatch.setattr(runtimes, "answers", docker_answers)
    config = load_config(None, {}, [f"data_dir={tmp_path}", "runtime.options={socket: /d.sock}"])
    choice = await choose_runtime(assemble(config), "docker", None)
    assert choice == RuntimeChoice(
        "docker", {"socket": "/d.sock"}, why="Docker answers on its socket"
    )
    assert probed == [("docker", {"socket": "/d.sock"})]


async def test_options_the_cluster_does_not_use_are_named(tmp_path, monkeypatch, warnings):
    """runtime.options meant for containerd (runtime.name's default) on a machine where
    only Docker answers: up runs on Docker without them, and says so."""

    async def only_docker(assembly, name, options):
        return None if name == "docker" and not options else "refused"

    monkeypatch.setattr(runtimes, "answers", only_docker)
    monkeypatch.setattr(runtimes, "containerd_problem", lambda: "containerd is missing")
    config = load_config(None, {}, [f"data_dir={tmp_path}", "runtime.options={socket: /d.sock}"])
    choice = await choose_runtime(assemble(config), None, None)
    assert choice.name == "docker" and choice.options == {}
    (warning,) = warnings
    assert "runtime.options (from flag --set runtime.options)" in warning
    assert "runtime.name=docker" in warning and "--runtime docker" in warning


async def test_options_replaced_by_the_clusters_own_containerd_are_named(
    tmp_path, monkeypatch, warnings
):
    async def nothing_answers_then_ours(assembly, name, options):
        return None if options.get("socket", "").endswith("containerd/containerd.sock") else "no"

    monkeypatch.setattr(runtimes, "answers", nothing_answers_then_ours)
    monkeypatch.setattr(runtimes, "containerd_problem", lambda: None)
    monkeypatch.setattr(runtimes.PrivateContainerd, "start", lambda self: 1)
    config = load_config(None, {}, [f"data_dir={tmp_path}", "runtime.options={socket: /c.sock}"])
    choice = await choose_runtime(assemble(config), None, None)
    assert choice.private_containerd
    (warning,) = warnings
    assert "runtime.options.socket /c.sock" in warning and "cluster's own containerd" in warning


async def test_options_of_a_cluster_started_before_are_kept_and_the_new_ones_named(
    tmp_path, monkeypatch, warnings
):
    async def answers(assembly, name, options):
        return None

    monkeypatch.setattr(runtimes, "answers", answers)
    previous = UpState("containerd", {"socket": "/old.sock"}, False, ("node-1",))
    config = load_config(None, {}, [f"data_dir={tmp_path}", "runtime.options={socket: /new.sock}"])
    choice = await choose_runtime(assemble(config), None, previous)
    assert choice.options == {"socket": "/old.sock"}
    (warning,) = warnings
    assert "runtime.options" in warning and "navarch down" in warning


async def test_options_used_as_given_need_no_warning(tmp_path, monkeypatch, warnings):
    async def answers(assembly, name, options):
        return None

    monkeypatch.setattr(runtimes, "answers", answers)
    config = load_config(None, {}, [f"data_dir={tmp_path}", "runtime.options={socket: /c.sock}"])
    choice = await choose_runtime(assemble(config), None, None)
    assert choice.options == {"socket": "/c.sock"}
    assert warnings == []


@pytest.mark.parametrize(("nodes", "said"), [(1, "1 node (node-1)"), (2, "2 nodes (node-1, ")])
def test_the_banner_counts_its_nodes(capsys, tmp_path, nodes, said):
    names = tuple(f"node-{i}" for i in range(1, nodes + 1))
    choice = RuntimeChoice("sim", {}, why="--runtime sim")
    print_banner(UpReady(tmp_path, tmp_path / "k", "https://127.0.0.1:1", choice, names, None))
    assert f"Navarch is up: {said}" in capsys.readouterr().out


def _navarch(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAVARCH_")}
    return subprocess.run(
        [sys.executable, "-m", "navarch.cli.navarch", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_down_prints_its_result_not_its_log(tmp_path: Path):
    UpState("sim", {}, False, ("node-1",)).save(tmp_path)
    quiet = _navarch("--data-dir", str(tmp_path), "down")
    assert quiet.returncode == 0, quiet.stderr
    assert "navarch down: removed 0 containers and 0 pod sandboxes" in quiet.stdout
    assert quiet.stderr == ""  # no INFO lines ("cluster down") on the terminal

    # no container is left: the next up may choose its runtime afresh
    state = UpState.load(tmp_path)
    assert state is not None and state.containers_removed and state.pid is None

    verbose = _navarch("--data-dir", str(tmp_path), "down", "-v")
    assert verbose.returncode == 0, verbose.stderr
    assert "cluster down" in verbose.stderr
