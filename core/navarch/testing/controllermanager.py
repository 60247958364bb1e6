"""A private controller manager (``navarch controllers``) for tests: its own config
file and log under a directory, pointed at a test API server's kubeconfig."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from navarch.testing.daemon import DaemonProcess

STARTED = "controllers starting"


class ControllerManagerProcess(DaemonProcess):
    """``settings`` are configuration sections merged into the file (``controllers``,
    ``leader_election`` …; the log level must stay INFO or finer: readiness is the
    INFO line saying the controllers started). ``start(wait_leading=False)`` returns
    once the process runs, without waiting for it to lead (a second copy never does
    while the first holds the Lease)."""

    def __init__(
        self, directory: Path, kubeconfig: Path, *, settings: dict[str, Any] | None = None
    ):
        self.directory = Path(directory)
        self.kubeconfig = Path(kubeconfig)
        self.settings = settings or {}
        self.log_path = self.directory / "controllers.log"

    def start(
        self, timeout: float = 30.0, *, wait_leading: bool = True
    ) -> ControllerManagerProcess:
        self.directory.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {
            "log": {"format": "json", "level": "INFO"},
            "data_dir": str(self.directory / "data"),
            "kubeconfig": str(self.kubeconfig),
            **self.settings,
        }
        config_path = self.directory / "navarch.yaml"
        config_path.write_text(yaml.safe_dump(config))
        env = {k: v for k, v in os.environ.items() if not k.startswith("NAVARCH_")}
        command = [sys.executable, "-m", "navarch.cli.navarch", "--config", str(config_path)]
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._launch_until_ready(
            [*command, "controllers"],
            env,
            lambda: not wait_leading or self.leading_since(offset),
            timeout,
            "navarch controllers",
            f"{STARTED!r} in its log",
        )
        return self

    def leading_since(self, offset: int = 0) -> bool:
        """Whether the log (from byte ``offset``) says the controllers started."""
        if not self.log_path.exists():
            return False
        with open(self.log_path, "rb") as log:
            log.seek(offset)
            return STARTED.encode() in log.read()

    def wait_leading(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.leading_since():
                return
            time.sleep(0.1)
        raise AssertionError(f"the controller manager never led: {self.log_tail()}")
