"""A private etcd server for tests and benchmarks: own data directory, own ports on
127.0.0.1, started and stopped by pid.

    with EtcdServer(tmp_path) as etcd:
        store = EtcdStore.open(EtcdOptions(endpoints=(etcd.endpoint,)))
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import grpc

from navarch.testing.daemon import DaemonProcess, free_port
from navarch_store_etcd._proto import etcd_subset_pb2 as pb


class EtcdNotAvailable(RuntimeError):
    """etcd could not be started; the message says why and what to install."""


class EtcdServer(DaemonProcess):
    def __init__(
        self,
        directory: Path,
        *,
        client_port: int | None = None,
        peer_port: int | None = None,
        extra_args: tuple[str, ...] = (),
    ):
        self.directory = Path(directory)
        self.client_port = client_port or free_port()
        self.peer_port = peer_port or free_port()
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.directory / "etcd.log"

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    def start(self, timeout: float = 30.0) -> EtcdServer:
        binary = shutil.which("etcd")
        if binary is None:
            raise EtcdNotAvailable(
                "etcd is not installed: run 'make test' (installs Debian's etcd-server)"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        client = f"http://127.0.0.1:{self.client_port}"
        peer = f"http://127.0.0.1:{self.peer_port}"
        args = [
            binary,
            "--name",
            "navarch-test",
            "--data-dir",
            str(self.directory / "data"),
            "--listen-client-urls",
            client,
            "--advertise-client-urls",
            client,
            "--listen-peer-urls",
            peer,
            "--initial-advertise-peer-urls",
            peer,
            "--initial-cluster",
            f"navarch-test={peer}",
            "--initial-cluster-state",
            "new",
            "--log-level",
            "warn",
            "--logger",
            "zap",
            "--max-request-bytes",
            str(4 << 20),
            *self.extra_args,
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "ETCD_UNSUPPORTED_ARCH": "arm64"},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EtcdNotAvailable(
                    f"etcd exited with {self.process.returncode}: {self.log_tail()}"
                )
            if self._answers():
                return self
            time.sleep(0.1)
        self.stop()
        raise EtcdNotAvailable(
            f"etcd did not answer on {self.endpoint} within {timeout}s: {self.log_tail()}"
        )

    def _answers(self) -> bool:
        with grpc.insecure_channel(self.endpoint) as channel:
            status = channel.unary_unary(
                "/etcdserverpb.Maintenance/Status",
                request_serializer=pb.StatusRequest.SerializeToString,
                response_deserializer=pb.StatusResponse.FromString,
            )
            try:
                status(pb.StatusRequest(), timeout=1)
            except grpc.RpcError:
                return False
        return True
