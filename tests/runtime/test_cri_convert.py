"""runtime_cri's translation of a container's volumes into CRI's ``Mount`` messages,
checked on the wire bytes, so the field numbers are k8s.io/cri-api's (no daemon)."""

from __future__ import annotations

from navarch.runtime.types import ContainerConfig, Mount, MountPropagation, SandboxConfig
from navarch_runtime_cri.convert import container_config


def test_mounts_carry_cri_api_field_numbers() -> None:
    config = ContainerConfig(
        "c",
        "img",
        mounts=(
            Mount("/c", "/h", read_only=True, propagation=MountPropagation.HOST_TO_CONTAINER),
            Mount("/d", "/b", propagation=MountPropagation.BIDIRECTIONAL),
            Mount("/e", "/p"),
        ),
    )
    message = container_config(config, SandboxConfig("pod", "ns", "uid"))
    # ContainerConfig.mounts = 7; Mount: container_path = 1, host_path = 2,
    # readonly = 3, selinux_relabel = 4, propagation = 5 (PRIVATE 0, HOST_TO_CONTAINER
    # 1, BIDIRECTIONAL 2; proto3 leaves zeros off the wire)
    first = b"\x0a\x02/c\x12\x02/h\x18\x01\x28\x01"
    second = b"\x0a\x02/d\x12\x02/b\x28\x02"
    third = b"\x0a\x02/e\x12\x02/p"
    wire = message.SerializeToString()
    for mount in (first, second, third):
        assert b"\x3a" + bytes([len(mount)]) + mount in wire
    assert [m.readonly for m in message.mounts] == [True, False, False]
    assert not any(m.selinux_relabel for m in message.mounts)
