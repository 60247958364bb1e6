"""A container's CPU request and limit as the kernel's CPU controller takes them, the
same for every runtime (Kubernetes' ``MilliCPUToShares`` and ``MilliCPUToQuota`` in
pkg/kubelet/cm).

* shares (cgroup v1 ``cpu.shares``; runc maps them to v2's ``cpu.weight``): 1024 per
  CPU requested, within the kernel's bounds [2, 262144]. The bounds are clamped, not
  passed on: runc and Docker refuse a container asking more than 262144 ("the maximum
  allowed cpu-shares is 262144"), which a pod requesting 257 CPUs or more would
  otherwise never get past. Worked example: 250m -> 256; 1m -> 2; 1000 CPUs -> 262144.
* quota: microseconds of CPU time per 100 ms period, never below the kernel's 1 ms
  (a limit of 1m would otherwise be refused).
"""

from __future__ import annotations

MIN_SHARES = 2
MAX_SHARES = 262_144
SHARES_PER_CPU = 1_024
CFS_PERIOD_US = 100_000  # the kubelet's CFS period
MIN_CFS_QUOTA_US = 1_000


def cpu_shares(millis: int) -> int:
    """The shares for a request of ``millis`` millicores (0: the minimum, 2)."""
    return min(MAX_SHARES, max(MIN_SHARES, millis * SHARES_PER_CPU // 1_000))


def cfs_quota(millis: int, period_us: int = CFS_PERIOD_US) -> int:
    """The CFS quota for a limit of ``millis`` millicores over ``period_us``."""
    return max(MIN_CFS_QUOTA_US, millis * period_us // 1_000)
