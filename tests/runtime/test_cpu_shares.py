"""CPU requests and limits to the kernel's values (issue 29 item 3): one conversion,
Kubernetes' MilliCPUToShares / MilliCPUToQuota, used by every runtime's spec builder."""

from __future__ import annotations

import pytest

from navarch.runtime import ContainerConfig, SandboxConfig
from navarch.runtime.cpu import MAX_SHARES, cfs_quota, cpu_shares
from navarch_runtime_containerd.ocispec import ImageConfig, build_spec
from navarch_runtime_cri import convert
from navarch_runtime_docker.specs import container_body

THOUSAND_CPUS = 1_000_000  # millicores


@pytest.mark.parametrize(
    ("millis", "shares"),
    [
        (0, 2),  # the kernel's minimum
        (1, 2),
        (250, 256),
        (1_000, 1_024),
        (256_000, 262_144),  # 256 CPUs: exactly the maximum
        (257_000, 262_144),  # above it: clamped, not refused at start
        (THOUSAND_CPUS, 262_144),
    ],
)
def test_shares_are_1024_per_cpu_within_the_kernels_bounds(millis, shares):
    assert cpu_shares(millis) == shares


def test_quota_is_per_100ms_period_and_never_below_1ms():
    assert cfs_quota(500) == 50_000
    assert cfs_quota(1) == 1_000
    assert cfs_quota(2_000, period_us=50_000) == 100_000


def _containerd(config: ContainerConfig) -> int:
    spec = build_spec(config, ImageConfig(entrypoint=("/ep",)), cgroups_path="/n/c", netns_path="")
    return spec["linux"]["resources"]["cpu"]["shares"]


def _docker(config: ContainerConfig) -> int:
    _, body = container_body("sb", config, SandboxConfig("p", "default", "u"), "json-file")
    return body["HostConfig"]["CpuShares"]


def _cri(config: ContainerConfig) -> int:
    return convert.container_config(
        config, SandboxConfig("p", "default", "u")
    ).linux.resources.cpu_shares


@pytest.mark.parametrize(
    "shares_of", [_containerd, _docker, _cri], ids=["containerd", "docker", "cri"]
)
def test_every_runtime_clamps_a_thousand_cpu_request(shares_of):
    config = ContainerConfig("c", "img", cpu_request_millis=THOUSAND_CPUS)
    assert shares_of(config) == MAX_SHARES
    assert shares_of(ContainerConfig("c", "img", cpu_request_millis=250)) == 256
