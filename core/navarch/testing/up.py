"""``navarch up`` as a test's (or a benchmark's) private cluster, nodes that join it
as separate agent processes, and a command-line client (navctl or the real kubectl)
pointed at it.

    with UpProcess(tmp / "up", nodes=2, runtime="containerd") as up:
        worker = up.join_agent("node-3").start()        # a node of its own process
        cli = ClusterCli.navctl(up.kubeconfig)
        cli("get", "nodes")
        worker.kill()                                   # SIGKILL: the node dies
    # stop (SIGTERM), then `navarch down --purge`: no container, no data left

With ``runtime="containerd"`` the cluster runs on a containerd of its own (the
configured socket is one nothing answers on, so ``up`` starts the cluster's own under
its data directory): the machine's containerd, if any, is never touched. With
``runtime="docker"``, ``runtime_options`` names a private dockerd's socket.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import orjson
import yaml

from navarch.testing.daemon import DaemonProcess, free_port, unmount_under
from navarch.testing.navarchprocess import NavarchProcess
from navarch.up.join import worker_dir

READY_BANNER = "Navarch is up"
CLI_TIMEOUT = 180.0


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("NAVARCH_")}


class UpProcess(DaemonProcess):
    def __init__(
        self,
        directory: Path,
        *,
        nodes: int = 3,
        runtime: str = "containerd",
        runtime_options: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ):
        self.directory = Path(directory)
        self.nodes = nodes
        self.runtime = runtime
        if runtime_options is None and runtime == "containerd":
            # nothing answers here: up starts the cluster's own containerd
            runtime_options = {"socket": str(self.directory / "no-containerd.sock")}
        self.runtime_options = runtime_options or {}
        self.port = free_port()
        self.settings = settings or {}
        self.log_path = self.directory / "up.log"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "admin.kubeconfig"

    @property
    def config_path(self) -> Path:
        return self.directory / "navarch.yaml"

    def config(self) -> dict[str, Any]:
        return {
            "data_dir": str(self.data_dir),
            "api": {"port": self.port},
            "runtime": {"name": self.runtime, "options": self.runtime_options},
            "log": {"format": "json", "level": "INFO"},
            **self.settings,
        }

    def navarch(self, *args: str, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
        """``navarch --config <this cluster's> ARGS`` (``down``, ``token add`` …)."""
        return subprocess.run(
            [sys.executable, "-m", "navarch.cli.navarch", "--config", str(self.config_path), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=_clean_env(),
        )

    def start(self, timeout: float = 180.0) -> Self:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(self.config()))
        command = [
            sys.executable,
            "-m",
            "navarch.cli.navarch",
            "--config",
            str(self.config_path),
            "up",
            "--nodes",
            str(self.nodes),
            "--runtime",
            self.runtime,
        ]
        # the log is appended to: only this start's banner counts
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._launch_until_ready(
            command, _clean_env(), lambda: self._ready(offset), timeout, "navarch up", "its banner"
        )
        return self

    def _ready(self, offset: int) -> bool:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(offset)
                return READY_BANNER.encode() in log.read()
        except OSError:
            return False

    def state(self) -> dict[str, Any]:
        """up.json: the runtime and options the cluster runs on, its nodes."""
        return orjson.loads((self.data_dir / "up.json").read_bytes())

    def join_agent(self, name: str) -> NavarchProcess:
        """An agent process for node ``name`` on the cluster's runtime, joining with a
        node token (``navarch token add --role node``), as a worker machine would."""
        result = self.navarch("token", "add", "--role", "node", "--name", name, "-o", "kubeconfig")
        if result.returncode != 0:
            raise RuntimeError(f"navarch token add: {result.stderr}")
        # where `navarch join` keeps a worker: `navarch down` removes its containers too
        directory = worker_dir(self.data_dir, name)
        directory.mkdir(parents=True, exist_ok=True)
        kubeconfig = directory / "node.kubeconfig"
        kubeconfig.write_text(result.stdout)
        state = self.state()
        config = {
            "kubeconfig": str(kubeconfig),
            "data_dir": str(directory),
            "log": {"format": "json", "level": "INFO"},
            "runtime": {"name": state["runtime"], "options": state["runtime_options"]},
            "agent": {"node_name": name, "node_ip": "127.0.0.1", "address": "127.0.0.1", "port": 0},
        }
        return NavarchProcess(directory, "agent", config)

    def down(self, *, purge: bool = True) -> subprocess.CompletedProcess[str]:
        return self.navarch("down", *(["--purge"] if purge else []))

    def __exit__(self, *exc: object) -> None:
        self.stop(timeout=60.0)
        if self.data_dir.joinpath("up.json").exists():
            result = self.down()
            if result.returncode != 0:
                raise RuntimeError(f"navarch down --purge failed: {result.stderr}")
        # what a joined agent's pods left mounted (network namespaces), if any
        unmount_under([self.directory])


class ClusterCli:
    """navctl or kubectl with a kubeconfig: ``cli(*args)`` returns its output and fails
    on a non-zero exit; ``cli.json(*args)`` decodes ``-o json``."""

    def __init__(self, command: Sequence[str], kubeconfig: Path, name: str):
        self.command = list(command)
        self.kubeconfig = kubeconfig
        self.name = name

    @classmethod
    def navctl(cls, kubeconfig: Path) -> ClusterCli:
        return cls([sys.executable, "-m", "navarch.cli.navctl"], kubeconfig, "navctl")

    @classmethod
    def kubectl(cls, kubeconfig: Path) -> ClusterCli:
        import shutil

        binary = shutil.which("kubectl")
        if binary is None:
            raise RuntimeError("kubectl is not installed on this machine")
        return cls([binary], kubeconfig, "kubectl")

    def run(
        self, *args: str, input: str | None = None, timeout: float = CLI_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command, "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            input=input,
            timeout=timeout,
            env=_clean_env(),
        )

    def __call__(self, *args: str, input: str | None = None, timeout: float = CLI_TIMEOUT) -> str:
        result = self.run(*args, input=input, timeout=timeout)
        if result.returncode != 0:
            raise AssertionError(
                f"{self.name} {' '.join(args)} exited {result.returncode}: "
                f"{result.stderr}{result.stdout[-2000:]}"
            )
        return result.stdout

    def json(self, *args: str) -> Any:
        return orjson.loads(self(*args, "-o", "json"))
