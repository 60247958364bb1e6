"""Network namespaces for tests and benchmarks: everything with an address other than
loopback lives in namespaces made here, never in the host's own.

A namespace is named ``nvt-<pid>-<n>`` (``pid``: the test process that made it), bound
under /run/netns as ``ip netns add`` does, and has its loopback up. Several pytest
workers run at once, so :func:`sweep` removes only the namespaces whose maker is gone.
Commands run inside through ``nsenter --net`` (not ``ip netns exec``, which also
unshares the mount namespace and remounts /sys).

A small LAN joins nodes as separate machines would be: :func:`lan` makes one namespace
holding a bridge and, per node namespace, a veth pair with the node's end called
``eth0`` and an address of ``10.250.<k>.0/24`` — what the cni plugin's host-gw routes
and ``navarch up``'s nodes sit on.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

RUN_NETNS = Path("/run/netns")
PREFIX = "nvt-"
_counter = itertools.count()
# The hub of each LAN, by the names of the nodes it joins: removed with them.
_hubs: dict[str, TestNetns] = {}


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


@attrs.frozen
class TestNetns:
    """One namespace: ``run`` and ``popen`` start processes inside it."""

    __test__ = False  # not a pytest test class, despite the name

    name: str

    @property
    def path(self) -> str:
        return str(RUN_NETNS / self.name)

    def argv(self, argv: Sequence[str]) -> list[str]:
        return ["nsenter", f"--net={self.path}", "--", *argv]

    def run(
        self, argv: Sequence[str], *, check: bool = True, timeout: float = 60, **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(argv), capture_output=True, text=True, check=check, timeout=timeout, **kwargs
        )

    def popen(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        return subprocess.Popen(self.argv(argv), **kwargs)

    def ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _ip("-n", self.name, *args, check=check)

    def remove(self) -> None:
        _ip("netns", "delete", self.name, check=False)


def create(label: str = "ns") -> TestNetns:
    """A new namespace with loopback up; ``label`` (letters, digits, ``-``) ends its name."""
    name = f"{PREFIX}{os.getpid()}-{next(_counter)}-{label}"[:60]
    _ip("netns", "add", name)
    netns = TestNetns(name)
    netns.ip("link", "set", "lo", "up")
    return netns


@contextlib.contextmanager
def namespaces(*labels: str) -> Iterator[list[TestNetns]]:
    """Namespaces for the body of a ``with``, removed after it, whatever happened."""
    made: list[TestNetns] = []
    try:
        for label in labels:
            made.append(create(label))
        yield made
    finally:
        for netns in made:
            hub = _hubs.pop(netns.name, None)
            if hub is not None:
                hub.remove()
            netns.remove()


@attrs.frozen
class Lan:
    """The bridge namespace and each node's address on it."""

    hub: TestNetns
    addresses: dict[str, str]  # node namespace name -> its eth0 address


def lan(nodes: Sequence[TestNetns], subnet_prefix: str = "10.250.0") -> Lan:
    """Join ``nodes`` on one bridge (in a namespace of its own): node ``k`` gets
    ``eth0`` with ``<subnet_prefix>.<k+1>/24``. Removing the hub removes the links;
    :func:`namespaces` removes it with the nodes it joins."""
    hub = create("lan")
    hub.ip("link", "add", "br0", "type", "bridge")
    hub.ip("link", "set", "br0", "up")
    addresses: dict[str, str] = {}
    for index, node in enumerate(nodes):
        peer = f"p{index}"
        hub.ip("link", "add", peer, "type", "veth", "peer", "name", "eth0", "netns", node.name)
        hub.ip("link", "set", peer, "master", "br0")
        hub.ip("link", "set", peer, "up")
        address = f"{subnet_prefix}.{index + 1}"
        node.ip("addr", "add", f"{address}/24", "dev", "eth0")
        node.ip("link", "set", "eth0", "up")
        addresses[node.name] = address
        _hubs[node.name] = hub
    return Lan(hub, addresses)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep() -> list[str]:
    """Remove every ``nvt-`` namespace whose making process is gone; their names."""
    removed: list[str] = []
    if not RUN_NETNS.is_dir():
        return removed
    for entry in sorted(RUN_NETNS.iterdir()):
        if not entry.name.startswith(PREFIX):
            continue
        pid_part = entry.name[len(PREFIX) :].split("-", 1)[0]
        if pid_part.isdigit() and _alive(int(pid_part)) and int(pid_part) != 0:
            continue
        _ip("netns", "delete", entry.name, check=False)
        removed.append(entry.name)
    return removed


def present(made: Sequence[TestNetns]) -> list[str]:
    """Which of ``made`` still exist (a test checks it left none of its own)."""
    return [netns.name for netns in made if (RUN_NETNS / netns.name).exists()]


def ours() -> list[str]:
    """This process's namespaces still present (a test checks it left none)."""
    if not RUN_NETNS.is_dir():
        return []
    mine = f"{PREFIX}{os.getpid()}-"
    return sorted(e.name for e in RUN_NETNS.iterdir() if e.name.startswith(mine))
