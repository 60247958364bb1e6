"""A containerd of the cluster's own, for ``navarch up`` on a machine where containerd
is installed but not running: Debian's containerd with its root, state, socket and
configuration under the data directory, so it never meets the machine's own
containerd (nor Docker's).

It runs in a session of its own, so a Ctrl-C meant for ``navarch up`` reaches it only
through ``up``'s orderly stop, and it outlives a ``navarch up`` that was killed: the
next ``up`` finds it answering and carries on with it. Its pid is kept in
``containerd.pid``; only that pid is signalled while the cluster runs. The shims (one
per container) outlive containerd itself, so containers keep running while it
restarts; ``navarch down`` ends those still running in its state directory once
everything was removed through it (:meth:`PrivateContainerd.end_leftovers`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

from loguru import logger

CONTAINERD = "/usr/bin/containerd"
# sun_path holds 107 bytes, and containerd adds ".ttrpc" to the socket's path.
_MAX_SOCKET_PATH = 107 - len(".ttrpc")
# Plugins a private daemon does not load: CRI (a server for the kubelet, a streaming
# port, CNI) and snapshotters needing file systems or devices most machines lack.
DISABLED_PLUGINS = (
    "io.containerd.grpc.v1.cri",
    "io.containerd.snapshotter.v1.aufs",
    "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.devmapper",
    "io.containerd.snapshotter.v1.zfs",
    "io.containerd.tracing.processor.v1.otlp",
    "io.containerd.internal.v1.tracing",
)

log = logger.bind(component="containerd")


def containerd_config(
    *,
    root: Path,
    state: Path,
    socket_path: Path,
    opt: Path,
    disabled_plugins: tuple[str, ...] = DISABLED_PLUGINS,
) -> str:
    """A containerd 1.6 configuration (version 2) for a private daemon: no TCP, debug
    or metrics listener, nothing outside the given paths."""
    disabled = ", ".join(f'"{name}"' for name in disabled_plugins)
    return (
        "version = 2\n"
        f'root = "{root}"\n'
        f'state = "{state}"\n'
        f"disabled_plugins = [{disabled}]\n"
        "\n[grpc]\n"
        f'  address = "{socket_path}"\n'
        '  tcp_address = ""\n'
        "\n[ttrpc]\n"
        f'  address = "{socket_path}.ttrpc"\n'
        "\n[debug]\n"
        '  address = ""\n'
        '  level = "info"\n'
        "\n[metrics]\n"
        '  address = ""\n'
        '\n[plugins."io.containerd.internal.v1.opt"]\n'
        f'  path = "{opt}"\n'
    )


def containerd_problem(containerd: str = CONTAINERD) -> str | None:
    """Why a private containerd cannot run here; None when it can."""
    if not os.access(containerd, os.X_OK):
        return f"{containerd} is missing (Debian: apt-get install containerd runc)"
    if os.geteuid() != 0:
        return "containerd needs root (run navarch up as root)"
    return None


class PrivateContainerd:
    """The cluster's containerd under ``directory`` (its data dir's ``containerd/``)."""

    def __init__(self, directory: Path, *, containerd: str = CONTAINERD):
        self.directory = Path(directory)
        self.containerd = containerd
        self._process: subprocess.Popen[bytes] | None = None  # when started here
        self._seen_pid: int | None = None  # the last pid found running, to reap it

    @property
    def socket_path(self) -> Path:
        """Under the directory when the path is short enough for a unix socket, else
        in a directory of /run named after it."""
        inside = self.directory / "containerd.sock"
        if len(str(inside)) <= _MAX_SOCKET_PATH:
            return inside
        digest = hashlib.sha256(str(self.directory).encode()).hexdigest()[:12]
        return Path(f"/run/navarch-{digest}/containerd.sock")

    @property
    def root(self) -> Path:
        return self.directory / "root"

    @property
    def state(self) -> Path:
        return self.directory / "state"

    @property
    def pid_file(self) -> Path:
        return self.directory / "containerd.pid"

    @property
    def log_path(self) -> Path:
        return self.directory / "containerd.log"

    def pid(self) -> int | None:
        """The pid of the containerd this directory started, when it still runs."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if not _is_containerd(pid, self.directory / "config.toml"):
            return None
        self._seen_pid = pid
        return pid

    def start(self) -> int:
        """Launch it (detached) and return its pid; the caller waits until it answers.
        A containerd this directory started that still runs is kept."""
        running = self.pid()
        if running is not None:
            log.bind(pid=running).info("the cluster's containerd is running; keeping it")
            return running
        problem = containerd_problem(self.containerd)
        if problem is not None:
            raise RuntimeError(problem)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.socket_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.socket_path.unlink(missing_ok=True)
        config = self.directory / "config.toml"
        config.write_text(
            containerd_config(
                root=self.root,
                state=self.state,
                socket_path=self.socket_path,
                opt=self.directory / "opt",
            )
        )
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        with open(self.log_path, "ab") as output:
            process = subprocess.Popen(
                [self.containerd, "--config", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                env=env,
                start_new_session=True,
            )
        self._process = process
        self.pid_file.write_text(f"{process.pid}\n")
        log.bind(pid=process.pid, socket=str(self.socket_path), log=str(self.log_path)).info(
            "started the cluster's containerd"
        )
        return process.pid

    def exited(self) -> bool:
        if self._process is not None:
            # not pid(): right after the fork the child's command line is still ours
            return self._process.poll() is not None
        return self.pid() is None

    def reap(self) -> None:
        """Collect the exit status of the containerd that ended, when it was a child of
        this process (a previous ``up`` may have started it), so no zombie is left."""
        if self._process is not None:
            self._process.poll()
        elif self._seen_pid is not None:
            _reap(self._seen_pid)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (SIGKILL after ``timeout``); its shims and containers stay."""
        pid = self.pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and alive(pid):
            _reap(pid)
            time.sleep(0.05)
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _reap(pid)
        self.pid_file.unlink(missing_ok=True)
        log.bind(pid=pid).info("stopped the cluster's containerd")

    def leftover_processes(self) -> list[int]:
        """Processes still running in this containerd's state directory: shims (their
        working directory is their container's bundle there) and container processes
        (their root is the bundle's rootfs). Found by where they run, not by name, so
        that another containerd's shims are never taken for ours."""
        state = str(self.state.resolve()) + "/"
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            for link in ("cwd", "root"):
                with contextlib.suppress(OSError):
                    if (os.readlink(entry / link) + "/").startswith(state):
                        found.append(int(entry.name))
                        break
        return sorted(pid for pid in found if alive(pid))

    def end_leftovers(self, timeout: float = 10.0) -> list[int]:
        """SIGKILL what :meth:`leftover_processes` finds, once containerd itself is
        stopped and every container was stopped through it with its grace period: the
        shims of a containerd that died are not its children, and nothing else ends
        them. Returns their pids."""
        leftovers = self.leftover_processes()
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(alive(pid) for pid in leftovers):
            time.sleep(0.05)
        if leftovers:
            log.bind(pids=leftovers).warning(
                "ended processes left in the cluster's containerd state directory"
            )
        return leftovers


def _is_containerd(pid: int, config: Path) -> bool:
    """Whether ``pid`` is a containerd started with ``config`` (not a reused pid)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    if state == "Z":
        return False
    return bool(argv) and argv[0].endswith(b"containerd") and str(config).encode() in argv


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, ended but not yet reaped by its parent, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _reap(pid: int) -> None:
    """Collect the exit status when it is our child (it is, unless up restarted)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
