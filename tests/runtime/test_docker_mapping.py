"""runtime_docker's translations, without a daemon: engine times, image references,
registry credentials, stream framing, create bodies and statuses."""

from __future__ import annotations

import asyncio
import base64
import json
import struct

import pytest

from navarch.runtime import (
    STDERR,
    STDOUT,
    ContainerConfig,
    ContainerState,
    InvalidConfig,
    Mount,
    MountPropagation,
    PortMapping,
    RegistryAuth,
    SandboxConfig,
    SandboxState,
)
from navarch_runtime_docker.images import registry_auth_header, split_reference
from navarch_runtime_docker.options import DockerOptions
from navarch_runtime_docker.specs import (
    INTERNAL,
    RECORD,
    STOPPED_SUFFIX,
    container_body,
    sandbox_body,
)
from navarch_runtime_docker.status import container_status, sandbox_status
from navarch_runtime_docker.streams import format_time, frames, parse_time


def test_engine_times_keep_nanoseconds_and_zero_is_none():
    assert parse_time("2026-11-28T01:14:50.123456789Z") == pytest.approx(
        1795828490.123456789, abs=1e-6
    )
    assert parse_time("2026-11-28T02:14:50.5+01:00") == pytest.approx(1795828490.5)
    assert parse_time("0001-01-01T00:00:00Z") is None
    assert parse_time("") is None
    assert format_time(1795828490.25) == "1795828490.250000000"


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("127.0.0.1:5000/busybox:1", ("127.0.0.1:5000/busybox", "1")),
        ("127.0.0.1:5000/busybox", ("127.0.0.1:5000/busybox", "latest")),
        ("navarch.test/busybox", ("navarch.test/busybox", "latest")),
        ("busybox:1", ("busybox", "1")),
        ("127.0.0.1:5000/a/b@sha256:abc", ("127.0.0.1:5000/a/b", "sha256:abc")),
    ],
)
def test_split_reference(image, expected):
    assert split_reference(image) == expected


def test_registry_auth_header_names_the_registry():
    header = registry_auth_header("127.0.0.1:5000/a:1", RegistryAuth("u", "p"))
    decoded = json.loads(base64.urlsafe_b64decode(header))
    assert decoded == {"serveraddress": "127.0.0.1:5000", "username": "u", "password": "p"}
    token = registry_auth_header("127.0.0.1:5000/a:1", RegistryAuth(identity_token="t"))
    assert json.loads(base64.urlsafe_b64decode(token))["identitytoken"] == "t"


def test_multiplexed_frames_are_split_by_stream():
    def frame(kind: int, data: bytes) -> bytes:
        return struct.pack(">BxxxL", kind, len(data)) + data

    async def decode(raw: bytes):
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        reader.feed_eof()
        return [item async for item in frames(reader.readexactly)]

    raw = frame(1, b"out\n") + frame(2, b"err\n") + frame(1, b"")
    assert asyncio.run(decode(raw)) == [(STDOUT, b"out\n"), (STDERR, b"err\n"), (STDOUT, b"")]
    # A stream cut inside a frame yields what came and ends.
    assert asyncio.run(decode(frame(1, b"whole") + frame(2, b"cut")[:-1])) == [
        (STDOUT, b"whole"),
        (STDERR, b"cu"),
    ]


SANDBOX = SandboxConfig("web", "default", "0123456789", hostname="web-0", labels={"a": "1"})


def test_container_body_follows_kubernetes_command_rules_and_limits():
    _, only_args = container_body(
        "sb", ContainerConfig("c", "img", args=("x",)), SANDBOX, "json-file"
    )
    assert "Entrypoint" not in only_args and only_args["Cmd"] == ["x"]
    name, body = container_body(
        "sb",
        ContainerConfig(
            "c",
            "img",
            command=("sh",),
            env=(("B", "2"), ("A", "1")),
            cpu_limit_millis=2000,
            memory_limit_bytes=1 << 30,
            labels={"k": "v"},
        ),
        SANDBOX,
        "json-file",
    )
    # command alone: the image's cmd is dropped by the engine (Entrypoint set, no Cmd)
    assert body["Entrypoint"] == ["sh"] and "Cmd" not in body
    assert body["Env"] == ["B=2", "A=1"]
    host = body["HostConfig"]
    assert host["NetworkMode"] == host["IpcMode"] == "container:sb"
    assert host["NanoCpus"] == 2_000_000_000 and host["CpuShares"] == 2048  # limit only
    assert host["Memory"] == host["MemorySwap"] == 1 << 30
    assert body["Labels"]["k"] == "v"
    assert name.startswith("navarch_c_web_default_01234567_0_")


def test_volumes_are_bind_mounts_never_binds():
    """HostConfig.Mounts of type bind (the engine refuses a missing source, where a
    Binds string would create it), read-only and propagation as dockershim's."""
    _, plain = container_body("sb", ContainerConfig("c", "img"), SANDBOX, "json-file")
    assert "Mounts" not in plain["HostConfig"] and "Binds" not in plain["HostConfig"]
    mounts = (
        Mount("/etc/config", "/h/config", read_only=True),
        Mount("/data", "/h/data", propagation=MountPropagation.HOST_TO_CONTAINER),
        Mount("/shared", "/h/shared", propagation=MountPropagation.BIDIRECTIONAL),
    )
    _, body = container_body("sb", ContainerConfig("c", "img", mounts=mounts), SANDBOX, "x")
    assert "Binds" not in body["HostConfig"]
    assert body["HostConfig"]["Mounts"] == [
        {
            "Type": "bind",
            "Source": "/h/config",
            "Target": "/etc/config",
            "ReadOnly": True,
            "BindOptions": {"Propagation": "rprivate"},
        },
        {
            "Type": "bind",
            "Source": "/h/data",
            "Target": "/data",
            "ReadOnly": False,
            "BindOptions": {"Propagation": "rslave"},
        },
        {
            "Type": "bind",
            "Source": "/h/shared",
            "Target": "/shared",
            "ReadOnly": False,
            "BindOptions": {"Propagation": "rshared"},
        },
    ]


def test_sandbox_without_pod_network_refuses_host_ports():
    config = SandboxConfig("web", "default", "u", ports=(PortMapping(80, host_port=8080),))
    with pytest.raises(InvalidConfig, match="hostPort"):
        sandbox_body(config, "pause", "none")
    _, body = sandbox_body(config, "pause", "bridge")
    assert body["HostConfig"]["PortBindings"] == {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}
    # Kubernetes' default hostname: the pod's name (at most 63 characters).
    _, unnamed = sandbox_body(SandboxConfig("p" * 70, "d", "u"), "pause", "none")
    assert unnamed["Hostname"] == "p" * 63


def test_host_network_sandbox_is_a_record_and_its_containers_use_the_host():
    _, record = sandbox_body(SandboxConfig("w", "d", "u", host_network=True), "pause", "none")
    # Never started (the runtime creates it only): no namespace held, no hostname.
    assert record["Labels"][RECORD] == "true" and "Hostname" not in record
    assert record["HostConfig"]["NetworkMode"] == "none"
    assert "IpcMode" not in record["HostConfig"]
    _, body = container_body(
        "sb", ContainerConfig("c", "img"), SANDBOX, "json-file", in_record=True
    )
    host = body["HostConfig"]
    assert (host["NetworkMode"], host["IpcMode"]) == ("host", "private")
    assert body["Labels"][INTERNAL + "sandbox-id"] == "sb"


def test_record_sandbox_is_ready_until_renamed_stopped():
    labels = {RECORD: "true", INTERNAL + "host-network": "true"}
    never_started = {"Status": "created", "Running": False, "Pid": 0}
    info = {
        "Id": "sb",
        "Name": "/navarch_POD_w",
        "Created": "2026-11-28T01:00:00.000000001Z",
        "Config": {"Labels": labels},
        "State": never_started,
    }
    ready = sandbox_status(info)
    assert ready.state == SandboxState.READY and ready.host_network and ready.netns_path == ""
    stopped = sandbox_status({**info, "Name": "/navarch_POD_w" + STOPPED_SUFFIX})
    assert stopped.state == SandboxState.NOT_READY
    # A pause sandbox (no record label) still follows its process.
    pause = sandbox_status({**info, "Config": {"Labels": {INTERNAL + "host-network": "true"}}})
    assert pause.state == SandboxState.NOT_READY


def _inspected(state: dict, labels: dict | None = None) -> dict:
    return {
        "Id": "c1",
        "Name": "/navarch_x",
        "Image": "sha256:img",
        "Created": "2026-11-28T01:00:00.000000001Z",
        "Config": {
            "Image": "img",
            "Labels": {"mine": "v", INTERNAL + "name": "main", INTERNAL + "sandbox-id": "sb"}
            | (labels or {}),
        },
        "State": state,
    }


def test_quick_exit_never_reports_start_after_finish():
    # The engine stamps StartedAt late: a quick process may "finish" before it started.
    status = container_status(
        _inspected(
            {
                "Status": "exited",
                "ExitCode": 0,
                "StartedAt": "2026-11-28T01:00:01.532304Z",
                "FinishedAt": "2026-11-28T01:00:01.530738Z",
            }
        )
    )
    assert status.started_at is not None and status.finished_at is not None
    assert status.started_at <= status.finished_at
    assert (status.state, status.reason, status.exit_code) == (
        ContainerState.EXITED,
        "Completed",
        0,
    )
    assert dict(status.labels) == {"mine": "v"}  # the plugin's own labels stripped
    assert (status.name, status.sandbox_id) == ("main", "sb")


def test_status_reasons():
    oom = container_status(_inspected({"Status": "exited", "ExitCode": 137, "OOMKilled": True}))
    assert (oom.reason, oom.exit_code) == ("OOMKilled", 137)
    # A process that could not start stays "created" in the engine, with an error.
    cannot = container_status(
        _inspected({"Status": "created", "ExitCode": 127, "Error": "exec: no such file"})
    )
    assert cannot.state == ContainerState.EXITED
    assert (cannot.reason, cannot.exit_code, cannot.message) == ("Error", 127, "exec: no such file")
    created = container_status(_inspected({"Status": "created", "ExitCode": 0}))
    assert created.state == ContainerState.CREATED and created.exit_code is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"socket": "/var/run/docker.sock"}, "unix://"),
        ({"api_version": "v1.41"}, "api_version"),
        ({"request_timeout_seconds": 0}, "request_timeout_seconds"),
    ],
)
def test_options_name_the_mistake(options, message):
    with pytest.raises(ValueError, match=message):
        DockerOptions(**options)


def test_registered_as_docker_with_its_options():
    from navarch.plugins import build_plugin_manager
    from navarch.registry import collect
    from navarch.runtime import Runtime
    from navarch_runtime_docker import DockerRuntime

    entry = collect(build_plugin_manager()).runtimes.entry("docker")
    assert entry.options is DockerOptions
    runtime = entry.value(DockerOptions(socket="unix:///tmp/x.sock"), "/unused")
    assert isinstance(runtime, DockerRuntime) and isinstance(runtime, Runtime)
    assert runtime.options.socket == "unix:///tmp/x.sock"
