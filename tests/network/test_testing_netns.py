"""The test namespaces every networking test stands on: made, joined, removed, and the
host's own namespace untouched."""

from __future__ import annotations

import subprocess
import sys

from navarch.testing import netns

# One connection accepted and answered: the far end of a reachability check.
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


def _host_links() -> str:
    return subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout


def test_nodes_on_a_lan_reach_each_other_and_leave_nothing_behind():
    before = _host_links()
    with netns.namespaces("a", "b") as (a, b):
        joined = netns.lan([a, b])
        try:
            address_b = joined.addresses[b.name]
            server = b.popen(
                [sys.executable, "-c", _SERVE_ONCE, address_b], stdout=subprocess.PIPE, text=True
            )
            try:
                assert server.stdout is not None and server.stdout.readline() == "listening\n"
                reply = a.run([sys.executable, "-c", _FETCH, address_b], check=False)
                assert reply.stdout == "hello\n", reply.stderr
            finally:
                server.kill()
                server.wait(timeout=10)
            assert "eth0" in a.ip("-o", "link").stdout
        finally:
            joined.hub.remove()
    assert netns.present([a, b, joined.hub]) == []
    assert _host_links() == before


def test_sweep_keeps_the_namespaces_of_live_makers():
    with netns.namespaces("kept") as (kept,):
        netns.sweep()
        assert kept.name in netns.ours()


def test_a_lan_hub_goes_with_the_namespaces_it_joins():
    with netns.namespaces("c", "d") as (c, d):
        hub = netns.lan([c, d]).hub
        assert netns.present([hub]) == [hub.name]
    assert netns.present([c, d, hub]) == []
