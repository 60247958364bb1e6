"""The Service proxy's whole nftables table, rendered as ``nft -f`` text (kube-proxy's
nftables mode, pkg/proxy/nftables, is the model).

One table of its own, ``ip navarch-proxy``, holds everything. :func:`build` computes
its contents; :func:`full_script` replaces the table whole and :func:`update_script`
changes only what differs from the last applied contents (kube-proxy's partial sync),
each in one transaction (:mod:`navarch.proxy.apply`), so no packet ever sees half a
sync::

    nat-prerouting, nat-output (dstnat)  -> services
    services:   ip daddr . l4proto . dport       vmap @service-ips
                fib daddr type local, not 127/8: l4proto . dport vmap @service-nodeports
                any other port of a ClusterIP (@cluster-ips): rejected
    @service-ips:       ClusterIP -> the internal pick chain; externalIPs and
                        load-balancer IPs -> external-<key>
    @service-nodeports: NodePort  -> external-<key>
    external-<key>: externalTrafficPolicy Cluster: mark for masquerade, goto cluster-<key>;
                    Local: pods keep the internal view, others goto local-<key> (the
                    client's address is kept: no masquerade)
    cluster-<key> / local-<key>: sticky endpoints first (sessionAffinity ClientIP),
                    then ``numgen random mod N vmap`` over the endpoints
    endpoint-<key>/<ip>/<port>: hairpin mark, affinity update, dnat to ip:port
    nat-postrouting (srcnat) -> masquerading: masquerade what was marked

Connections to a Service port with no usable endpoint are refused at once: the filter
chains at priority dstnat-10 (before any routing decision, so no route to the
service range is needed) send a TCP reset or ICMP port-unreachable through
``@no-endpoint-services`` / ``@no-endpoint-nodeports``.

Chain names carry the Service port's key (``namespace/name/protocol/<port name or
number>``), which is what ``nft list table ip navarch-proxy`` shows a person debugging.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from navarch.proxy.model import Endpoint, ServicePort, usable

FAMILY = "ip"
TABLE = "navarch-proxy"
# kube-proxy's masquerade bit, so the two tell the same story in `nft monitor trace`.
MASQUERADE_MARK = "0x4000"
# Filter chains run before DNAT (dstnat = -100), as kube-proxy's do.
FILTER_PRIORITY = -110
DEFAULT_CLUSTER_CIDR = "10.42.0.0/16"
_REJECT = "goto reject-chain"


@attrs.frozen
class NodeView:
    """What the rules depend on besides the Services: which node this is (for the
    Local traffic policies) and the cluster's pod range (traffic from outside it to a
    ClusterIP is masqueraded, so replies come back through this node)."""

    node_name: str
    cluster_cidr: str = DEFAULT_CLUSTER_CIDR


def _endpoint_chain(port: ServicePort, endpoint: Endpoint) -> str:
    return f"endpoint-{port.key}/{endpoint.ip}/{endpoint.port}"


def _affinity_set(port: ServicePort, endpoint: Endpoint) -> str:
    return f"affinity-{port.key}/{endpoint.ip}/{endpoint.port}"


@attrs.frozen
class Ruleset:
    """The table's contents besides its fixed base chains: chains (in an order where a
    chain comes after every chain it jumps to), affinity sets (name -> timeout) and
    the four verdict maps (name -> key -> verdict). Kept by the proxier between syncs,
    so that a change is applied as the difference (:func:`update_script`), not the
    whole table again. ``conflicts``: Service ports that lost an address and port to
    another."""

    chains: dict[str, tuple[str, ...]]
    sets: dict[str, int]
    maps: dict[str, dict[str, str]]
    cluster_ips: frozenset[str] = frozenset()
    conflicts: tuple[str, ...] = ()


MAP_TYPES = {
    "service-ips": "ipv4_addr . inet_proto . inet_service",
    "service-nodeports": "inet_proto . inet_service",
    "no-endpoint-services": "ipv4_addr . inet_proto . inet_service",
    "no-endpoint-nodeports": "inet_proto . inet_service",
}
_NODE_LOCAL = "fib daddr type local ip daddr != 127.0.0.0/8"
# Chains every table has. These come first (the Services' chains jump to them)...
_FIXED: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("mark-for-masquerade", "", (f"meta mark set meta mark | {MASQUERADE_MARK}",)),
    (
        "masquerading",
        "",
        (
            f"meta mark & {MASQUERADE_MARK} == 0 return",
            f"meta mark set meta mark ^ {MASQUERADE_MARK}",
            "masquerade fully-random",
        ),
    ),
    ("reject-chain", "", ("meta l4proto tcp reject with tcp reset", "reject")),
)
# ... and these last (they read the maps and sets); base chains carry their hook.
_BASE: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "services",
        "",
        (
            "ip daddr . meta l4proto . th dport vmap @service-ips",
            f"{_NODE_LOCAL} meta l4proto . th dport vmap @service-nodeports",
            # a ClusterIP on a port no Service defines: refused, not routed on
            "ip daddr @cluster-ips goto reject-chain",
        ),
    ),
    (
        "endpoints-check",
        "",
        (
            "ip daddr . meta l4proto . th dport vmap @no-endpoint-services",
            f"{_NODE_LOCAL} meta l4proto . th dport vmap @no-endpoint-nodeports",
        ),
    ),
    *(
        (
            f"filter-{hook}",
            f"type filter hook {hook} priority {FILTER_PRIORITY}; policy accept;",
            ("ct state new jump endpoints-check",),
        )
        for hook in ("prerouting", "output")
    ),
    (
        "nat-prerouting",
        "type nat hook prerouting priority dstnat; policy accept;",
        ("jump services",),
    ),
    ("nat-output", "type nat hook output priority -100; policy accept;", ("jump services",)),
    (
        "nat-postrouting",
        "type nat hook postrouting priority srcnat; policy accept;",
        ("jump masquerading",),
    ),
)


@attrs.define
class _Builder:
    chains: dict[str, tuple[str, ...]] = attrs.field(factory=dict)
    sets: dict[str, int] = attrs.field(factory=dict)
    maps: dict[str, dict[str, str]] = attrs.field(factory=lambda: {m: {} for m in MAP_TYPES})
    cluster_ips: set[str] = attrs.field(factory=set)
    conflicts: list[str] = attrs.field(factory=list)

    def element(self, address: bool, key: str, verdict: str, port: ServicePort) -> None:
        """One map element. An address, protocol and port has one verdict: when two
        Services claim the same (two load balancers handed the same node address and
        port), the first by key keeps it and the other is reported — a duplicate
        element would fail the whole transaction, every other Service's too."""
        proxied, rejected = (
            ("service-ips", "no-endpoint-services")
            if address
            else ("service-nodeports", "no-endpoint-nodeports")
        )
        if key in self.maps[proxied] or key in self.maps[rejected]:
            self.conflicts.append(f"{port.key}: {key} is taken")
            return
        self.maps[rejected if verdict == _REJECT else proxied][key] = verdict

    def pick_chain(
        self, name: str, port: ServicePort, endpoints: Sequence[Endpoint], first: Sequence[str]
    ) -> None:
        rules = list(first)
        if port.affinity_seconds is not None:
            # A client seen recently goes back to the endpoint it had (kube-proxy's
            # per-endpoint affinity sets, filled by the endpoint chain).
            rules.extend(
                f"ip saddr @{_affinity_set(port, e)} goto {_endpoint_chain(port, e)}"
                for e in endpoints
            )
        if len(endpoints) == 1:
            rules.append(f"goto {_endpoint_chain(port, endpoints[0])}")
        else:
            choices = ", ".join(
                f"{index} : goto {_endpoint_chain(port, e)}" for index, e in enumerate(endpoints)
            )
            rules.append(f"numgen random mod {len(endpoints)} vmap {{ {choices} }}")
        self.chains[name] = tuple(rules)

    def service(self, port: ServicePort, node: NodeView) -> None:
        usable_all = usable(port.endpoints)
        usable_local = usable(e for e in port.endpoints if e.node_name == node.node_name)
        internal = usable_local if port.internal_local else usable_all
        external = usable_local if port.external_local else usable_all
        proto = port.protocol
        needed = {e: None for e in (*internal, *(external if port.has_external else ()))}

        # Endpoint chains first: nft resolves a jump when it reads it.
        for endpoint in sorted(needed, key=lambda e: (e.ip, e.port)):
            affinity = []
            if port.affinity_seconds is not None:
                self.sets[_affinity_set(port, endpoint)] = port.affinity_seconds
                affinity.append(f"update @{_affinity_set(port, endpoint)} {{ ip saddr }}")
            self.chains[_endpoint_chain(port, endpoint)] = (
                # hairpin: a pod reaching itself through its Service must see the reply
                # come from the Service, so its source is rewritten too
                f"ip saddr {endpoint.ip} jump mark-for-masquerade",
                *affinity,
                f"meta l4proto {proto} dnat to {endpoint.ip}:{endpoint.port}",
            )

        cluster_ip_key = f"{port.cluster_ip} . {proto} . {port.port}"
        self.cluster_ips.add(port.cluster_ip)
        # Traffic to the ClusterIP from outside the pod range (the node itself, a host
        # network pod) is masqueraded so the reply returns through this node's conntrack.
        from_outside = (
            f"ip daddr {port.cluster_ip} {proto} dport {port.port} "
            f"ip saddr != {node.cluster_cidr} jump mark-for-masquerade"
        )
        cluster_chain, local_chain = f"cluster-{port.key}", f"local-{port.key}"
        internal_chain = local_chain if port.internal_local else cluster_chain
        if internal:
            self.pick_chain(internal_chain, port, internal, [from_outside])
            self.element(True, cluster_ip_key, f"goto {internal_chain}", port)
        else:
            self.element(True, cluster_ip_key, _REJECT, port)

        if not port.has_external:
            return
        external_chain = f"external-{port.key}"
        verdict = _REJECT
        if external:
            verdict = f"goto {external_chain}"
            if port.external_local:
                if local_chain != internal_chain:
                    self.pick_chain(local_chain, port, external, [])
                # Pods keep the internal view; others go to this node's endpoints only,
                # unmasqueraded, so the endpoint sees the client's own address.
                rules = [f"ip saddr {node.cluster_cidr} goto {internal_chain}"] if internal else []
                rules.append(f"goto {local_chain}")
            else:
                if cluster_chain != internal_chain:
                    self.pick_chain(cluster_chain, port, external, [])
                # From outside, the endpoint may be on another node: masquerade so that
                # the reply comes back here to be un-NATed (kube-proxy does the same).
                rules = ["jump mark-for-masquerade", f"goto {cluster_chain}"]
            self.chains[external_chain] = tuple(rules)
        for address in port.external_addresses:
            self.element(True, f"{address} . {proto} . {port.port}", verdict, port)
        if port.node_port:
            self.element(False, f"{proto} . {port.node_port}", verdict, port)


def build(ports: Iterable[ServicePort], node: NodeView) -> Ruleset:
    """The rules for ``ports`` as seen from ``node``."""
    builder = _Builder()
    for port in ports:
        builder.service(port, node)
    return Ruleset(
        builder.chains,
        builder.sets,
        builder.maps,
        frozenset(builder.cluster_ips),
        tuple(builder.conflicts),
    )


def _chain_block(name: str, hook: str, rules: Iterable[str]) -> list[str]:
    return [
        f"\tchain {name} {{",
        *([f"\t\t{hook}"] if hook else []),
        *(f"\t\t{rule}" for rule in rules),
        "\t}",
    ]


def _set_block(name: str, timeout: int) -> list[str]:
    return [
        f"\tset {name} {{",
        "\t\ttype ipv4_addr",
        "\t\tflags dynamic,timeout",
        f"\t\ttimeout {timeout}s",
        "\t}",
    ]


def full_script(ruleset: Ruleset) -> str:
    """The ``nft -f`` script replacing the table with ``ruleset``: create it if absent
    (so the delete cannot fail), delete it, write it whole — one transaction, applied
    all or nothing."""
    lines: list[str] = []
    for name, hook, rules in _FIXED:
        lines.extend(_chain_block(name, hook, rules))
    for name, timeout in ruleset.sets.items():
        lines.extend(_set_block(name, timeout))
    lines.extend(("\tset cluster-ips {", "\t\ttype ipv4_addr"))
    if ruleset.cluster_ips:
        lines.append(f"\t\telements = {{ {', '.join(sorted(ruleset.cluster_ips))} }}")
    lines.append("\t}")
    for name, rules in ruleset.chains.items():
        lines.extend(_chain_block(name, "", rules))
    for name, key_type in MAP_TYPES.items():
        elements = ruleset.maps.get(name) or {}
        lines.extend((f"\tmap {name} {{", f"\t\ttype {key_type} : verdict"))
        if elements:
            lines.append("\t\telements = {")
            lines.extend(f"\t\t\t{key} : {verdict}," for key, verdict in elements.items())
            lines.append("\t\t}")
        lines.append("\t}")
    for name, hook, rules in _BASE:
        lines.extend(_chain_block(name, hook, rules))
    body = "\n".join(lines)
    return f"{removal()}table {FAMILY} {TABLE} {{\n{body}\n}}\n"


def update_script(old: Ruleset, new: Ruleset) -> str:
    """The ``nft -f`` script turning the table from ``old`` into ``new`` in one
    transaction, touching only what differs (kube-proxy's partial sync): "" when
    nothing does. A set whose timeout changed is replaced, so its chains are too.

    Order matters inside the transaction: references go before what they point at
    disappears (stale map elements, then flushed chains, then deleted chains and
    sets), and what is pointed at exists before a reference is added (new sets and
    chains, then rules, then new map elements)."""
    t = f"{FAMILY} {TABLE}"
    stale_sets = sorted(n for n, timeout in old.sets.items() if new.sets.get(n) != timeout)
    touches_stale = tuple(f"@{n} " for n in stale_sets)
    changed = [
        name
        for name, rules in new.chains.items()
        if old.chains.get(name) != rules
        or (name in old.chains and any(ref in " ".join(rules) for ref in touches_stale))
    ]
    gone = [name for name in old.chains if name not in new.chains]
    commands: list[str] = []
    for map_name in MAP_TYPES:
        before, after = old.maps.get(map_name) or {}, new.maps.get(map_name) or {}
        stale = [key for key, verdict in before.items() if after.get(key) != verdict]
        if stale:
            commands.append(f"delete element {t} {map_name} {{ {', '.join(stale)} }}")
    if old.cluster_ips - new.cluster_ips:
        stale_ips = ", ".join(sorted(old.cluster_ips - new.cluster_ips))
        commands.append(f"delete element {t} cluster-ips {{ {stale_ips} }}")
    commands.extend(f"flush chain {t} {name}" for name in (*gone, *changed) if name in old.chains)
    commands.extend(f"delete chain {t} {name}" for name in gone)
    commands.extend(f"delete set {t} {name}" for name in stale_sets)
    for name, timeout in new.sets.items():
        if name in stale_sets or name not in old.sets:
            flags = f"type ipv4_addr; flags dynamic,timeout; timeout {timeout}s;"
            commands.append(f"add set {t} {name} {{ {flags} }}")
    commands.extend(f"add chain {t} {name}" for name in changed if name not in old.chains)
    for name in changed:
        commands.extend(f"add rule {t} {name} {rule}" for rule in new.chains[name])
    for map_name in MAP_TYPES:
        before, after = old.maps.get(map_name) or {}, new.maps.get(map_name) or {}
        fresh = [f"{key} : {v}" for key, v in after.items() if before.get(key) != v]
        if fresh:
            commands.append(f"add element {t} {map_name} {{ {', '.join(fresh)} }}")
    if new.cluster_ips - old.cluster_ips:
        fresh_ips = ", ".join(sorted(new.cluster_ips - old.cluster_ips))
        commands.append(f"add element {t} cluster-ips {{ {fresh_ips} }}")
    return "".join(f"{command}\n" for command in commands)


def removal() -> str:
    """The ``nft -f`` script removing the table, present or not."""
    return f"table {FAMILY} {TABLE}\ndelete table {FAMILY} {TABLE}\n"
