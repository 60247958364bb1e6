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

# The plugin's calls, made by a process inside the node namespace (as the agent's
# would be), one request a line on stdin, one JSON answer a line on stdout. Each
# "fresh" request makes a new plugin object: only the cache on disk carries over, as
# across agent restarts.
_DRIVER = """
import asyncio, json, sys, time
from navarch.agent.network import PodNetworkRequest
from navarch_network_cni.network import CniNetwork
from navarch_network_cni.options import CniOptions

import uvloop  # the agent's loop, whose pipes behave differently from asyncio's
from navarch_network_cni.options import DEFAULT_BIN_DIR

data_dir, cidr = sys.argv[1:3]
bin_dir = sys.argv[3] if len(sys.argv) > 3 else DEFAULT_BIN_DIR

async def call(op, sandbox, netns_path):
    network = CniNetwork(CniOptions(cluster_cidr="", bin_dir=bin_dir), data_dir)
    request = PodNetworkRequest("default", sandbox, "uid-" + sandbox, sandbox, netns_path,
                                (), cidr)
    if op == "setup":
        return list((await network.setup(request)).ips)
    if op == "teardown":
        await network.teardown(request)
        return []
    if op == "result":
        result = await network.result(sandbox)
        return list(result.ips) if result else None
    if op == "gc":
        await network.collect_garbage([s for s in sandbox.split(",") if s], time.time())
        return []

for line in sys.stdin:
    op, sandbox, netns_path = (line.rstrip("\\n").split(" ") + ["", ""])[:3]
    try:
        answer = uvloop.run(call(op, sandbox, netns_path))
    except Exception as exc:
        answer = {"error": str(exc)}
    print(json.dumps(answer), flush=True)
"""


class Driver:
    def __init__(self, node: netns.TestNetns, data_dir: Path, bin_dir: str = DEFAULT_BIN_DIR):
        self.process = node.popen(
            [sys.executable, "-c", _DRIVER, str(data_dir), POD_CIDR, bin_dir],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def __call__(self, op: str, sandbox: str, pod: str = "") -> object:
        pod_path = str(netns.RUN_NETNS / pod) if pod else ""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{op} {sandbox} {pod_path}\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"the driver failed on {op} {sandbox}"
        return json.loads(line)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)


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


def _veths(node: netns.TestNetns) -> list[str]:
    links = json.loads(node.ip("-j", "link", "show", "type", "veth").stdout or "[]")
    return [link["ifname"] for link in links]


def _allocated(data_dir: Path) -> list[str]:
    ipam = data_dir / "ipam" / "navarch"
    return sorted(p.name for p in ipam.glob("10.*")) if ipam.is_dir() else []


def test_two_pods_on_the_bridge_reach_each_other_and_del_frees_everything(tmp_path):
    with netns.namespaces("node", "pod-a", "pod-b", "pod-c") as (node, a, b, c):
        call = Driver(node, tmp_path)
        try:
            _exercise(call, node, a, b, c, tmp_path)
        finally:
            call.close()
    assert netns.present([node, a, b, c]) == []


def _exercise(call: Driver, node, a, b, c, tmp_path: Path) -> None:
    """Two pods reach each other; DEL frees all, also with the pod's namespace gone."""
    ip_a = call("setup", "sandbox-a", a.name)
    ip_b = call("setup", "sandbox-b", b.name)
    assert isinstance(ip_a, list) and isinstance(ip_b, list)
    assert ip_a[0].startswith("10.42.1.") and ip_b[0].startswith("10.42.1.")
    assert ip_a != ip_b
    assert call("result", "sandbox-a") == ip_a  # cached on disk
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

    call("teardown", "sandbox-a", a.name)
    assert len(_veths(node)) == 1
    assert _allocated(tmp_path) == [ip_b[0]]
    assert call("result", "sandbox-a") is None
    assert "eth0" not in a.ip("-o", "link").stdout

    # The pod's namespace removed first (a runtime that removed its sandbox): DEL
    # still succeeds, the node side goes with the namespace, the address is freed.
    b.remove()
    call("teardown", "sandbox-b", b.name)
    assert _veths(node) == []
    assert _allocated(tmp_path) == []

    # A setup whose sandbox is gone is torn down by the garbage collection; a live
    # one stays.
    ip_c = call("setup", "sandbox-c", c.name)
    call("gc", "sandbox-c")
    assert call("result", "sandbox-c") == ip_c
    call("gc", "")
    assert call("result", "sandbox-c") is None
    assert _veths(node) == [] and _allocated(tmp_path) == []


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


def test_a_failed_add_is_undone_at_once(tmp_path):
    """portmap, the last of the list, fails (exiting before it reads its configuration,
    as a plugin may): the address and the veth the bridge plugin made before it are
    released by the DEL that follows the failed ADD, not left for later."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for plugin in Path(DEFAULT_BIN_DIR).iterdir():
        (bin_dir / plugin.name).symlink_to(plugin)
    marker = tmp_path / "refuse"
    marker.touch()
    (bin_dir / "portmap").unlink()
    (bin_dir / "portmap").write_text(
        "#!/bin/sh\n"
        f'if [ -e {marker} ] && [ "$CNI_COMMAND" = ADD ]; then\n'
        '  echo \'{"cniVersion":"1.0.0","code":100,"msg":"portmap refused for the test"}\'\n'
        "  exit 1\n"
        "fi\n"
        f'exec {DEFAULT_BIN_DIR}/portmap "$@"\n'
    )
    (bin_dir / "portmap").chmod(0o755)
    with netns.namespaces("node", "pod-a") as (node, a):
        call = Driver(node, tmp_path / "state", str(bin_dir))
        try:
            for _ in range(3):
                failed = call("setup", "sandbox-a", a.name)
                assert isinstance(failed, dict) and "portmap refused" in failed["error"]
                assert _allocated(tmp_path / "state") == []
                assert _veths(node) == []
                assert call("result", "sandbox-a") is None
            marker.unlink()
            ip = call("setup", "sandbox-a", a.name)
            assert isinstance(ip, list) and _allocated(tmp_path / "state") == [ip[0]]
            call("teardown", "sandbox-a", a.name)
            assert _allocated(tmp_path / "state") == []
        finally:
            call.close()
