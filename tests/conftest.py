"""Shared fixtures: the third-party demo plugin, installed as a real distribution, and
one private API server per test module with a client of it (a directory's conftest may
override ``client`` to add set-up, or ``api_server`` for settings of its own)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_asyncio

from navarch.client import Client
from navarch.testing.apiserver import ApiServerProcess

FIXTURES = Path(__file__).parent / "fixtures"

# The runtime conformance table (--runtime-report PATH; n/a vs skip under CI=true).
pytest_plugins = ["navarch.testing.runtime_report"]


# The files that take minutes, longest first, scheduled before the rest: with
# --dist loadfile each file goes whole to one worker in collection order, so a long file
# collected last (the tutorial is near the end alphabetically) ran alone at the end while
# the other workers sat idle. Longest-first is the classic cure; only the order changes.
LONG_FILES = (
    "tests/test_tutorial_cluster.py",
    "tests/e2e/test_up_e2e.py",
    "tests/e2e/test_workloads_on_containerd.py",
    "tests/store/test_etcd_conformance.py",
    "tests/test_operations_doc.py",
    "tests/runtime/test_cri_leaks.py",
    "tests/controllers/test_statefulset_storage.py",
    "tests/e2e/",
)


def pytest_sessionstart(session: pytest.Session) -> None:
    # Namespaces a killed earlier run left (their maker is gone): never the live ones
    # of other xdist workers.
    from navarch.testing import netns

    netns.sweep()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from navarch.testing import netns

    netns.sweep()
    for name in netns.ours():  # this process's own, left by a test that failed badly
        netns.TestNetns(name).remove()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(config.rootpath)

    def rank(item: pytest.Item) -> int:
        path = Path(item.path).relative_to(root).as_posix()
        return next((i for i, p in enumerate(LONG_FILES) if path.startswith(p)), len(LONG_FILES))

    items.sort(key=rank)  # stable: the order within a file, and of the rest, is kept


def _uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if found is None:
        pytest.fail("uv is not installed; run 'make test', which installs it")
    return found


@pytest.fixture(scope="module")
def api_server(tmp_path_factory):
    """A real ``navarch server`` process on LMDB, on a port of its own."""
    with ApiServerProcess(tmp_path_factory.mktemp("apiserver")) as server:
        yield server


@pytest_asyncio.fixture
async def client(api_server):
    client = Client.from_kubeconfig(api_server.kubeconfig)
    yield client
    await client.close()


@pytest.fixture(scope="session")
def demo_plugin_site(tmp_path_factory) -> Path:
    """A directory holding navarch-demo-plugin installed from outside the workspace
    (wheel built by hatchling, dist-info with its entry point)."""
    target = tmp_path_factory.mktemp("demo-plugin-site")
    subprocess.run(
        [
            _uv(),
            "pip",
            "install",
            "--quiet",
            "--python",
            sys.executable,
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(FIXTURES / "demo_plugin"),
        ],
        check=True,
    )
    assert (target / "navarch_demo_plugin").is_dir()
    return target


@pytest.fixture
def with_demo_plugin(demo_plugin_site, monkeypatch) -> Path:
    """The demo plugin importable and discoverable in this process."""
    monkeypatch.syspath_prepend(str(demo_plugin_site))
    return demo_plugin_site


def run_cli(*args: str, env: dict[str, str] | None = None, extra_path: Path | None = None):
    """Run the ``navarch`` command in a subprocess, as a user would."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("NAVARCH_")}
    full_env.update(env or {})
    if extra_path is not None:
        full_env["PYTHONPATH"] = str(extra_path)
    return subprocess.run(
        [sys.executable, "-m", "navarch.cli.navarch", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )
