"""The conformance report plugin, run in a pytest of its own: a table of tests by
runtime, n/a for a missing feature, and under CI=true a failure for any other skip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SUITE = """
import pytest, pytest_asyncio
from navarch.testing.images import BUSYBOX_IMAGE, busybox_archive
from navarch.testing.runtime import RuntimeConformance
from navarch_runtime_sim import SimRuntime

class TestWorking(RuntimeConformance):
    runtime_name = "working"

    @pytest.fixture
    def features(self):
        return frozenset()  # lacks PULL: the pull tests are n/a

    @pytest_asyncio.fixture
    async def runtime(self):
        runtime = SimRuntime()
        yield runtime
        await runtime.close()

    @pytest_asyncio.fixture
    async def test_image(self, runtime, tmp_path_factory):
        await runtime.load_image(busybox_archive(tmp_path_factory.getbasetemp()))
        return BUSYBOX_IMAGE

class TestMissingDaemon(RuntimeConformance):
    runtime_name = "nodaemon"

    @pytest.fixture
    def runtime(self):
        pytest.skip("the daemon is not installed")
"""


def _run(tmp_path: Path, ci: bool) -> tuple[subprocess.CompletedProcess[str], str]:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["navarch.testing.runtime_report"]\n')
    (tmp_path / "test_suite.py").write_text(SUITE)
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    report = tmp_path / f"report-{ci}.md"
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = "true"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k",
         "test_version or test_pull_image", "--runtime-report", str(report), str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return result, report.read_text() if report.exists() else ""


def test_table_shows_pass_na_and_skip(tmp_path):
    result, markdown = _run(tmp_path, ci=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert markdown.splitlines() == [
        "| test | working | nodaemon |",
        "|---|:---:|:---:|",
        "| `test_version` | pass | skip |",
        "| `test_pull_image` | n/a | skip |",  # nodaemon declares every feature
    ]
    assert "runtime conformance" in result.stdout
    printed = [line.split() for line in result.stdout.splitlines()]
    assert ["test", "working", "nodaemon"] in printed
    assert ["test_version", "pass", "skip"] in printed


def test_under_ci_a_skip_that_is_not_na_fails(tmp_path):
    result, markdown = _run(tmp_path, ci=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "| `test_version` | pass | FAIL |" in markdown
    assert "| `test_pull_image` | n/a | FAIL |" in markdown  # n/a stays allowed
    assert "skipped under CI=true" in result.stdout
    assert "the daemon is not installed" in result.stdout
