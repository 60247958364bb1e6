"""Pod networking over the CNI plugins (issue 24): a bridge on the node with one veth
per pod, addresses from the node's pod range (host-local IPAM), hostPorts (portmap),
and host-gw routes to every other node's pod range.

Registered as network plugin ``cni`` (``agent.network: cni``; options under
``agent.network_options``, see :class:`navarch_network_cni.options.CniOptions`)."""

from __future__ import annotations

from typing import Any

from navarch import hookimpl
from navarch_network_cni.options import CniOptions


def _factory(options: CniOptions, data_dir: str) -> Any:
    from navarch_network_cni.network import CniNetwork

    return CniNetwork(options, data_dir)


@hookimpl
def navarch_register_networks(register: Any) -> None:
    register("cni", _factory, options=CniOptions)
