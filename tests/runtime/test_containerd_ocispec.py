"""runtime_containerd's OCI runtime spec: a pure function of the image config and the
ContainerConfig, checked field by field (no daemon)."""

from __future__ import annotations

import json

import pytest

from navarch.runtime.types import ContainerConfig, Mount, MountPropagation
from navarch_runtime_containerd.bindmounts import MountError, resolve_mounts
from navarch_runtime_containerd.ocispec import (
    DEFAULT_CAPABILITIES,
    DEFAULT_PATH,
    ImageConfig,
    build_spec,
    exec_process,
    merge_env,
    process_args,
)

IMAGE = ImageConfig(entrypoint=("/ep",), cmd=("c1", "c2"), env=("PATH=/bin", "A=image"))


def _spec(config: ContainerConfig, image: ImageConfig = IMAGE, **kw) -> dict:
    kw.setdefault("cgroups_path", "/navarch/c1")
    kw.setdefault("netns_path", "/var/run/netns/pod")
    return build_spec(config, image, **kw)


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        ((), (), ["/ep", "c1", "c2"]),
        ((), ("a",), ["/ep", "a"]),
        (("x",), (), ["x"]),
        (("x",), ("a", "b"), ["x", "a", "b"]),
    ],
)
def test_args_combine_as_kubernetes_does(command, args, expected) -> None:
    assert process_args(IMAGE, command, args) == expected
    assert _spec(ContainerConfig("c", "i", command=command, args=args))["process"]["args"] == (
        expected
    )


def test_image_without_entrypoint_runs_its_cmd_or_the_args() -> None:
    image = ImageConfig(cmd=("sh",))
    assert process_args(image, (), ()) == ["sh"]
    assert process_args(image, (), ("echo", "hi")) == ["echo", "hi"]


def test_nothing_to_run_is_refused_with_the_names() -> None:
    with pytest.raises(ValueError, match=r"'app'.*'busybox:1'"):
        _spec(ContainerConfig("app", "busybox:1"), ImageConfig())


def test_env_overrides_in_place_and_appends_in_order() -> None:
    assert merge_env(["PATH=/bin", "A=image", "B=b=c"], [("A", "mine"), ("Z", "1"), ("Y", "")]) == [
        "PATH=/bin",
        "A=mine",
        "B=b=c",
        "Z=1",
        "Y=",
    ]


def test_image_without_env_gets_the_default_path() -> None:
    assert merge_env([], [("A", "1")]) == [DEFAULT_PATH, "A=1"]


def test_process_defaults() -> None:
    process = _spec(ContainerConfig("c", "i"))["process"]
    assert process["user"] == {"uid": 0, "gid": 0}
    assert process["cwd"] == "/"
    assert process["noNewPrivileges"] is True
    assert process["terminal"] is False
    assert process["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]
    caps = process["capabilities"]
    assert caps["bounding"] == caps["effective"] == caps["permitted"] == list(DEFAULT_CAPABILITIES)
    assert len(DEFAULT_CAPABILITIES) == 14
    assert "CAP_SYS_ADMIN" not in DEFAULT_CAPABILITIES
    assert "CAP_NET_BIND_SERVICE" in DEFAULT_CAPABILITIES


def test_working_dir_from_the_config_then_the_image() -> None:
    image = ImageConfig(cmd=("sh",), working_dir="/app")
    assert _spec(ContainerConfig("c", "i"), image)["process"]["cwd"] == "/app"
    assert _spec(ContainerConfig("c", "i", working_dir="/w"), image)["process"]["cwd"] == "/w"


def test_tty_sets_terminal() -> None:
    assert _spec(ContainerConfig("c", "i", tty=True))["process"]["terminal"] is True


def test_standard_mounts() -> None:
    mounts = {m["destination"]: m for m in _spec(ContainerConfig("c", "i"))["mounts"]}
    assert list(mounts) == [
        "/proc",
        "/dev",
        "/dev/pts",
        "/dev/shm",
        "/dev/mqueue",
        "/sys",
        "/sys/fs/cgroup",
    ]
    assert mounts["/proc"]["type"] == "proc"
    assert "ro" in mounts["/sys"]["options"]
    assert mounts["/sys/fs/cgroup"]["type"] == "cgroup"
    assert "ro" in mounts["/sys/fs/cgroup"]["options"]
    assert "newinstance" in mounts["/dev/pts"]["options"]
    assert "mode=1777" in mounts["/dev/shm"]["options"]


def test_volumes_are_binds_as_containerds_cri_makes_them() -> None:
    """rbind, the propagation's option and ro/rw; parents before children whatever
    the order given; a volume at a standard mount's destination replaces it; the
    root propagates when a volume asks for it."""
    config = ContainerConfig(
        "c",
        "i",
        mounts=(
            Mount("/data/app.conf", "/h/conf", read_only=True),
            Mount("/data/", "/h/data", propagation=MountPropagation.HOST_TO_CONTAINER),
            Mount("/dev/shm", "/h/shm"),
        ),
    )
    spec = _spec(config)
    destinations = [m["destination"] for m in spec["mounts"]]
    assert destinations == [
        "/proc",
        "/dev",
        "/dev/pts",
        "/dev/mqueue",
        "/sys",
        "/sys/fs/cgroup",
        "/data",
        "/data/app.conf",  # equal depths keep their order
        "/dev/shm",
    ]
    binds = {m["destination"]: m for m in spec["mounts"][-3:]}
    assert binds["/data"] == {
        "destination": "/data",
        "type": "bind",
        "source": "/h/data",
        "options": ["rbind", "rslave", "rw"],
    }
    assert binds["/data/app.conf"]["options"] == ["rbind", "rprivate", "ro"]
    assert binds["/dev/shm"]["source"] == "/h/shm"
    assert spec["linux"]["rootfsPropagation"] == "rslave"
    shared = _spec(
        ContainerConfig(
            "c", "i", mounts=(Mount("/x", "/h", propagation=MountPropagation.BIDIRECTIONAL),)
        )
    )
    assert shared["mounts"][-1]["options"] == ["rbind", "rshared", "rw"]
    assert shared["linux"]["rootfsPropagation"] == "rshared"
    assert "rootfsPropagation" not in _spec(ContainerConfig("c", "i"))["linux"]


def test_host_paths_resolved_and_checked(tmp_path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to("real")
    (resolved,) = resolve_mounts((Mount("/x", str(tmp_path / "link")),))
    assert resolved.host_path == str(tmp_path / "real")
    with pytest.raises(MountError, match="does not exist"):
        resolve_mounts((Mount("/x", str(tmp_path / "missing")),))
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
        f"40 27 0:50 / {tmp_path} rw shared:7 - tmpfs t rw\n"
        f"41 40 0:51 / {tmp_path}/real rw master:7 - tmpfs t rw\n"
    )
    slave = Mount("/x", str(tmp_path / "real"), propagation=MountPropagation.HOST_TO_CONTAINER)
    assert resolve_mounts((slave,), mountinfo) == (slave,)
    with pytest.raises(MountError, match="not a shared mount"):
        resolve_mounts(
            (Mount("/x", str(tmp_path / "real"), propagation=MountPropagation.BIDIRECTIONAL),),
            mountinfo,
        )
    assert resolve_mounts(
        (Mount("/x", str(tmp_path), propagation=MountPropagation.BIDIRECTIONAL),), mountinfo
    )
    mountinfo.write_text("27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n")
    with pytest.raises(MountError, match="neither a shared nor a slave mount"):
        resolve_mounts((slave,), mountinfo)


def test_masked_and_readonly_paths() -> None:
    linux = _spec(ContainerConfig("c", "i"))["linux"]
    assert "/proc/kcore" in linux["maskedPaths"]
    assert "/sys/firmware" in linux["maskedPaths"]
    assert "/proc/sys" in linux["readonlyPaths"]
    assert "/proc/sysrq-trigger" in linux["readonlyPaths"]


def test_pod_network_joins_the_pods_netns_with_its_hostname() -> None:
    spec = _spec(ContainerConfig("c", "i"), netns_path="/var/run/netns/p1", hostname="web-0")
    assert spec["linux"]["namespaces"] == [
        {"type": "pid"},
        {"type": "ipc"},
        {"type": "mount"},
        {"type": "uts"},
        {"type": "network", "path": "/var/run/netns/p1"},
    ]
    assert spec["hostname"] == "web-0"


def test_host_network_has_no_network_or_uts_namespace_and_no_hostname() -> None:
    spec = _spec(ContainerConfig("c", "i"), netns_path=None, hostname="ignored")
    types = [ns["type"] for ns in spec["linux"]["namespaces"]]
    assert types == ["pid", "ipc", "mount"]
    assert "hostname" not in spec


def test_no_limits_leave_cpu_and_memory_unset() -> None:
    resources = _spec(ContainerConfig("c", "i"))["linux"]["resources"]
    assert resources == {"devices": [{"allow": False, "access": "rwm"}]}


def test_cpu_and_memory_limits() -> None:
    config = ContainerConfig(
        "c", "i", cpu_limit_millis=500, cpu_request_millis=250, memory_limit_bytes=64 << 20
    )
    resources = _spec(config)["linux"]["resources"]
    assert resources["cpu"] == {"shares": 256, "quota": 50_000, "period": 100_000}
    assert resources["memory"] == {"limit": 64 << 20}


def test_tiny_cpu_values_are_raised_to_the_kernels_minimums() -> None:
    config = ContainerConfig("c", "i", cpu_limit_millis=1, cpu_request_millis=1)
    cpu = _spec(config)["linux"]["resources"]["cpu"]
    assert cpu["shares"] == 2
    assert cpu["quota"] == 1_000


def test_root_cgroups_path_and_version() -> None:
    spec = _spec(ContainerConfig("c", "i"), cgroups_path="/navarch/abc")
    assert spec["root"] == {"path": "rootfs", "readonly": False}
    assert spec["linux"]["cgroupsPath"] == "/navarch/abc"
    assert spec["ociVersion"].startswith("1.0.")


def test_image_config_from_an_oci_config_blob() -> None:
    blob = {
        "architecture": "amd64",
        "config": {
            "Entrypoint": None,
            "Cmd": ["sh"],
            "Env": ["PATH=/bin"],
            "WorkingDir": "/w",
            "User": "1000",
        },
    }
    image = ImageConfig.from_image_config(blob)
    assert image == ImageConfig((), ("sh",), ("PATH=/bin",), "/w", "1000")
    assert ImageConfig.from_image_config({}) == ImageConfig()


def test_spec_is_json() -> None:
    spec = _spec(ContainerConfig("c", "i", env=(("A", "1"),), memory_limit_bytes=1 << 30))
    assert json.loads(json.dumps(spec)) == spec


def test_exec_process_keeps_the_containers_env_and_runs_the_command() -> None:
    spec = _spec(ContainerConfig("c", "i", env=(("A", "1"),), working_dir="/w"))
    process = exec_process(spec, ["ls", "-l"], tty=True)
    assert process["args"] == ["ls", "-l"]
    assert process["terminal"] is True
    assert "A=1" in process["env"]
    assert process["cwd"] == "/w"
    assert process["user"] == {"uid": 0, "gid": 0}
    # the container's own spec is left as it was
    assert spec["process"]["args"] == ["/ep", "c1", "c2"]
    assert spec["process"]["terminal"] is False
    with pytest.raises(ValueError):
        exec_process(spec, [])
