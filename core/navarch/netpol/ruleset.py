"""The nftables side of NetworkPolicy: one table, ``inet navarch-policy``, rendered as
``nft`` text from the compiled pod policies and replaced whole in one ``nft -f -``
transaction (``add table``; ``delete table``; the new table), as kube-proxy's nftables
mode writes its table through knftables.

Why the inet family's forward hook: traffic between pods of one node crosses the
node's bridge, and traffic from or to other nodes is routed; the forward hook sees
both, the bridged part through br_netfilter (``net.bridge.bridge-nf-call-iptables=1``,
on by default in a new network namespace, and ensured by :meth:`Nft.prepare`, since
the Service proxy's DNAT needs it as well), with the inet family's connection
tracking for ``ct state``. Traffic from the node itself to its pods (output hook) and
from pods to the node (input hook) is not filtered: Kubernetes always allows the
pod's own node in (kubelet probes).

The table::

    table inet navarch-policy {
        chain forward {
            type filter hook forward priority filter; policy accept;
            ct state established,related accept
            ip saddr 10.42.1.2 jump egress-10-42-1-2 comment "ns/client"
            ip daddr 10.42.1.3 jump ingress-10-42-1-3 comment "ns/server"
        }
        chain ingress-10-42-1-3 {
            ip saddr { 10.42.1.2 } tcp dport 8080 return
            counter reject with icmpx admin-prohibited
        }
    }

A pod chain returns for allowed traffic (so a connection between two isolated pods of
one node goes on to the destination's ingress chain) and rejects the rest at once
(``admin-prohibited``: the client sees "no route to host", not a timeout).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence

import attrs
from loguru import logger

from navarch.netpol.compile import Allow, PodPolicy, PortRange

TABLE = "navarch-policy"
FAMILY = "inet"
REJECT = "counter reject with icmpx admin-prohibited"

log = logger.bind(component="netpol")


class NftError(RuntimeError):
    """``nft`` (or ``sysctl``) failed; the message carries its stderr."""


def _family(address: str) -> str:
    return "ip6" if ipaddress.ip_network(address, strict=False).version == 6 else "ip"


def _chain(direction: str, ip: str) -> str:
    return f"{direction}-{ip.replace('.', '-').replace(':', '-')}"


def _ports(ports: tuple[PortRange, ...]) -> list[str]:
    """One match per port range; [""] when any port of any protocol will do."""
    if not ports:
        return [""]
    out = []
    for port in ports:
        protocol = port.protocol.lower()
        if not port.first:
            out.append(f"meta l4proto {protocol}")
        elif port.first == port.last:
            out.append(f"{protocol} dport {port.first}")
        else:
            out.append(f"{protocol} dport {port.first}-{port.last}")
    return out


def _address_matches(allow: Allow, field: str) -> list[str]:
    """Matches of the peer's addresses (``field``: saddr or daddr), one per family."""
    if allow.addresses is None:
        return [""]
    out = []
    for family in ("ip", "ip6"):
        mine = [a for a in allow.addresses if _family(a) == family]
        if not mine:
            continue
        match = f"{family} {field} {{ {', '.join(mine)} }}"
        excepted = [e for e in allow.excepted if _family(e) == family]
        if excepted:
            match += f" {family} {field} != {{ {', '.join(excepted)} }}"
        out.append(match)
    return out


def _pod_chain(name: str, allows: tuple[Allow, ...], field: str) -> list[str]:
    lines = [f"\tchain {name} {{"]
    for allow in allows:
        for address in _address_matches(allow, field):
            for port in _ports(allow.ports):
                match = " ".join(part for part in (address, port) if part)
                lines.append(f"\t\t{match} return" if match else "\t\treturn")
    lines += [f"\t\t{REJECT}", "\t}"]
    return lines


def render(policies: Sequence[PodPolicy]) -> str:
    """The table's text (no transaction around it; see :func:`transaction`)."""
    jumps: list[str] = []
    chains: list[str] = []
    # Egress jumps first: an allowed packet returns, then meets its destination's
    # ingress chain when that pod is isolated too.
    for direction, field in (("egress", "saddr"), ("ingress", "daddr")):
        for pod in policies:
            allows = pod.egress if direction == "egress" else pod.ingress
            if allows is None:
                continue
            name = _chain(direction, pod.ip)
            jumps.append(f'\t\t{_family(pod.ip)} {field} {pod.ip} jump {name} comment "{pod.key}"')
            chains += _pod_chain(name, allows, "daddr" if direction == "egress" else "saddr")
    return "\n".join(
        [
            f"table {FAMILY} {TABLE} {{",
            "\tchain forward {",
            "\t\ttype filter hook forward priority filter; policy accept;",
            "\t\tct state established,related accept",
            *jumps,
            "\t}",
            *chains,
            "}",
            "",
        ]
    )


def transaction(table: str | None) -> str:
    """One atomic replacement: the table made if absent (so ``delete`` cannot fail),
    deleted, and ``table`` (rendered text) put in its place; None removes it."""
    head = f"add table {FAMILY} {TABLE}\ndelete table {FAMILY} {TABLE}\n"
    return head + (table or "")


@attrs.frozen
class Nft:
    """Runs ``nft`` in the node's network namespace: the agent's own, or one entered
    through ``prefix`` (``("nsenter", "--net=/run/netns/x", "--")`` in tests)."""

    prefix: tuple[str, ...] = ()
    binary: str = "nft"

    async def _run(self, argv: Sequence[str], stdin: str | None = None) -> str:
        # no pipe for a command that reads nothing: one that exits before its stdin is
        # written to (sysctl) closes the pipe, and uvloop's write then raises
        # RuntimeError, not the BrokenPipeError asyncio's communicate() ignores
        process = await asyncio.create_subprocess_exec(
            *self.prefix,
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await process.communicate(stdin.encode() if stdin is not None else None)
        except RuntimeError as exc:
            # uvloop (MagicStack/uvloop#506): a command that exited before its input
            # was written makes the write raise RuntimeError: a failure to retry
            await process.wait()
            raise NftError(
                f"{' '.join(argv)} exited ({process.returncode}) before reading its input"
            ) from exc
        if process.returncode != 0:
            raise NftError(
                f"{' '.join(argv)} failed ({process.returncode}): {err.decode().strip()}"
            )
        return out.decode()

    async def apply(self, table: str | None) -> None:
        """Replace the table with ``table`` (None: remove it) in one transaction."""
        await self._run([self.binary, "-f", "-"], transaction(table))

    async def listing(self) -> str:
        """``nft list table inet navarch-policy`` ("" when there is none)."""
        try:
            return await self._run([self.binary, "list", "table", FAMILY, TABLE])
        except NftError:
            return ""

    async def prepare(self) -> None:
        """Make bridged traffic between pods of the node reach the forward hook."""
        await self._run(["sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=1"])
