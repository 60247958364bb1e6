"""oom_kills: the counter of out-of-memory kills in a container's memory cgroup,
under cgroup v1 and v2 layouts (files laid out in a temp dir, as the kernel shows them)."""

from __future__ import annotations

from pathlib import Path

from navarch_runtime_containerd.cgroups import oom_kills

V1 = "oom_kill_disable 0\nunder_oom 0\noom_kill {count}\n"
V2 = "low 0\nhigh 0\nmax 4\noom 1\noom_kill {count}\noom_group_kill 0\n"


def test_cgroup_v1_memory_controller(tmp_path: Path) -> None:
    cgroup = tmp_path / "memory" / "navarch" / "c1"
    cgroup.mkdir(parents=True)
    (cgroup / "memory.oom_control").write_text(V1.format(count=2))
    assert oom_kills("/navarch/c1", root=tmp_path) == 2


def test_cgroup_v2_memory_events(tmp_path: Path) -> None:
    cgroup = tmp_path / "navarch" / "c1"
    cgroup.mkdir(parents=True)
    (cgroup / "memory.events").write_text(V2.format(count=0))
    assert oom_kills("/navarch/c1", root=tmp_path) == 0


def test_a_cgroup_that_is_gone_says_none(tmp_path: Path) -> None:
    assert oom_kills("/navarch/gone", root=tmp_path) is None
