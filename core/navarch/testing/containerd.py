"""A private ``containerd`` for tests: Debian's containerd with its own root, state,
socket and configuration, so it never meets the machine's own containerd (nor
Docker's, nor another test's), started and stopped by pid.

    with ContainerdProcess(tmp_path / "containerd") as containerd:
        client = ContainerdClient(containerd.socket_path)

A unix socket's path holds at most 107 bytes and pytest's ``tmp_path`` is often
longer, so the socket lives in a short directory of its own under /tmp
(``/tmp/ncd…/c.sock``); the rest (root, state, config, log) under ``directory``.
The configuration disables the CRI plugin (it would start a streaming server and
look for CNI) and opens no debug or metrics listener. Needs root, as containerd does.

containerd's shims outlive it (a shim is no child of containerd: ``shim start``
daemonizes it). :meth:`ContainerdProcess.interrupt` stops containerd alone, as a crash
or a service restart does, leaving shims, containers and their mounts for a
:meth:`~ContainerdProcess.start` on the same root, state and socket to re-attach;
:meth:`~ContainerdProcess.remove` ends the shims still serving this daemon (found by
their command line in /proc, ended by pid) with their containers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Self

from navarch.testing.daemon import DaemonProcess, require_or_skip, unmount_under
from navarch.up.containerd import containerd_config, containerd_problem

CONTAINERD = "/usr/bin/containerd"
_MAX_SOCKET_PATH = 107


def start_private_containerd(directory: Path) -> ContainerdProcess:
    """A private containerd under ``directory``, started; a test that cannot have one
    fails under CI=true and is skipped elsewhere."""
    require_or_skip(containerd_problem())
    return ContainerdProcess(directory).start()


class ContainerdProcess(DaemonProcess):
    """containerd with everything under ``directory`` except its socket (see above)."""

    def __init__(self, directory: Path, *, containerd: str = CONTAINERD):
        self.directory = Path(directory)
        self.containerd = containerd
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.directory / "containerd.log"
        self._socket_dir: Path | None = None

    @property
    def root(self) -> Path:
        return self.directory / "root"

    @property
    def state(self) -> Path:
        return self.directory / "state"

    @property
    def config_path(self) -> Path:
        return self.directory / "config.toml"

    @property
    def socket_path(self) -> Path:
        if self._socket_dir is None:
            self._socket_dir = Path(tempfile.mkdtemp(prefix="ncd", dir="/tmp"))
            ttrpc = f"{self._socket_dir / 'c.sock'}.ttrpc"
            if len(ttrpc) > _MAX_SOCKET_PATH:
                raise ValueError(f"{ttrpc} is longer than a unix socket path may be")
        return self._socket_dir / "c.sock"

    def command(self) -> list[str]:
        self.config_path.write_text(
            containerd_config(
                root=self.root,
                state=self.state,
                socket_path=self.socket_path,
                opt=self.directory / "opt",
            )
        )
        return [self.containerd, "--config", str(self.config_path)]

    def start(self, timeout: float = 60.0) -> Self:
        if not os.access(self.containerd, os.X_OK):
            raise RuntimeError(
                f"{self.containerd} is missing: install Debian's containerd (make system-deps)"
            )
        if os.geteuid() != 0:
            raise RuntimeError("containerd needs root")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.socket_path.unlink(missing_ok=True)
        # containerd reads no environment of ours it needs; proxies must not apply
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        self._launch_until_ready(
            self.command(), env, self.answers, timeout, "containerd", "Version"
        )
        return self

    def answers(self) -> bool:
        """Whether containerd's Version call answers now."""
        return _version_answers(self.socket_path)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, SIGKILL after ``timeout``; then unmount what it left under its root
        and state (snapshot mounts of a hard stop)."""
        super().stop(timeout)
        unmount_under((self.root, self.state))

    def interrupt(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        """Stop containerd alone with ``sig`` (SIGTERM: a service stop; SIGKILL: a
        crash) and wait for it to exit; its shims, their containers and mounts stay."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout)

    def restart(self, timeout: float = 60.0) -> Self:
        self.stop()
        return self.start(timeout)

    def shim_pids(self, namespace: str | None = None) -> list[int]:
        """Pids of the shims serving this containerd (in ``namespace``, or in any)."""
        return shim_pids(self.socket_path, namespace)

    def remove(self) -> None:
        """Stop, end the shims left serving it (and their containers: killing a
        container's first process ends its pid namespace), then delete the directory
        and the socket's."""
        self.stop()
        end_shims(self.socket_path)
        unmount_under((self.root, self.state))
        shutil.rmtree(self.directory, ignore_errors=True)
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)


def end_shims(socket_path: Path) -> None:
    """End the shims still serving the containerd at ``socket_path`` and their
    containers (killing a container's first process ends its pid namespace)."""
    for pid in shim_pids(socket_path):
        for child in _children(pid):
            _kill(child)
        _kill(pid)


def shim_pids(socket_path: Path, namespace: str | None = None) -> list[int]:
    """Pids of the runc shims serving the containerd at ``socket_path`` (in
    ``namespace``, or in any), read from their command lines in /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = [word.decode(errors="replace") for word in _cmdline(entry)]
        except OSError:
            continue  # ended while looking
        if not argv or not argv[0].endswith("containerd-shim-runc-v2"):
            continue
        if _flag(argv, "-address") != str(socket_path):
            continue
        if namespace is None or _flag(argv, "-namespace") == namespace:
            found.append(int(entry.name))
    return sorted(found)


def _cmdline(entry: Path) -> list[bytes]:
    return entry.joinpath("cmdline").read_bytes().rstrip(b"\0").split(b"\0")


def _flag(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv[:-1] else None


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # the parent's pid follows the state, after the command's ")"
            fields = entry.joinpath("stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(entry.name))
    return children


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _version_answers(path: Path, timeout: float = 2.0) -> bool:
    """One raw Version call (empty request bytes, the answer's bytes ignored)."""
    # grpcio comes with the containerd runtime plugin, the only user of this fixture;
    # imported here so that importing navarch.testing needs no grpcio.
    import grpc

    with grpc.insecure_channel(f"unix://{path}") as channel:
        call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
            "/containerd.services.version.v1.Version/Version"
        )
        try:
            call(b"", timeout=timeout, metadata=(("containerd-namespace", "default"),))
        except grpc.RpcError:
            return False
    return True
