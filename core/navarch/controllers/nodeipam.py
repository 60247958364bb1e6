"""The node IPAM controller (Kubernetes' pkg/controller/nodeipam, its range allocator):
each Node without a pod CIDR gets the lowest free range of ``node_cidr_mask_size``
bits out of ``cluster_cidr`` (k3s' defaults: a /24 of 10.42.0.0/16) in
``spec.podCIDR``/``spec.podCIDRs``, from which its network plugin gives pods their
addresses.

What is taken is derived from the Nodes themselves, never kept elsewhere: every range
a Node in the informer's cache holds is in use, so a controller manager that restarts,
or a standby that takes over the leadership, lists the Nodes and hands out only what
no Node holds; a deleted Node's range is free again once its deletion reaches the
cache. The API server makes a Node's pod CIDR write-once (Kubernetes'
ValidateNodeUpdate), so two writers can never give one Node two ranges: the loser of
such a race gets 422 and looks again. Ranges this controller wrote whose Nodes the
cache does not show with them yet are held aside, so a second Node synced meanwhile
never gets the same one.

When the cluster CIDR has no free range left, the Node gets a Warning Event
``CIDRNotAvailable`` (once, until it gets a range) and waits: a Node's deletion wakes
every Node still waiting.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

import attrs

from navarch.client.errors import Invalid, NotFound
from navarch.controllers.base import QueueController
from navarch.controllers.context import ControllerContext

NAME = "node-ipam"
CIDR_NOT_AVAILABLE = "CIDRNotAvailable"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _valid_cidr(instance: Any, attribute: Any, value: str) -> None:
    try:
        ipaddress.ip_network(value)
    except ValueError as exc:
        raise ValueError(
            f"cluster_cidr = {value!r}: not a network in CIDR form ({exc}); e.g. 10.42.0.0/16"
        ) from None


def _fits_cluster(instance: NodeIPAMOptions, attribute: Any, value: int) -> None:
    network = ipaddress.ip_network(instance.cluster_cidr)
    if not network.prefixlen <= value <= network.max_prefixlen:
        raise ValueError(
            f"node_cidr_mask_size = {value}: must be between the cluster CIDR's prefix "
            f"length ({network.prefixlen}) and {network.max_prefixlen}"
        )


@attrs.frozen(kw_only=True)
class NodeIPAMOptions:
    cluster_cidr: str = attrs.field(
        default="10.42.0.0/16",
        validator=_valid_cidr,
        metadata={"help": "The pods' addresses, cut into one range per Node (k3s' default)."},
    )
    node_cidr_mask_size: int = attrs.field(
        default=24,
        validator=_fits_cluster,
        metadata={
            "help": "Prefix length of each Node's range (24: 254 pods' addresses a Node, "
            "256 Nodes in a /16)."
        },
    )


def pod_cidrs_of(node: Any) -> tuple[str, ...]:
    spec = node.spec
    if spec is None:
        return ()
    return tuple(spec.pod_cidrs or ()) or ((spec.pod_cidr,) if spec.pod_cidr else ())


@attrs.define
class RangeSet:
    """The ranges of one cluster CIDR; which are free is asked with the taken ones."""

    cluster: Network
    prefixlen: int

    def lowest_free(self, taken: Iterable[str]) -> str | None:
        exact: set[Network] = set()
        others: list[Network] = []  # taken ranges of another size: compared by overlap
        for text in taken:
            try:
                network = ipaddress.ip_network(text, strict=False)
            except ValueError:
                continue
            if network.version != self.cluster.version or not network.overlaps(self.cluster):
                continue
            (exact.add if network.prefixlen == self.prefixlen else others.append)(network)
        for candidate in self.cluster.subnets(new_prefix=self.prefixlen):
            if candidate in exact or any(candidate.overlaps(o) for o in others):
                continue
            return str(candidate)
        return None


class NodeIPAMController(QueueController):
    # One worker: ranges go out in the order Nodes arrive, and a sync is one small write.
    workers = 1

    def __init__(self, context: ControllerContext):
        super().__init__(context)
        self.options: NodeIPAMOptions = context.options or NodeIPAMOptions()
        self.ranges = RangeSet(
            ipaddress.ip_network(self.options.cluster_cidr), self.options.node_cidr_mask_size
        )
        # node name -> the range written to it that the cache does not show yet
        self._written: dict[str, str] = {}
        # Nodes told (by an Event) that no range is left, until they get one.
        self._told_exhausted: set[str] = set()
        self.nodes = context.informers.informer("nodes")
        self.nodes.add_handler(
            on_add=self._node_changed,
            on_update=lambda old, new: self._node_changed(new),
            on_delete=self._node_deleted,
        )

    def _node_changed(self, node: Any) -> None:
        if pod_cidrs_of(node):
            self._written.pop(node.name, None)
            self._told_exhausted.discard(node.name)
        else:
            self.enqueue(node)

    def _node_deleted(self, node: Any) -> None:
        self._written.pop(node.name, None)
        self._told_exhausted.discard(node.name)
        for waiting in self.nodes.list():  # a range may be free for them now
            if not pod_cidrs_of(waiting):
                self.enqueue(waiting)

    def _taken(self, but: str) -> list[str]:
        taken = [cidr for node in self.nodes.list() for cidr in pod_cidrs_of(node)]
        taken += [cidr for name, cidr in self._written.items() if name != but]
        return taken

    async def sync(self, key: str) -> float | None:
        node = self.nodes.get(key)
        if node is None:
            self._written.pop(key, None)
            return None
        if pod_cidrs_of(node):
            return None
        cidr = self._written.get(key) or self.ranges.lowest_free(self._taken(but=key))
        log = self.log.bind(node=key)
        if cidr is None:
            if key not in self._told_exhausted:
                self._told_exhausted.add(key)
                log.bind(cluster_cidr=str(self.ranges.cluster)).warning("no pod CIDR left")
                await self.context.recorder.record(
                    node,
                    "Warning",
                    CIDR_NOT_AVAILABLE,
                    f"Node {key} status is now: {CIDR_NOT_AVAILABLE} (no free "
                    f"/{self.ranges.prefixlen} left in {self.ranges.cluster})",
                )
            return None
        self._written[key] = cidr  # held before the write's await: no other sync takes it
        try:
            await self.client.nodes.patch(key, {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}})
        except NotFound:
            self._written.pop(key, None)
            return None
        except Invalid:
            # Another writer (a former leader) gave it a range first: the update rule
            # refused ours. The cache will show that range; nothing of ours is held.
            self._written.pop(key, None)
            return 1.0
        # Any other failure keeps the range held for this Node: the write may have
        # landed, and the retry writes the same range again.
        self._told_exhausted.discard(key)
        log.bind(pod_cidr=cidr).info("pod CIDR given")
        return None
