"""A private ``navarch server`` process for tests: own data directory and port on
127.0.0.1, LMDB store, started and stopped by pid.

    with ApiServerProcess(tmp_path) as server:
        kubeconfig = server.kubeconfig    # admin kubeconfig (HTTPS, the server's CA)
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

from navarch.testing.daemon import DaemonProcess, free_port


class ApiServerProcess(DaemonProcess):
    def __init__(self, directory: Path, *, settings: dict | None = None, port: int | None = None):
        self.directory = Path(directory)
        self.port = port or free_port()
        self.settings = settings or {}
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.directory / "apiserver.log"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "admin.kubeconfig"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ApiServerProcess:
        self.directory.mkdir(parents=True, exist_ok=True)
        config: dict = {"log": {"format": "json", "level": "INFO"}}
        for section, values in self.settings.items():
            config[section] = (
                {**config.get(section, {}), **values} if isinstance(values, dict) else values
            )
        # The test's own directory and port always win.
        config["data_dir"] = str(self.data_dir)
        config["api"] = {**config.get("api", {}), "port": self.port, "address": "127.0.0.1"}
        config_path = self.directory / "navarch.yaml"
        config_path.write_text(yaml.safe_dump(config))
        env = {k: v for k, v in os.environ.items() if not k.startswith("NAVARCH_")}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "navarch.cli.navarch",
                    "--config",
                    str(config_path),
                    "server",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"navarch server exited with {self.process.returncode}: {self.log_tail()}"
                )
            if self.kubeconfig.exists() and self._ready():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"navarch server did not become ready in {timeout}s: {self.log_tail()}")

    def _ready(self) -> bool:
        context = ssl.create_default_context(cafile=str(self.data_dir / "pki" / "ca.crt"))
        try:
            with urllib.request.urlopen(
                f"{self.url}/readyz", timeout=1, context=context
            ) as response:
                return response.status == 200
        except OSError:
            return False
