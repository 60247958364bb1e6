"""docs/tutorial.md, sections 2 to 8, run command by command as the page says (see
tests/doc_session.py for how a page's lines are run and checked), on a containerd of
the cluster's own, with its own data directory and port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from navarch.testing.daemon import require_or_skip
from navarch.up.containerd import containerd_problem
from tests.doc_session import ROOT, Terminal, page_commands, run_page

pytestmark = pytest.mark.daemon

TUTORIAL = ROOT / "docs" / "tutorial.md"


def tutorial_commands() -> list[tuple[str, str]]:
    return page_commands(TUTORIAL, "## 2. A cluster", "## 9. ")


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    require_or_skip(containerd_problem())
    shell = Terminal(tmp_path)
    try:
        yield shell
    finally:
        if (shell.data_dir / "up.json").exists():
            shell.run("navarch down --purge")
        shell.close()


def test_the_tutorial_has_the_steps_the_issue_asks_for():
    commands = " ".join(command for command, _ in tutorial_commands())
    for step in (
        "make up",
        "navctl apply -f examples/web.yaml",
        "navctl scale",
        "navctl logs",
        "navctl exec",
        "navctl rollout undo",
        "kill -9",
        "examples/binpack.yaml",
    ):
        assert step in commands, step
    assert "## 9. Write your first plugin" in TUTORIAL.read_text()


@pytest.mark.timeout(1500)  # a whole session: two clusters, a rollout, a node's death
def test_the_tutorial_runs_as_written(terminal: Terminal):
    run_page(terminal, tutorial_commands())
