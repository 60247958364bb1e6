"""Options of the cni network plugin (``agent.network_options``), checked by the core
and listed by ``navarch config reference``."""

from __future__ import annotations

import ipaddress
from typing import Any

import attrs

DEFAULT_BIN_DIR = "/usr/lib/cni"  # Debian's containernetworking-plugins (not /opt/cni/bin)
ROUTE_MODES = ("host-gw", "none")


def _help(text: str) -> dict[str, str]:
    return {"help": text}


def _interface_name(_: Any, attribute: attrs.Attribute, value: str) -> None:
    if not value or len(value) > 15 or "/" in value or " " in value:
        raise ValueError(f"{attribute.name} = {value!r}: a Linux interface name (1-15 chars)")


def _cidr_or_empty(_: Any, attribute: attrs.Attribute, value: str) -> None:
    if value:
        try:
            ipaddress.ip_network(value)
        except ValueError as exc:
            raise ValueError(f"{attribute.name} = {value!r}: {exc}") from None


def _one_of(choices: tuple[str, ...]) -> Any:
    def check(_: Any, attribute: attrs.Attribute, value: str) -> None:
        if value not in choices:
            raise ValueError(f"{attribute.name} = {value!r}: one of {', '.join(choices)}")

    return check


def _positive(_: Any, attribute: attrs.Attribute, value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} = {value:g}: must be more than 0")


@attrs.frozen(kw_only=True)
class CniOptions:
    bin_dir: str = attrs.field(
        default=DEFAULT_BIN_DIR,
        metadata=_help("Directory of the CNI plugin binaries (bridge, host-local, portmap)."),
    )
    bridge: str = attrs.field(
        default="nv0",
        validator=_interface_name,
        metadata=_help("Name of the node's pod bridge (made in the agent's network namespace)."),
    )
    mtu: int = attrs.field(
        default=0, metadata=_help("MTU of the bridge and the pods' eth0; 0: the kernel's.")
    )
    cluster_cidr: str = attrs.field(
        default="10.42.0.0/16",
        validator=_cidr_or_empty,
        metadata=_help(
            "Every node's pod ranges together: pod traffic to addresses outside it is "
            "masqueraded to the node's address; inside it, never (no NAT between pods). "
            "Empty: no masquerade."
        ),
    )
    routes: str = attrs.field(
        default="host-gw",
        validator=_one_of(ROUTE_MODES),
        metadata=_help(
            "Routes to the other nodes' pod ranges: host-gw (one route per node via its "
            "InternalIP, the nodes share a link) or none."
        ),
    )
    timeout: float = attrs.field(
        default=30.0,
        validator=_positive,
        metadata=_help("Deadline of one CNI plugin call, in seconds."),
    )
