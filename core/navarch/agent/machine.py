"""What the agent reads off its machine for the Node: capacity, addresses, system
information (``kubectl describe node`` shows it; the scheduler packs against it)."""

from __future__ import annotations

import os
import platform
import socket
from collections.abc import Mapping
from pathlib import Path

import attrs

# Go's names, which Kubernetes labels and image platforms use.
_GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le"}
DEFAULT_MAX_PODS = 110


@attrs.frozen
class Machine:
    hostname: str
    cpus: int
    memory_bytes: int
    architecture: str
    kernel_version: str
    os_image: str
    machine_id: str
    boot_id: str

    def capacity(self, overrides: Mapping[str, object]) -> dict[str, str]:
        """cpu, memory and pods as Kubernetes quantities, ``overrides`` winning."""
        detected = {
            "cpu": str(self.cpus),
            "memory": f"{self.memory_bytes // 1024}Ki",
            "pods": str(DEFAULT_MAX_PODS),
        }
        detected.update({str(k): str(v) for k, v in overrides.items()})
        return detected


def go_arch(machine: str | None = None) -> str:
    machine = machine or platform.machine()
    return _GO_ARCH.get(machine, machine)


def read_machine() -> Machine:
    return Machine(
        hostname=socket.gethostname().lower(),
        cpus=os.cpu_count() or 1,
        memory_bytes=_memory_bytes(),
        architecture=go_arch(),
        kernel_version=platform.release(),
        os_image=_os_image(),
        machine_id=_read("/etc/machine-id"),
        boot_id=_read("/proc/sys/kernel/random/boot_id"),
    )


def default_node_ip() -> str:
    """The address of the interface with the default route (as the kubelet picks its
    InternalIP), found without sending anything: a UDP socket's connect only routes.
    127.0.0.1 when the machine has no default route."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never sent, only routed
        return str(probe.getsockname()[0])
    except OSError:
        return "127.0.0.1"
    finally:
        probe.close()


def _memory_bytes() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _os_image() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""
