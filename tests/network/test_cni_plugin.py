"""The cni network plugin on its own (issue 24 item 1): a test namespace acts as the
node, the plugin (run in a process inside it, as the agent would be) gives two pod
namespaces addresses on its bridge, they reach each other, and DEL leaves nothing —
also when the pod's namespace is gone first."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from navarch.testing import netns
from navarch_network_cni.network import REQUIRED_PLUGINS, CniNetwork
from navarch_network_cni.options import DEFAULT_BIN_DIR, CniOptions

POD_CIDR = "10.42.1.0/24"

# The plugin's calls, one per process (the cache on disk is all that carries over, as
# across agent restarts): setup / teardown / result / gc.
_DRIVER = """
import asyncio, json, sys, time
from navarch.agent.network import PodNetworkRequest
from navarch_network_cni.network import CniNetwork
from navarch_network_cni.options import CniOptions

op, data_dir, sandbox, netns_path, cidr = sys.argv[1:6]
network = CniNetwork(CniOptions(cluster_cidr=""), data_dir)

async def main():
    request = PodNetworkRequest("default", sandbox, "uid-" + sandbox, sandbox, netns_path,
                                (), cidr)
    if op == "setup":
        print(json.dumps(list((await network.setup(request)).ips)))
    elif op == "teardown":
        await network.teardown(request)
        print("[]")
    elif op == "result":
        result = await network.result(sandbox)
        print(json.dumps(list(result.ips) if result else None))
    elif op == "gc":
        await network.collect_garbage([s for s in sandbox.split(",") if s], time.time())
        print("[]")

asyncio.run(main())
"""

_SERVE_ONCE = """
import socket, sys
s = socket.create_server((sys.argv[1], 7000))
print("listening", flush=True)
conn, _ = s.accept()
conn.sendall(b"hello")
conn.close()
"""
_FETCH = """
import socket, sys
with socket.create_connection((sys.argv[1], 7000), timeout=10) as c:
    print(c.recv(5).decode())
"""


def _call(node: netns.TestNetns, data_dir: Path, op: str, sandbox: str, pod: str = "") -> object:
    pod_path = str(netns.RUN_NETNS / pod) if pod else ""
    done = node.run(
        [sys.executable, "-c", _DRIVER, op, str(data_dir), sandbox, pod_path, POD_CIDR],
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _veths(node: netns.TestNetns) -> list[str]:
    links = json.loads(node.ip("-j", "link", "show", "type", "veth").stdout or "[]")
    return [link["ifname"] for link in links]


def _allocated(data_dir: Path) -> list[str]:
    ipam = data_dir / "ipam" / "navarch"
    return sorted(p.name for p in ipam.glob("10.*")) if ipam.is_dir() else []


def test_two_pods_on_the_bridge_reach_each_other_and_del_frees_everything(tmp_path):
    with netns.namespaces("node", "pod-a", "pod-b", "pod-c") as (node, a, b, c):
        ip_a = _call(node, tmp_path, "setup", "sandbox-a", a.name)
        ip_b = _call(node, tmp_path, "setup", "sandbox-b", b.name)
        assert isinstance(ip_a, list) and isinstance(ip_b, list)
        assert ip_a[0].startswith("10.42.1.") and ip_b[0].startswith("10.42.1.")
        assert ip_a != ip_b
        assert _call(node, tmp_path, "result", "sandbox-a") == ip_a  # cached on disk
        assert f"{ip_a[0]}/24" in a.ip("-o", "addr", "show", "eth0").stdout
        assert "nv0" in node.ip("-o", "link").stdout
        assert len(_veths(node)) == 2
        assert _allocated(tmp_path) == sorted([ip_a[0], ip_b[0]])

        server = a.popen(
            [sys.executable, "-c", _SERVE_ONCE, ip_a[0]], stdout=subprocess.PIPE, text=True
        )
        try:
            assert server.stdout is not None and server.stdout.readline() == "listening\n"
            reply = b.run([sys.executable, "-c", _FETCH, ip_a[0]], check=False)
            assert reply.stdout == "hello\n", reply.stderr
        finally:
            server.kill()
            server.wait(timeout=10)

        _call(node, tmp_path, "teardown", "sandbox-a", a.name)
        assert len(_veths(node)) == 1
        assert _allocated(tmp_path) == [ip_b[0]]
        assert _call(node, tmp_path, "result", "sandbox-a") is None
        assert "eth0" not in a.ip("-o", "link").stdout

        # The pod's namespace removed first (a runtime that removed its sandbox): DEL
        # still succeeds, the node side goes with the namespace, the address is freed.
        b.remove()
        _call(node, tmp_path, "teardown", "sandbox-b", b.name)
        assert _veths(node) == []
        assert _allocated(tmp_path) == []

        # A setup whose sandbox is gone is torn down by the garbage collection; a live
        # one stays.
        ip_c = _call(node, tmp_path, "setup", "sandbox-c", c.name)
        _call(node, tmp_path, "gc", "sandbox-c")
        assert _call(node, tmp_path, "result", "sandbox-c") == ip_c
        _call(node, tmp_path, "gc", "")
        assert _call(node, tmp_path, "result", "sandbox-c") is None
        assert _veths(node) == [] and _allocated(tmp_path) == []
    assert netns.ours() == []


def test_missing_binaries_make_the_plugin_not_ready_naming_them(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "bridge").symlink_to(Path(DEFAULT_BIN_DIR) / "bridge")
    network = CniNetwork(CniOptions(bin_dir=str(bin_dir)), str(tmp_path / "state"))
    status = asyncio.run(network.status())
    assert not status.ready and status.reason == "NoCNIPlugins"
    for name in REQUIRED_PLUGINS:
        assert (str(bin_dir / name) in status.message) == (name != "bridge")
    complete = CniNetwork(CniOptions(), str(tmp_path / "state"))
    assert asyncio.run(complete.status()).ready
