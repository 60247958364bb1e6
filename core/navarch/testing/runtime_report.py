"""The runtime conformance report: a pytest plugin that collects the outcome of every
:class:`~navarch.testing.runtime.RuntimeConformance` test per runtime and prints one
table at the end of the session — a row per test, a column per runtime (``pass``,
``FAIL``, ``n/a`` for a feature the runtime lacks, ``skip`` for any other skip).

Enable it in a top-level ``conftest.py``::

    pytest_plugins = ["navarch.testing.runtime_report"]

``--navarch-runtimes docker,containerd,cri`` compares those runtimes: only their
conformance tests run (the other runtimes' are deselected; tests that are not
conformance tests are left alone), and the table's columns come in that order. A
runtime named there with no conformance test collected is a usage error.

``--runtime-report PATH`` also writes the table as Markdown: the whole file, or, when
the file holds the markers ``<!-- runtime-report:begin -->`` and
``<!-- runtime-report:end -->``, only what is between them (so the command that makes
the table keeps docs/runtimes.md current)::

    pytest tests/runtime --navarch-runtimes docker,containerd,cri \
        --runtime-report docs/runtimes.md

With ``CI=true`` in the environment, a conformance test skipped for any reason but
``n/a`` fails instead: CI must not pass because a daemon was missing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from navarch.testing.runtime import NOT_APPLICABLE, RuntimeConformance

PASS, FAIL, NA, SKIP = "pass", "FAIL", "n/a", "skip"
BEGIN_MARKER = "<!-- runtime-report:begin -->"
END_MARKER = "<!-- runtime-report:end -->"
# A later phase's outcome replaces an earlier one only if it ranks higher.
_RANK = {PASS: 0, NA: 1, SKIP: 2, FAIL: 3}


def ci_enabled() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason.removeprefix("Skipped: ")


class RuntimeReport:
    """Outcomes by test and runtime, in the order tests ran."""

    def __init__(self, runtimes: list[str] | None = None) -> None:
        self.outcomes: dict[str, dict[str, str]] = {}
        # the columns, in the order asked for (--navarch-runtimes) or first seen
        self.runtimes: list[str] = list(runtimes or [])

    def record(self, test: str, runtime: str, outcome: str) -> None:
        if runtime not in self.runtimes:
            self.runtimes.append(runtime)
        row = self.outcomes.setdefault(test, {})
        if _RANK[outcome] >= _RANK.get(row.get(runtime, PASS), 0):
            row[runtime] = outcome

    def rows(self) -> Iterator[list[str]]:
        yield ["test", *self.runtimes]
        for test, row in self.outcomes.items():
            yield [test, *(row.get(runtime, "") for runtime in self.runtimes)]

    def text(self) -> str:
        rows = list(self.rows())
        widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
        lines = [
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            for row in rows
        ]
        lines.insert(1, "  ".join("-" * width for width in widths))
        return "\n".join(line.rstrip() for line in lines)

    def markdown(self) -> str:
        header, *body = self.rows()
        lines = [
            "| " + " | ".join(header) + " |",
            "|" + "|".join(["---"] + [":---:"] * (len(header) - 1)) + "|",
        ]
        lines += ["| " + " | ".join([f"`{row[0]}`", *row[1:]]) + " |" for row in body]
        return "\n".join(lines) + "\n"


# The markers count only on lines of their own: a document may mention them in prose.
_BETWEEN_MARKERS = re.compile(
    rf"^({re.escape(BEGIN_MARKER)}[ \t]*\n).*?^({re.escape(END_MARKER)}[ \t]*)$",
    re.MULTILINE | re.DOTALL,
)


def write_markdown(path: Path, table: str) -> None:
    """Write ``table`` to ``path``: between the markers (each on a line of its own)
    when the file has them, else the whole file."""
    old = path.read_text() if path.exists() else ""
    found = _BETWEEN_MARKERS.search(old)
    if found is None:
        path.write_text(table)
        return
    start, end = found.end(1), found.start(2)
    path.write_text(old[:start] + table + old[end:])


def requested_runtimes(config: pytest.Config) -> list[str]:
    value = config.getoption("--navarch-runtimes") or ""
    return [name.strip() for name in value.split(",") if name.strip()]


_report_key = pytest.StashKey[RuntimeReport]()
_PROPERTY = "navarch-runtime-conformance"  # user_properties key: (test, runtime, result)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("navarch", "Navarch")
    group.addoption(
        "--runtime-report",
        metavar="PATH",
        default=None,
        help="write the runtime conformance table (a row per test, a column per runtime) "
        f"to PATH as Markdown (between {BEGIN_MARKER} and {END_MARKER} when PATH has them)",
    )
    group.addoption(
        "--navarch-runtimes",
        metavar="NAMES",
        default=None,
        help="compare these runtimes (comma-separated, e.g. docker,containerd,cri): run "
        "only their conformance tests, one column each in this order",
    )


def pytest_configure(config: pytest.Config) -> None:
    report = config.stash[_report_key] = RuntimeReport(requested_runtimes(config))
    config.pluginmanager.register(_Recorder(report), "navarch-runtime-report-recorder")


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    wanted = requested_runtimes(config)
    if not wanted:
        return
    kept, deselected, found = [], [], set()
    for item in items:
        runtime = _runtime_of(item)
        if runtime is not None and runtime not in wanted:
            deselected.append(item)
            continue
        if runtime is not None:
            found.add(runtime)
        kept.append(item)
    missing = [name for name in wanted if name not in found]
    if missing:
        known = sorted({r for r in map(_runtime_of, items) if r is not None})
        raise pytest.UsageError(
            f"--navarch-runtimes: no conformance tests collected for {', '.join(missing)} "
            f"(collected: {', '.join(known) or 'none'}; are their test files on the "
            "command line?)"
        )
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


def _runtime_of(item: pytest.Item) -> str | None:
    cls = getattr(item, "cls", None)
    if cls is None or not issubclass(cls, RuntimeConformance):
        return None
    return cls.runtime_name or cls.__name__


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    outcome = yield
    runtime = _runtime_of(item)
    if runtime is None:
        return
    report: pytest.TestReport = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = skip_reason(report)
        if reason.startswith(NOT_APPLICABLE):
            result = NA
        elif ci_enabled():
            report.outcome = "failed"
            report.longrepr = f"skipped under CI=true (only n/a skips are allowed): {reason}"
            result = FAIL
        else:
            result = SKIP
    elif report.failed:
        result = FAIL
    elif report.when == "call":
        result = PASS
    else:
        return
    name = getattr(item, "originalname", None) or item.name
    # Recorded from the report, not here: under pytest-xdist this runs in a worker, and
    # only the report (with its user_properties) reaches the process that prints.
    report.user_properties.append((_PROPERTY, (name, runtime, result)))


class _Recorder:
    """Records each conformance outcome from its test report, where reports arrive: in
    the one pytest process, or in pytest-xdist's controller from all workers."""

    def __init__(self, report: RuntimeReport):
        self.report = report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for key, value in report.user_properties:
            if key == _PROPERTY:
                name, runtime, result = cast("tuple[str, str, str]", value)
                self.report.record(name, runtime, result)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    report = config.stash.get(_report_key, None)
    if report is None or not report.outcomes:
        return
    terminalreporter.section("runtime conformance")
    for line in report.text().splitlines():
        terminalreporter.write_line(line)
    path = config.getoption("--runtime-report")
    if path:
        write_markdown(Path(path), report.markdown())
        terminalreporter.write_line(f"runtime conformance report written to {path}")
