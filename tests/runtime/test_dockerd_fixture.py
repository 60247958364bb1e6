"""The private dockerd's containerd namespace is valid whatever its directory is named
(mkdtemp names hold '_' and may end in one; containerd refuses such identifiers)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from navarch.testing.dockerd import DockerdProcess

CONTAINERD_IDENTIFIER = re.compile(r"^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$")


@pytest.mark.parametrize("name", ["nbe3y3a36_", "na_x.y", "n-9", "__x__"])
def test_namespace_is_a_valid_containerd_identifier(name):
    namespace = DockerdProcess(Path("/tmp") / name).namespace
    assert CONTAINERD_IDENTIFIER.match(namespace), namespace
    assert CONTAINERD_IDENTIFIER.match(namespace + "-plugins")


async def test_stop_ends_the_shims_a_killed_dockerd_left(tmp_path):
    """A dockerd and its containerd killed outright leave their shims (and the
    containers in them) running; the fixture's stop ends them, so nothing of a test
    outlives it (a shim stuck in runc's init was once found after a CI run)."""
    import os
    import signal
    import tempfile

    from navarch.runtime import SandboxConfig
    from navarch.testing.containerd import shim_pids
    from navarch.testing.daemon import require_or_skip
    from navarch.testing.dockerd import dockerd_problem
    from navarch_runtime_docker import DockerOptions, DockerRuntime

    require_or_skip(dockerd_problem())
    directory = Path(tempfile.mkdtemp(prefix="nk", dir="/tmp"))
    process = DockerdProcess(directory)
    socket = process.exec_root / "containerd" / "containerd.sock"
    try:
        process.start()
        runtime = DockerRuntime(DockerOptions(socket=process.socket_url))
        try:
            await runtime.create_sandbox(SandboxConfig("p", "ns", "uid-shim"))
        finally:
            await runtime.close()
        assert shim_pids(socket), "the sandbox's shim runs"
        containerd_pid = int((process.exec_root / "containerd" / "containerd.pid").read_text())
        assert process.process is not None
        for pid in (process.process.pid, containerd_pid):
            os.kill(pid, signal.SIGKILL)
        process.stop()
        assert shim_pids(socket) == []
    finally:
        process.remove()
