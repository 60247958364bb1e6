"""docs/tutorial.md's first plugin, followed as written: the files and the commands are
taken from the page itself, so the page and this test cannot drift apart."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
TUTORIAL = ROOT / "docs" / "tutorial.md"
SECTION = "## 9. Write your first plugin"


def _section() -> str:
    text = TUTORIAL.read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", _section(), re.MULTILINE | re.DOTALL)


def _commands() -> list[tuple[str, str]]:
    """(command, the output its comment promises) for each line of the sh blocks."""
    found = []
    for block in _blocks("sh"):
        for line in block.splitlines():
            command, _, comment = line.partition("   # ")
            if command.strip():
                found.append((command.strip(), comment.strip()))
    return found


@pytest.fixture(scope="module")
def plugin_next_to_checkout(tmp_path_factory) -> Path:
    """``my-policy/`` written from the page, next to a ``navarch/`` checkout."""
    base = tmp_path_factory.mktemp("tutorial")
    (base / "navarch").symlink_to(ROOT)
    plugin = base / "my-policy"
    [pyproject] = _blocks("toml")
    [source] = _blocks("python")
    first, _, code = source.partition("\n")
    assert first.startswith("# src/"), "the python block names its file on its first line"
    (plugin / first[2:]).parent.mkdir(parents=True)
    (plugin / first[2:]).write_text(code)
    (plugin / "pyproject.toml").write_text(pyproject)
    return plugin


def _run(command: str, plugin: Path) -> subprocess.CompletedProcess[str]:
    # The page runs from the checkout with ../my-policy; uv resolves the working
    # directory through symlinks, so the test names the plugin by its full path.
    command = command.replace("../my-policy", shlex.quote(str(plugin)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAVARCH_")}
    # Never touch the shared environment or the network: the workspace is synced and
    # uv's cache holds every package and the index metadata the layer is resolved from
    # (make test's plugin-layer-cache step filled it, on a fresh machine too).
    env |= {"UV_NO_SYNC": "1", "UV_OFFLINE": "1", "VIRTUAL_ENV": str(Path(sys.prefix))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        command, shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_page_has_the_steps_this_test_follows():
    commands = [command for command, _ in _commands()]
    assert len(commands) == 2
    assert all("uv run --with-editable ../my-policy navarch plugins" in c for c in commands)
    assert "outside" in _section() or "next to" in _section()
    assert "restart" in _section()


def test_the_tutorial_plugin_loads_and_can_be_disabled(plugin_next_to_checkout):
    (listed, promised), (disabled, gone) = _commands()
    result = _run(listed, plugin_next_to_checkout)
    assert result.returncode == 0, result.stderr
    name, _, hooks = promised.partition(", hooks: ")
    assert name in result.stdout
    assert f"hooks:    {hooks}" in result.stdout
    assert str(plugin_next_to_checkout) in result.stdout  # loaded from the source tree
    assert gone == "gone again"
    result = _run(disabled, plugin_next_to_checkout)
    assert result.returncode == 0, result.stderr
    assert "my-policy" not in result.stdout
    assert "store-lmdb" in result.stdout  # the rest of Navarch is still there
    # The reason for --with-editable: nothing was installed for the next `uv sync` to
    # remove.
    with pytest.raises(metadata.PackageNotFoundError):
        metadata.distribution("my-policy")


def test_the_tutorial_plugin_refuses_a_pod_without_a_team(plugin_next_to_checkout):
    check = (
        "from navarch.admission import CREATE, AdmissionRequest, admit\n"
        "from navarch.api import InvalidObject, load\n"
        "from navarch.plugins import build_plugin_manager\n"
        "pod = load({'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': 'p'},\n"
        "    'spec': {'containers': [{'name': 'c', 'image': 'nginx'}]}}).obj\n"
        "try:\n"
        "    admit(build_plugin_manager(), AdmissionRequest(CREATE, 'Pod', pod))\n"
        "except InvalidObject as exc:\n"
        "    print([(e.path, e.message) for e in exc.errors])\n"
    )
    command = f"uv run --with-editable ../my-policy python -c {shlex.quote(check)}"
    result = _run(command, plugin_next_to_checkout)
    assert result.returncode == 0, result.stderr
    assert "('metadata.labels', " in result.stdout
    assert "every pod needs a 'team' label" in result.stdout
