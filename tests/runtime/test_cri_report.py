"""The runtime comparison report's ``--navarch-runtimes`` option (run in a pytest of
its own, on simulated runtimes): only the named runtimes' conformance tests run, one
column each in the order given; the Markdown goes between the markers of a document
(docs/runtimes.md) or makes the whole file; a runtime with no conformance tests
collected is a usage error."""

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

class Sim(RuntimeConformance):
    @pytest.fixture
    def features(self):
        return frozenset()

    @pytest_asyncio.fixture
    async def runtime(self):
        runtime = SimRuntime()
        yield runtime
        await runtime.close()

    @pytest_asyncio.fixture
    async def test_image(self, runtime, tmp_path_factory):
        await runtime.load_image(busybox_archive(tmp_path_factory.getbasetemp()))
        return BUSYBOX_IMAGE

class TestFirst(Sim):
    runtime_name = "first"

class TestSecond(Sim):
    runtime_name = "second"

class TestThird(Sim):
    runtime_name = "third"

def test_not_a_conformance_test():
    pass
"""

DOC = """# Runtimes

Some words, naming the markers `<!-- runtime-report:end -->` and
`<!-- runtime-report:begin -->` in prose: only lines of their own count.

<!-- runtime-report:begin -->
| old | table |
<!-- runtime-report:end -->

More words.
"""


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["navarch.testing.runtime_report"]\n')
    (tmp_path / "test_suite.py").write_text(SUITE)
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k",
         "test_version or test_pull_image or not_a_conformance", *args, str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_only_the_named_runtimes_run_in_the_order_given(tmp_path: Path) -> None:
    doc = tmp_path / "runtimes.md"
    doc.write_text(DOC)
    result = _run(tmp_path, "--navarch-runtimes", "third,first", "--runtime-report", str(doc))
    assert result.returncode == 0, result.stdout + result.stderr
    # test_version for each of two runtimes and the test that is no conformance test
    # pass; test_pull_image is n/a for both; "second" ran nothing
    assert "3 passed, 2 skipped" in result.stdout, result.stdout
    table = [
        "| test | third | first |",
        "|---|:---:|:---:|",
        "| `test_version` | pass | pass |",
        "| `test_pull_image` | n/a | n/a |",
    ]
    # between the markers only: the rest of the document stays
    assert doc.read_text() == DOC.replace("| old | table |\n", "\n".join(table) + "\n")
    printed = [line.split() for line in result.stdout.splitlines()]
    assert ["test", "third", "first"] in printed
    assert ["test_version", "pass", "pass"] in printed


def test_without_markers_the_file_is_the_table(tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    result = _run(tmp_path, "--navarch-runtimes", "second", "--runtime-report", str(report))
    assert result.returncode == 0, result.stdout + result.stderr
    assert report.read_text().splitlines()[0] == "| test | second |"


def test_a_runtime_without_conformance_tests_is_a_usage_error(tmp_path: Path) -> None:
    result = _run(tmp_path, "--navarch-runtimes", "first,cri")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "no conformance tests collected for cri" in result.stderr
    assert "first, second, third" in result.stderr
