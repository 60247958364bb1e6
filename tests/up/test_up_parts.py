"""navarch up's parts without a cluster: which runtime it chooses and what it says
when there is none, what up.json keeps, where the cluster's containerd puts its
socket, and the configuration every part runs with."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from navarch.assembly import assemble
from navarch.config import load_config
from navarch.startup import StartupError
from navarch.up import down, runtimes
from navarch.up.cluster import node_names, up_config
from navarch.up.containerd import PrivateContainerd, alive, containerd_config
from navarch.up.join import join_config
from navarch.up.runtimes import RuntimeChoice, choose_runtime
from navarch.up.state import UpState


def _assembly(tmp_path: Path, *overrides: str):
    config = load_config(None, {}, [f"data_dir={tmp_path}", *overrides])
    return assemble(config)


async def test_no_runtime_at_all_says_what_to_install(tmp_path, monkeypatch):
    async def nothing_answers(assembly, name, options):
        return f"{name} refused the connection"

    monkeypatch.setattr(runtimes, "answers", nothing_answers)
    monkeypatch.setattr(runtimes, "containerd_problem", lambda: "containerd is missing")
    with pytest.raises(StartupError) as caught:
        await choose_runtime(_assembly(tmp_path), None, None)
    message = str(caught.value)
    assert "containerd refused the connection" in message
    assert "containerd is missing" in message
    assert "docker refused the connection" in message
    assert "apt-get install containerd runc" in message
    assert "--runtime sim" in message


async def test_a_running_containerd_comes_first(tmp_path, monkeypatch):
    async def only_containerd(assembly, name, options):
        return None if name == "containerd" else "no"

    monkeypatch.setattr(runtimes, "answers", only_containerd)
    choice = await choose_runtime(_assembly(tmp_path), None, None)
    assert choice.name == "containerd" and not choice.private_containerd


async def test_docker_when_containerd_cannot_be_had(tmp_path, monkeypatch):
    async def only_docker(assembly, name, options):
        return None if name == "docker" else "refused"

    monkeypatch.setattr(runtimes, "answers", only_docker)
    monkeypatch.setattr(runtimes, "containerd_problem", lambda: "containerd needs root")
    choice = await choose_runtime(_assembly(tmp_path), None, None)
    assert choice.name == "docker"


async def test_a_cluster_keeps_the_runtime_its_containers_run_on(tmp_path):
    previous = UpState("containerd", {"socket": "/x.sock"}, True, ("node-1",))
    with pytest.raises(StartupError, match=r"runs on containerd.*navarch down"):
        await choose_runtime(_assembly(tmp_path), "docker", previous)


async def test_a_cluster_navarch_down_emptied_may_change_its_runtime(tmp_path):
    """After `navarch down` (no container left) the advice the refusal above gives
    holds: the next up chooses afresh, here the runtime it is told."""
    previous = UpState("containerd", {"socket": "/x.sock"}, True, ("node-1",), None, True)
    choice = await choose_runtime(_assembly(tmp_path), "sim", previous)
    assert choice.name == "sim"


async def test_sim_needs_nothing(tmp_path):
    choice = await choose_runtime(_assembly(tmp_path), "sim", None)
    assert choice.name == "sim"


def test_up_json_round_trip_and_a_dead_pid_is_not_running(tmp_path):
    state = UpState(
        "docker", {"socket": "unix:///d.sock"}, False, ("node-1", "node-2"), 2**22 + 7, True
    )
    state.save(tmp_path)
    again = UpState.load(tmp_path)
    assert again == state
    assert again is not None and again.running_pid() is None
    assert UpState.load(tmp_path / "nowhere") is None


def test_a_damaged_up_json_is_named(tmp_path):
    (tmp_path / "up.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"up\.json"):
        UpState.load(tmp_path)


def test_the_containerd_socket_moves_to_run_when_the_path_is_too_long(tmp_path):
    short = PrivateContainerd(Path("/var/lib/navarch/containerd"))
    assert short.socket_path == Path("/var/lib/navarch/containerd/containerd.sock")
    long = PrivateContainerd(tmp_path / ("d" * 120) / "containerd")
    assert long.socket_path.parent.parent == Path("/run")
    assert len(f"{long.socket_path}.ttrpc") <= 107


def test_the_private_containerd_config_listens_on_nothing_but_its_socket(tmp_path):
    text = containerd_config(
        root=tmp_path / "root",
        state=tmp_path / "state",
        socket_path=tmp_path / "c.sock",
        opt=tmp_path / "opt",
    )
    assert 'tcp_address = ""' in text
    assert '[metrics]\n  address = ""' in text
    assert "io.containerd.grpc.v1.cri" in text  # disabled


def test_every_part_runs_on_loopback_without_leader_election(tmp_path):
    config = load_config(None, {}, [f"data_dir={tmp_path}"])
    config = up_config(config, RuntimeChoice("sim", {}, False, "test"))
    assert config["runtime.name"] == "sim"
    assert config["agent.address"] == "127.0.0.1"
    assert config["agent.node_ip"] == "127.0.0.1"
    assert config["leader_election.enabled"] is False
    assert node_names(3) == ("node-1", "node-2", "node-3")


def test_join_needs_an_up_cluster_and_a_new_name(tmp_path):
    config = load_config(None, {}, [f"data_dir={tmp_path}"])
    with pytest.raises(StartupError, match="no navarch up cluster"):
        join_config(config, "node-4")
    UpState("sim", {}, False, ("node-1",)).save(tmp_path)
    with pytest.raises(StartupError, match="one of the nodes navarch up runs"):
        join_config(config, "node-1")
    joined = join_config(config, "node-4")
    assert joined["agent.node_name"] == "node-4"
    assert joined["runtime.name"] == "sim"
    assert Path(joined["kubeconfig"]).is_file()
    assert oct(os.stat(Path(joined["data_dir"])).st_mode & 0o777) == "0o700"


async def test_down_sees_a_stopped_up_that_its_parent_has_not_reaped(tmp_path):
    """`navarch up` started by a program (a test, a supervisor) stays a zombie until
    that program reaps it: down must take it for stopped, not wait a minute."""
    script = tmp_path / "navarch"
    script.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(120)\n")
    script.chmod(0o755)
    process = subprocess.Popen([str(script), "up"])
    try:
        state = UpState("sim", {}, False, ("node-1",), process.pid)
        await until_async(lambda: state.running_pid() == process.pid)
        # SIGTERM; it ends, unreaped. Were the zombie taken for alive, _stop_up would
        # wait out UP_STOP_SECONDS and raise StartupError: returning is the proof.
        await down._stop_up(state)
        assert not alive(process.pid)
        assert Path(f"/proc/{process.pid}").exists()  # a zombie, still
    finally:
        process.kill()
        process.wait(timeout=30)


async def until_async(check, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "never"
        await asyncio.sleep(0.05)
