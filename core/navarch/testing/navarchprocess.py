"""``navarch <command>`` (scheduler, agent, controllers …) as a test's private daemon:
a configuration file of its own under a directory, its log beside it, stopped by pid."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import yaml

from navarch.testing.daemon import DaemonProcess


class NavarchProcess(DaemonProcess):
    """``config`` is the whole configuration file (``data_dir``, ``kubeconfig``, …);
    ``start`` returns once the process runs (readiness is the test's to wait for)."""

    def __init__(self, directory: Path, command: str, config: dict[str, Any]):
        self.directory = Path(directory)
        self.command = command
        self.config = config
        self.log_path = self.directory / f"{command}.log"

    def start(self, timeout: float = 30.0) -> NavarchProcess:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{self.command}.yaml"
        path.write_text(yaml.safe_dump(self.config))
        env = {k: v for k, v in os.environ.items() if not k.startswith("NAVARCH_")}
        command = [sys.executable, "-m", "navarch.cli.navarch", "--config", str(path)]
        self._launch_until_ready(
            [*command, self.command], env, lambda: True, timeout, f"navarch {self.command}", "start"
        )
        return self

    def kill(self) -> None:
        """SIGKILL: the daemon dies outright, nothing cleaned up or released."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
