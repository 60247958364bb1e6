"""Pieces of the pod network end-to-end tests (tests/network/test_pod_network_*.py):
a node namespace with a ``navarch agent`` (runtime containerd, agent.network=cni)
started in it under ``nsenter --net``, and a relay that lets that agent reach the
test's API server on the host's 127.0.0.1.

The relay is a socket of the test process made inside the node's namespace (a
thread enters it with ``setns`` only to make the socket: a socket keeps the
namespace it was made in) listening on the node's own 127.0.0.1, each connection
passed on to the API server from the host's namespace. Nothing changes in either
namespace."""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import yaml

from navarch.testing import netns

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _listener_in(netns_path: str, port: int) -> socket.socket:
    made: list[socket.socket] = []
    errors: list[BaseException] = []

    def make() -> None:  # a thread of its own, which ends here
        try:
            target = os.open(netns_path, os.O_RDONLY)
            try:
                if _libc.setns(target, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns")
            finally:
                os.close(target)
            sock = socket.create_server(("127.0.0.1", port))
            sock.setblocking(False)
            made.append(sock)
        except BaseException as exc:  # handed to the caller
            errors.append(exc)

    thread = threading.Thread(target=make)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return made[0]


class ApiRelay:
    """Node namespace 127.0.0.1:``port`` -> host 127.0.0.1:``port``, in a thread."""

    def __init__(self, node: netns.TestNetns, port: int):
        self.listener = _listener_in(node.path, port)
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self.server = await asyncio.start_server(self._relay, sock=self.listener)
        self._stopped = asyncio.Event()
        await self._stopped.wait()
        self.server.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            _pump(reader, up_writer), _pump(up_reader, writer), return_exceptions=True
        )

    def close(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(lambda: self._stopped.set())
        self.thread.join(timeout=10)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


class NodeAgent:
    """``navarch agent --runtime containerd`` with the cni network plugin, run inside
    the node namespace ``node``."""

    def __init__(
        self,
        directory: Path,
        node: netns.TestNetns,
        kubeconfig: Path,
        containerd_socket: Path,
        *,
        name: str,
        node_ip: str,
        pod_cidr: str,
        network_options: dict[str, Any] | None = None,
    ):
        self.node, self.name = node, name
        self.namespace = f"a{uuid.uuid4().hex[:12]}"  # containerd namespace of its own
        self.data_dir = directory / "data"
        self.log_path = directory / "agent.log"
        self.config_path = directory / "agent.yaml"
        self.process: subprocess.Popen[bytes] | None = None
        self.config: dict[str, Any] = {
            "data_dir": str(self.data_dir),
            "kubeconfig": str(kubeconfig),
            "log": {"format": "json"},
            "runtime": {
                "name": "containerd",
                "options": {"socket": str(containerd_socket), "namespace": self.namespace},
            },
            "agent": {
                "node_name": name,
                "node_ip": node_ip,
                "address": "127.0.0.1",
                "port": 0,
                "lease_renew_seconds": 1,
                "relist_seconds": 1,
                "backoff_initial_seconds": 1,
                "backoff_max_seconds": 4,
                "network": "cni",
                "network_options": {"cluster_cidr": "10.42.0.0/16", **(network_options or {})},
                "pod_cidr": pod_cidr,
            },
        }

    @property
    def ipam_dir(self) -> Path:
        return self.data_dir / "network" / self.name / "ipam" / "navarch"

    def allocated(self) -> list[str]:
        """Addresses host-local holds for this node's pods."""
        return sorted(p.name for p in self.ipam_dir.glob("10.*")) if self.ipam_dir.is_dir() else []

    def veths(self) -> list[str]:
        done = self.node.ip("-j", "link", "show", "type", "veth")
        return [link["ifname"] for link in json.loads(done.stdout or "[]")]

    def routes(self) -> list[dict[str, Any]]:
        return json.loads(self.node.ip("-j", "route", "show", "proto", "151").stdout or "[]")

    def start(self) -> None:
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(self.config))
        env = {k: v for k, v in os.environ.items() if not k.startswith("NAVARCH_")}
        command = [sys.executable, "-m", "navarch.cli.navarch", "--config"]
        command += [str(self.config_path), "agent"]
        with open(self.log_path, "ab") as out:
            self.process = self.node.popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: nothing cleaned up."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no agent log)"
