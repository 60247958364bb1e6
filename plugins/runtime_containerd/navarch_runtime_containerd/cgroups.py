"""What a container's memory cgroup says about out-of-memory kills.

containerd's ``/tasks/oom`` event can reach the runtime after the exit it caused (the
shim reads the cgroup's counter and the process's exit on separate paths). The
counter itself is there for as long as the task is: runc removes the cgroup when
the task is deleted, and the runtime deletes a task only after reading this. So the
counter decides, and the event only makes an OOM kill known sooner.

``cgroups_path`` is the spec's ``linux.cgroupsPath`` (``/<namespace>/<container>``):
under cgroup v1 the memory controller's hierarchy has it at
``/sys/fs/cgroup/memory<path>`` (``memory.oom_control``: ``oom_kill N``), under
cgroup v2 at ``/sys/fs/cgroup<path>`` (``memory.events``: ``oom_kill N``).
"""

from __future__ import annotations

from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def oom_kills(cgroups_path: str, root: Path = CGROUP_ROOT) -> int | None:
    """How many processes of the cgroup the kernel killed for want of memory; None
    when the cgroup is not there (already removed, or another layout)."""
    relative = cgroups_path.lstrip("/")
    for counters in (
        root / "memory" / relative / "memory.oom_control",
        root / relative / "memory.events",
    ):
        try:
            text = counters.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if name == "oom_kill":
                return int(value)
    return None
