"""docs/operations.md's "A master and two workers on one machine", run as written
(tests/doc_session.py): the API server, scheduler and controller manager as daemons
of their own, two agents joined with node tokens, on a private containerd that
already holds the page's image (so nothing is pulled)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from navarch.testing.containerd import ContainerdProcess, start_private_containerd
from navarch.testing.daemon import unmount_under
from navarch.testing.images import busybox_archive
from tests.doc_session import ROOT, Terminal, page_commands, run_page

pytestmark = pytest.mark.daemon

PAGE = ROOT / "docs" / "operations.md"
SECTION = "## A master and two workers on one machine"
IMAGE = "127.0.0.1:5000/hello:1"


@pytest.fixture
def containerd(tmp_path: Path) -> Iterator[ContainerdProcess]:
    process = start_private_containerd(tmp_path / "containerd")
    try:
        archive = busybox_archive(tmp_path, IMAGE)
        subprocess.run(
            [
                *("ctr", "--address", str(process.socket_path), "--namespace", "navarch"),
                *("images", "import", str(archive)),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        yield process
    finally:
        process.remove()


@pytest.mark.timeout(900)
def test_a_master_and_two_workers_run_as_the_page_says(
    tmp_path: Path, containerd: ContainerdProcess
):
    commands = page_commands(PAGE, SECTION, "## The scheduler")
    assert [c for c, _ in commands if " agent " in c], "the page starts agents"
    terminal = Terminal(tmp_path / "home", containerd_socket=containerd.socket_path)
    try:
        run_page(terminal, commands)
    finally:
        terminal.close()  # the agents stop; their pods' containers are the fixture's
        # their pods' network namespaces are bind-mounted under the agents' directories
        unmount_under([terminal.home])
