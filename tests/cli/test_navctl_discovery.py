"""navctl learns kinds from the server's discovery (issue 22 items 1 and 4): a kind
registered only on the server — examples/plugin's Backup, the plugin installed where
the API server runs and nowhere else — works with get (by plural, short name, kind,
``kind.group``), apply, describe, ``get -w`` and delete, navctl handling its objects as
plain wire dicts (tables from the server's Table answer, apply as server-side apply).

navctl runs as its own process without the plugin on its path, as a user's would."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.waiting import until
from tests.examples.helpers import EXAMPLES

DEADLINE = 60.0
BACKUP = """
apiVersion: example.navarch.io/v1
kind: Backup
metadata: {{name: nightly}}
spec: {{schedule: "0 3 * * *", target: web, retain: {retain}}}
"""


def navctl_env() -> dict[str, str]:
    """The environment of a navctl the plugin is not installed for."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAVARCH_")}
    env.pop("PYTHONPATH", None)
    return env


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """navarch-example-plugin installed from examples/plugin into a directory of its own
    (as tests/examples installs it), for the API server's PYTHONPATH only."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not installed; run 'make test', which installs it")
    target = tmp_path_factory.mktemp("example-plugin-site")
    install = ("pip", "install", "--quiet", "--python", sys.executable, "--no-deps")
    where = ("--no-build-isolation", "--target", str(target))
    subprocess.run([uv, *install, *where, str(EXAMPLES / "plugin")], check=True)
    return target


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, plugin_site: Path):
    """An API server with navarch-example-plugin on its PYTHONPATH (it serves Backup)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(plugin_site))  # the server process inherits it
        with ApiServerProcess(tmp_path_factory.mktemp("navctl-discovery")) as server:
            yield server


class Navctl:
    def __init__(self, kubeconfig: Path, namespace: str):
        self.kubeconfig, self.namespace = kubeconfig, namespace

    def command(self, *args: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "navarch.cli.navctl",
            *args,
            "--kubeconfig",
            str(self.kubeconfig),
            "-n",
            self.namespace,
        ]

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            input=stdin,
            capture_output=True,
            text=True,
            env=navctl_env(),
            timeout=DEADLINE,
        )

    def __call__(self, *args: str, stdin: str | None = None) -> str:
        result = self.run(*args, stdin=stdin)
        assert result.returncode == 0, f"navctl {' '.join(args)}: {result.stderr}"
        return result.stdout


@pytest.fixture
def navctl(server) -> Navctl:
    tool = Navctl(server.kubeconfig, f"d-{uuid.uuid4().hex[:8]}")
    tool("create", "namespace", tool.namespace)
    return tool


def test_navctl_itself_does_not_know_the_plugins_kind():
    # the premise: what navctl resolves below, it learns from the server
    probe = "from navarch.resources.registry import registry; print(registry().resolve('bk'))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=navctl_env(), check=True
    )
    assert result.stdout.strip() == "None"


def test_get_apply_describe_delete_a_kind_served_only_by_the_server(navctl, tmp_path):
    empty = navctl.run("get", "backups")
    assert empty.returncode == 0, empty.stderr
    assert f"No resources found in {navctl.namespace} namespace." in empty.stderr

    manifest = tmp_path / "backup.yaml"
    manifest.write_text(BACKUP.format(retain=7))
    assert navctl("apply", "-f", str(manifest)).strip() == (
        "backup.example.navarch.io/nightly created"
    )

    table = navctl("get", "backups").splitlines()
    assert table[0].split() == ["NAME", "SCHEDULE", "TARGET", "RETAIN", "PHASE", "AGE"]
    assert table[1].split()[:7] == ["nightly", "0", "3", "*", "*", "*", "web"]
    for word in ("bk", "backup", "Backup", "backups.example.navarch.io"):
        assert navctl("get", word, "-o", "name").strip() == "backup.example.navarch.io/nightly"

    manifest.write_text(BACKUP.format(retain=9))
    assert navctl("apply", "-f", str(manifest)).strip() == (
        "backup.example.navarch.io/nightly configured"
    )
    got = json.loads(navctl("get", "bk", "nightly", "-o", "json"))
    assert (got["kind"], got["spec"]["retain"]) == ("Backup", 9)
    assert got["status"] == {"phase": "Pending"}  # the server's strategy set it

    # kubectl's generic describer: every field, nested by indent
    described = navctl("describe", "backup", "nightly").splitlines()
    for line in (
        "Name:         nightly",
        f"Namespace:    {navctl.namespace}",
        "API Version:  example.navarch.io/v1",
        "Kind:         Backup",
        "Spec:",
        "  Schedule:  0 3 * * *",
        "  Retain:    9",
        "Status:",
        "  Phase:  Pending",
        "Events:  <none>",
    ):
        assert line in described, described

    deleted = navctl("delete", "backup", "nightly")
    assert deleted.strip() == 'backup.example.navarch.io "nightly" deleted'
    gone = navctl.run("get", "backups")
    assert gone.returncode == 0 and "No resources found" in gone.stderr


def test_get_watch_a_kind_served_only_by_the_server(navctl, tmp_path):
    manifest = tmp_path / "backup.yaml"
    manifest.write_text(BACKUP.format(retain=1))
    navctl("apply", "-f", str(manifest))
    watcher = subprocess.Popen(
        navctl.command("get", "bk", "-w"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=navctl_env(),
    )
    lines: queue.Queue[str] = queue.Queue()
    seen: list[str] = []

    def read() -> None:
        assert watcher.stdout is not None
        for line in watcher.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()

    def rows_with(retain: str) -> bool:
        while not lines.empty():
            seen.append(lines.get())
        return any(r.split()[:1] == ["nightly"] and retain in r.split() for r in seen)

    try:
        until(lambda: rows_with("1"), "the watch lists the backup", deadline=DEADLINE)
        assert seen[0].split()[:2] == ["NAME", "SCHEDULE"]
        manifest.write_text(BACKUP.format(retain=5))
        navctl("apply", "-f", str(manifest))
        until(lambda: rows_with("5"), "the watch prints the change", deadline=DEADLINE)
    finally:
        watcher.terminate()
        watcher.wait(timeout=DEADLINE)


def test_an_unknown_type_names_the_servers_kinds_too(navctl):
    result = navctl.run("get", "widgets")
    assert result.returncode == 1
    assert 'doesn\'t have a resource type "widgets"' in result.stderr
    assert "backups (bk)" in result.stderr


def test_a_kind_a_crd_adds_while_the_server_runs(navctl):
    manifests = Path(__file__).resolve().parents[1] / "fixtures" / "manifests"
    crd = "customresourcedefinitions/crontabs.stable.example.com"
    navctl("apply", "-f", str(manifests / "crontab-crd.yaml"))
    try:
        until(
            lambda: navctl.run("get", "ct").returncode == 0,
            "navctl get ct once the CRD is served",
            deadline=DEADLINE,
        )
        created = navctl("apply", "-f", str(manifests / "my-crontab.yaml"))
        assert created.strip() == "crontab.stable.example.com/my-new-cron-object created"
        rows = [line.split() for line in navctl("get", "crontabs").splitlines()]
        assert rows[0][0] == "NAME" and rows[1][0] == "my-new-cron-object"
        deleted = navctl("delete", "crontab", "my-new-cron-object")
        assert deleted.strip() == 'crontab.stable.example.com "my-new-cron-object" deleted'
    finally:
        navctl.run("delete", crd)
