"""A private ``dockerd`` for tests: Debian's ``docker.io`` with its own data root, exec
root, pidfile, socket and containerd namespaces under one directory, so it never meets
the machine's own Docker (nor another test's), started and stopped by pid.

    with DockerdProcess(Path(tempfile.mkdtemp(prefix="nd", dir="/tmp"))) as dockerd:
        runtime = DockerRuntime(DockerOptions(socket=dockerd.socket_url))

A unix socket's path holds at most 107 bytes, so give it a short directory (pytest's
``tmp_path`` is often too long). Needs root, as dockerd does.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from navarch.testing.containerd import end_shims
from navarch.testing.daemon import DaemonProcess, unmount_under

DOCKERD = "/usr/sbin/dockerd"
_MAX_SOCKET_PATH = 107


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("docker", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def engine_get(socket_path: Path, path: str, timeout: float = 5.0) -> tuple[int, Any]:
    """``GET path`` on the engine at ``socket_path``: (status, decoded JSON or text)."""
    connection = _UnixHTTPConnection(str(socket_path), timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    try:
        return response.status, json.loads(body)
    except ValueError:
        return response.status, body.decode(errors="replace")


def dockerd_problem(dockerd: str = DOCKERD) -> str | None:
    """Why a private dockerd cannot run on this machine; None when it can."""
    if not os.access(dockerd, os.X_OK):
        return f"{dockerd} is missing: install Debian's docker.io (make system-deps)"
    if os.geteuid() != 0:
        return "dockerd needs root"
    return None


class DockerdProcess(DaemonProcess):
    """dockerd without bridge or iptables rules: containers get ``none``, ``host`` or
    another container's network, which is all the runtime plugin uses."""

    def __init__(self, directory: Path, *, dockerd: str = DOCKERD):
        self.directory = Path(directory)
        self.dockerd = dockerd
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.directory / "dockerd.log"
        # One namespace per directory: containerd keeps this daemon's objects apart
        # from any other dockerd sharing the same containerd.
        # containerd's rule: ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$ — a temp dir's
        # name may hold "_" or end in one, so keep letters and digits only.
        self.namespace = "navarch-" + "".join(c for c in self.directory.name if c.isalnum())
        if len(str(self.socket_path)) > _MAX_SOCKET_PATH:
            raise ValueError(
                f"{self.socket_path} is longer than a unix socket path may be "
                f"({_MAX_SOCKET_PATH} bytes): give DockerdProcess a shorter directory, "
                "e.g. tempfile.mkdtemp(prefix='nd', dir='/tmp')"
            )

    @property
    def socket_path(self) -> Path:
        return self.directory / "docker.sock"

    @property
    def socket_url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def data_root(self) -> Path:
        return self.directory / "data"

    @property
    def exec_root(self) -> Path:
        return self.directory / "exec"

    @property
    def pidfile(self) -> Path:
        return self.directory / "dockerd.pid"

    def command(self) -> list[str]:
        config = self.directory / "daemon.json"
        # An empty configuration of its own: the machine's /etc/docker/daemon.json
        # (mirrors, a data root, log drivers …) must not leak into a test.
        config.write_text("{}\n")
        return [
            self.dockerd,
            "--config-file", str(config),
            "--data-root", str(self.data_root),
            "--exec-root", str(self.exec_root),
            "--pidfile", str(self.pidfile),
            "-H", self.socket_url,
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-masq=false",
            "--containerd-namespace", self.namespace,
            "--containerd-plugins-namespace", self.namespace + "-plugins",
        ]  # fmt: skip

    def start(self, timeout: float = 60.0) -> DockerdProcess:
        if not os.access(self.dockerd, os.X_OK):
            raise RuntimeError(
                f"{self.dockerd} is missing: install Debian's docker.io (make system-deps)"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        self.socket_path.unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        self._launch_until_ready(self.command(), env, self.answers, timeout, "dockerd", "/_ping")
        return self

    def answers(self) -> bool:
        """Whether ``GET /_ping`` answers OK now."""
        try:
            status, _ = engine_get(self.socket_path, "/_ping", timeout=2.0)
        except OSError:
            return False
        return status == 200

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (dockerd stops its containers and its containerd), SIGKILL after
        ``timeout``; then whatever it left: its containerd, the shims that containerd
        left (a container whose start a test cut short by killing the daemons stays
        in runc's init, holding its mounts: seen once after a CI run; without
        live-restore no container outlives a dockerd restart anyway), mounts under its
        roots."""
        super().stop(timeout)
        self._stop_own_containerd()
        end_shims(self.exec_root / "containerd" / "containerd.sock")
        unmount_under((self.data_root, self.exec_root))

    def restart(self, timeout: float = 60.0) -> DockerdProcess:
        """Stop and start again with the same roots and socket (images and stopped
        containers remain; running ones stop, as on any dockerd restart)."""
        self.stop()
        return self.start(timeout)

    def _stop_own_containerd(self) -> None:
        """The containerd dockerd started for itself (when no system one runs) dies
        with it on SIGTERM; after a SIGKILL it would linger, so end it by its pid."""
        pidfile = self.exec_root / "containerd" / "containerd.pid"
        try:
            pid = int(pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if str(self.exec_root).encode() not in cmdline:
            return  # not ours (a recycled pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    def remove(self) -> None:
        """Stop, then delete the directory and all it holds."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
