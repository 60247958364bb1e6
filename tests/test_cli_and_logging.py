"""Entry points and logging: version, navctl, text and JSON log lines."""

from __future__ import annotations

import io
import json
import subprocess
import sys

from loguru import logger

from navarch import __version__
from navarch.logs import configure_logging

from .conftest import run_cli


def test_navarch_version():
    result = run_cli("version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"navarch {__version__}"
    assert __version__ == "0.1.0"


def test_navctl_is_installed_and_answers():
    result = subprocess.run(
        [sys.executable, "-m", "navarch.cli.navctl", "version", "--client"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"Client Version: navctl {__version__}"


def test_json_log_lines_carry_bound_fields():
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    try:
        logger.bind(pod="default/web", node="n1").info("bound")
        logger.debug("not shown at INFO")
    finally:
        logger.remove()
        logger.disable("navarch")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["message"] == "bound"
    assert record["level"] == "INFO"
    assert (record["pod"], record["node"]) == ("default/web", "n1")
    assert "time" in record


def test_text_log_lines_are_readable():
    stream = io.StringIO()
    configure_logging("DEBUG", "text", stream)
    try:
        logger.bind(pod="default/web").warning("evicted")
    finally:
        logger.remove()
        logger.disable("navarch")
    line = stream.getvalue().strip()
    assert "WARNING" in line and "evicted pod=default/web" in line
    assert not line.startswith("{")


def test_library_is_silent_until_configured():
    code = (
        "from navarch.plugins import build_plugin_manager\n"
        "build_plugin_manager(['not-installed'])\n"  # would log a warning if enabled
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert result.stdout == "" and result.stderr == ""


def test_cli_json_logs_warning_for_unknown_variable():
    result = run_cli("--log-format", "json", "config", "show", env={"NAVARCH_API_PROT": "1"})
    assert result.returncode == 0
    record = json.loads(result.stderr.splitlines()[0])
    assert record["variable"] == "NAVARCH_API_PROT"
    assert record["level"] == "WARNING"


def test_server_print_kubeconfig(tmp_path):
    import base64

    import yaml

    result = run_cli("--data-dir", str(tmp_path), "server", "--print-kubeconfig")
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    cluster = config["clusters"][0]["cluster"]
    assert cluster["server"] == "https://127.0.0.1:6443"
    assert base64.b64decode(cluster["certificate-authority-data"]).startswith(
        b"-----BEGIN CERTIFICATE"
    )
    token = config["users"][0]["user"]["token"]
    assert f"{token},admin,admin,system:masters" in (tmp_path / "tokens.csv").read_text()


def test_token_add_prints_a_token_for_the_role(tmp_path):
    result = run_cli(
        "--data-dir", str(tmp_path), "token", "add", "--role", "node", "--name", "worker-1"
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert (
        f"{token},system:node:worker-1,system:node:worker-1,system:nodes"
        in (tmp_path / "tokens.csv").read_text()
    )


def test_server_refuses_plain_http_off_loopback(tmp_path):
    result = run_cli(
        "--data-dir",
        str(tmp_path),
        "--set",
        "api.tls=false",
        "--set",
        "api.address=10.1.2.3",
        "--set",
        "store.name=lmdb",
        "server",
    )
    assert result.returncode == 2
    assert "only on a loopback address" in result.stderr
