"""What the tests of examples/plugin share: the plugin installed as a user installs it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.examples.helpers import EXAMPLES


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding navarch-example-plugin installed from examples/plugin."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not installed; run 'make test', which installs it")
    target = tmp_path_factory.mktemp("example-plugin-site")
    # like tests/conftest.py's demo plugin: a wheel built by hatchling, its dist-info
    # with the entry point, and no copy of navarch (--no-deps)
    install = ("pip", "install", "--quiet", "--python", sys.executable, "--no-deps")
    where = ("--no-build-isolation", "--target", str(target))
    subprocess.run([uv, *install, *where, str(EXAMPLES / "plugin")], check=True)
    assert (target / "navarch_example_plugin").is_dir()
    return target
