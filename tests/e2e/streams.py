"""Helpers for the tests of kubectl's and navctl's streaming commands (port-forward,
attach, cp) with real runtimes: the web pod's script, a port-forward process read
for its local ports, kubectl runs."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from navarch.testing.apiserver import ApiServerProcess
from tests.agent.conftest import DEADLINE

# Two web servers in the pod's namespace, on its loopback only; a big file to show
# data beyond one SPDY window flows intact.
WEB = (
    "mkdir -p /a /b; echo alpha > /a/index.html; echo beta > /b/index.html; "
    "seq 1 200000 > /a/big; "
    "httpd -p 127.0.0.1:8080 -h /a; httpd -p 127.0.0.1:9090 -h /b; exec sleep 3600"
)
BIG = "".join(f"{i}\n" for i in range(1, 200001)).encode()


def kubectl_binary() -> str:
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.fail("kubectl is not installed on this machine; these tests need it")
    return binary


class PortForward:
    """A ``kubectl port-forward`` (or ``navctl port-forward``) process, its local ports
    read from its "Forwarding from 127.0.0.1:LOCAL -> REMOTE" lines."""

    def __init__(
        self,
        command: list[str],
        remote_ports: list[int],
        log: Path,
        env: dict[str, str] | None = None,
    ):
        self.log = log
        self._out = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env} if env is not None else None,
        )
        self.local: dict[int, int] = {}
        deadline = time.monotonic() + DEADLINE
        while len(self.local) < len(remote_ports):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"port-forward did not start: {self.output()}")
            for local, remote in re.findall(
                r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)", self.output()
            ):
                self.local[int(remote)] = int(local)
            time.sleep(0.1)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def get(self, remote: int, path: str = "/index.html") -> bytes:
        url = f"http://127.0.0.1:{self.local[remote]}{path}"
        with urllib.request.urlopen(url, timeout=30) as response:
            return bytes(response.read())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._out.close()


def kubectl_port_forward(
    api_server: ApiServerProcess, target: str, *ports: int, log: Path
) -> PortForward:
    command = [kubectl_binary(), "--kubeconfig", str(api_server.kubeconfig), "port-forward"]
    command += ["--address", "127.0.0.1", target, *(f":{p}" for p in ports)]
    return PortForward(command, list(ports), log)


def answered(forward: PortForward, remote: int, path: str = "/index.html") -> bytes | None:
    """The answer through the forward, or None while the server is not up yet."""
    try:
        return forward.get(remote, path)
    except (urllib.error.URLError, ConnectionError, OSError):
        return None


async def until_answered(forward: PortForward, remote: int) -> bytes:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        body = await asyncio.to_thread(answered, forward, remote)
        if body is not None:
            return body
        await asyncio.sleep(0.5)
    pytest.fail(f"nothing answered through port-forward to {remote}: {forward.output()}")


async def kubectl(
    api_server: ApiServerProcess, *args: str, stdin: bytes | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    command = [kubectl_binary(), "--kubeconfig", str(api_server.kubeconfig), *args]
    return await asyncio.to_thread(
        subprocess.run,
        command,
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        timeout=DEADLINE,
        cwd=cwd,
    )
