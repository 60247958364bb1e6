"""Nothing leaks through the cri runtime (issue 15, "Faults and bad input"): 200
cycles of a pod sandbox with one busybox container on containerd's CRI plugin (half
exit at once and have their log read, half sleep, get an ExecSync and a streamed
exec, and are stopped), each sandbox removed again, leave every count where it was.

Counted before and after:

* through CRI: sandboxes and containers (any state);
* the runtime's logs: every file and directory under its ``data_dir``;
* in containerd (``ctr`` in the CRI plugin's namespace ``k8s.io``): container
  records, tasks, active snapshots (the pause and container root file systems);
* the CRI plugin's own directories (a directory per sandbox and container under the
  private containerd's root and state);
* network namespaces containerd made for the pods (under the private containerd's
  state: ``netns_mounts_under_state_dir``) and mounts under its root and state;
* shim processes serving this containerd (found by their command line in /proc);
* what this process holds open under the runtime's ``data_dir``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from navarch.runtime.types import ContainerState, LogOptions
from navarch.testing.cri import CRI_NAMESPACE, CTR, CriContainerdProcess
from navarch.testing.images import BUSYBOX_IMAGE, busybox_archive
from navarch.testing.runtime import Pods, sh, wait_for_output, wait_for_state
from navarch_runtime_cri import CriRuntime
from tests.runtime.cri_fixtures import cri_containerd, cri_runtime

__all__ = ["cri_containerd", "cri_runtime"]

pytestmark = pytest.mark.daemon

CYCLES = 200
# Cycles run in this many lanes at once: a busy agent's pace, and quicker on 2 cores.
LANES = 4
SLEEPER = "trap 'exit 0' TERM; echo ready; sleep 100000 & wait"


def _tree(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


def _entries(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def _mount_points_under(*roots: Path) -> list[str]:
    prefixes = tuple(f"{root}/" for root in roots)
    return sorted(
        fields[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if len(fields := line.split()) > 4 and fields[4].startswith(prefixes)
    )


def _open_files_under(root: Path) -> list[str]:
    held = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(f"{root}/"):
            held.append(target)
    return sorted(held)


def _ctr(containerd: CriContainerdProcess, *words: str) -> list[str]:
    done = subprocess.run(
        [CTR, "--address", str(containerd.socket_path), "--namespace", CRI_NAMESPACE, *words],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return sorted(line.split()[0] for line in done.stdout.splitlines()[1:] if line.strip())


async def _counts(runtime: CriRuntime, containerd: CriContainerdProcess) -> dict[str, Any]:
    cri_dirs = [
        containerd.root / "io.containerd.grpc.v1.cri" / "sandboxes",
        containerd.root / "io.containerd.grpc.v1.cri" / "containers",
        containerd.state / "io.containerd.grpc.v1.cri" / "sandboxes",
        containerd.state / "io.containerd.grpc.v1.cri" / "containers",
    ]
    snapshots = subprocess.run(
        [CTR, "--address", str(containerd.socket_path), "--namespace", CRI_NAMESPACE,
         "snapshots", "ls"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.splitlines()[1:]  # fmt: skip
    return {
        "cri sandboxes": [s.id for s in await runtime.list_sandboxes()],
        "cri containers": [c.id for c in await runtime.list_containers()],
        "log files": _tree(runtime.data_dir),
        "open files": _open_files_under(runtime.data_dir),
        "containerd containers": _ctr(containerd, "containers", "ls"),
        "containerd tasks": _ctr(containerd, "tasks", "ls"),
        "active snapshots": sorted(line for line in snapshots if "Active" in line),
        **{str(d.relative_to(containerd.directory)): _entries(d) for d in cri_dirs},
        "pod netns": _entries(containerd.state / "io.containerd.grpc.v1.cri" / "netns"),
        "mounts": _mount_points_under(containerd.root, containerd.state),
        "shims": containerd.shim_pids(CRI_NAMESPACE),
    }


async def _cycle(runtime: CriRuntime, pods: Pods, index: int) -> None:
    sandbox_id = await pods.sandbox(f"leak-{index}")
    if index % 2:
        container_id = await pods.container(sandbox_id, **sh(f"echo cycle {index}"))
        await wait_for_state(runtime, container_id, ContainerState.EXITED)
        lines = [line async for line in runtime.logs(container_id, LogOptions(follow=True))]
        assert [line.data for line in lines] == [f"cycle {index}\n".encode()]
    else:
        container_id = await pods.container(sandbox_id, **sh(SLEEPER))
        await wait_for_output(runtime, container_id, "ready")
        result = await runtime.exec_sync(container_id, ["echo", "probe"], timeout=60)
        assert result.stdout == b"probe\n"
        session = await runtime.exec(container_id, ["echo", "streamed"])
        assert await asyncio.wait_for(session.wait(), 60) == 0
        await session.close()
        await runtime.stop_container(container_id, grace=10)
    await runtime.remove_sandbox(sandbox_id)
    pods.sandboxes.remove(sandbox_id)


async def test_create_delete_cycles_leak_nothing(
    cri_runtime: CriRuntime, cri_containerd: CriContainerdProcess, tmp_path: Path
) -> None:
    runtime = cri_runtime
    await runtime.load_image(busybox_archive(tmp_path))
    pods = Pods(runtime, BUSYBOX_IMAGE)
    # a first cycle makes what stays for good (the image's snapshots, directories)
    await _cycle(runtime, pods, -1)
    before = await _counts(runtime, cri_containerd)
    started = time.monotonic()
    queue = list(range(CYCLES))

    async def lane() -> None:
        while queue:
            await _cycle(runtime, pods, queue.pop())

    try:
        await asyncio.gather(*(lane() for _ in range(LANES)))
    finally:
        await pods.cleanup()
    logger.bind(cycles=CYCLES, seconds=round(time.monotonic() - started, 1)).info("cri cycles")
    after = await _counts(runtime, cri_containerd)
    assert after == before
