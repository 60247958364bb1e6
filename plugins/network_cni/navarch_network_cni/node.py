"""What the node's namespace needs before pods get a network: forwarding, bridged
traffic through netfilter, and the masquerade of pod traffic leaving the cluster.

All of it in the namespace the agent runs in (``/proc/sys/net`` shows the opener's
namespace): ``net.ipv4.ip_forward=1`` to route between the bridge and the node's link,
``net.bridge.bridge-nf-call-iptables=1`` so that a pod's packet to a ClusterIP backed
by a pod on the same bridge passes the Service proxy's DNAT (verified: without it the
connection times out). The masquerade is one nftables table of our own, written in one
transaction and removed when the plugin stops for good."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

SYSCTLS = {
    "net/ipv4/ip_forward": "1",
    "net/bridge/bridge-nf-call-iptables": "1",
}
NFT_TABLE = "navarch_cni"


def set_sysctls() -> list[str]:
    """Set :data:`SYSCTLS`; the ones that could not be set, with why."""
    problems = []
    for key, value in SYSCTLS.items():
        path = Path("/proc/sys") / key
        try:
            if path.read_text().strip() != value:
                path.write_text(value)
        except OSError as exc:
            problems.append(f"{key.replace('/', '.')}: {exc.strerror or exc}")
    return problems


def masquerade_ruleset(pod_cidr: str, cluster_cidr: str) -> str:
    """Pod traffic to outside the cluster's pod ranges leaves with the node's address;
    pod to pod (any node) keeps its source address."""
    return (
        f"add table ip {NFT_TABLE}\n"
        f"delete table ip {NFT_TABLE}\n"
        f"table ip {NFT_TABLE} {{\n"
        "  chain postrouting {\n"
        "    type nat hook postrouting priority srcnat; policy accept;\n"
        f"    ip saddr {pod_cidr} ip daddr != {cluster_cidr} "
        "ip daddr != 224.0.0.0/4 masquerade\n"
        "  }\n"
        "}\n"
    )


async def nft(script: str) -> str:
    """Run ``nft -f -`` with ``script``; "" on success, else the error."""
    binary = shutil.which("nft") or "/usr/sbin/nft"
    try:
        process = await asyncio.create_subprocess_exec(
            binary,
            "-f",
            "-",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        return f"cannot run {binary}: {exc}"
    _, stderr = await process.communicate(script.encode())
    return "" if process.returncode == 0 else stderr.decode(errors="replace").strip()


async def remove_masquerade() -> str:
    return await nft(f"add table ip {NFT_TABLE}\ndelete table ip {NFT_TABLE}\n")
