"""The cni network plugin: Navarch's bridge over the CNI plugins, invoked directly as
the CNI specification says.

Per pod (``setup``), in order, each with the configuration list's ``name`` and
``cniVersion`` injected and the previous plugin's result as ``prevResult``:

* ``loopback`` on ``lo`` (a network of its own, as the kubelet ran it; the containerd
  runtime brings ``lo`` up already, other runtimes may not);
* ``bridge`` on ``eth0``: a veth pair, the node end on the bridge (``nv0``, the gateway
  of the pod range, hairpin on so a pod reaches itself through a Service), with an
  address from ``host-local`` IPAM over the node's pod range;
* ``portmap`` with ``runtimeConfig.portMappings`` for the pod's hostPorts (snat on).

The ADD result is cached per (sandbox id, ``eth0``) before and after ADD
(navarch_network_cni.cache); ``teardown`` runs DEL in reverse order with that cached
configuration and result, also when the namespace is gone (CNI_NETNS empty), and
:meth:`CniNetwork.collect_garbage` does it for sandboxes that no longer exist — which
is how an agent killed halfway through a setup leaks no veth, address or rule."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

import attrs
from loguru import logger

from navarch.agent.network import (
    NetworkContext,
    NetworkSetupError,
    NetworkStatus,
    PodNetworkRequest,
    PodNetworkResult,
    PortMapping,
)
from navarch_network_cni.cache import CacheEntry, ResultCache
from navarch_network_cni.hostgw import HostGateway
from navarch_network_cni.invoke import ADD, DEL, CniError, Invocation, invoke
from navarch_network_cni.node import masquerade_ruleset, nft, remove_masquerade, set_sysctls
from navarch_network_cni.options import CniOptions

NETWORK_NAME = "navarch"
CNI_VERSION = "1.0.0"  # the Debian plugins (1.1.1) speak spec versions up to 1.0.0
IFNAME = "eth0"
LOOPBACK_IFNAME = "lo"
REQUIRED_PLUGINS = ("loopback", "bridge", "host-local", "portmap")


def pod_ips(result: dict[str, Any]) -> tuple[str, ...]:
    """The addresses of a CNI result, without prefix length, IPv4 first."""
    addresses = []
    for ip in result.get("ips") or ():
        address = str(ip.get("address") or "").split("/")[0]
        if address:
            addresses.append(ipaddress.ip_address(address))
    addresses.sort(key=lambda a: a.version)
    return tuple(str(a) for a in addresses)


class CniNetwork:
    """:class:`navarch.agent.network.NetworkPlugin` over the CNI plugin binaries."""

    def __init__(self, options: CniOptions, data_dir: str):
        self.options = options
        self.data_dir = Path(data_dir)
        self.cache = ResultCache(self.data_dir / "results")
        self._busy: set[str] = set()  # sandboxes being set up or torn down right now
        self._routes: HostGateway | None = None
        self._masquerading = ""  # the pod range the masquerade table was written for
        self.log = logger.bind(component="network-cni")

    # --- the node ---------------------------------------------------------------------

    def missing_plugins(self) -> list[str]:
        """The plugin binaries that are not there (or not executable)."""
        paths = [Path(self.options.bin_dir) / name for name in REQUIRED_PLUGINS]
        return [str(p) for p in paths if not os.access(p, os.X_OK)]

    async def start(self, context: NetworkContext) -> None:
        self.log = logger.bind(component="network-cni", node=context.node_name)
        problems = await asyncio.to_thread(set_sysctls)
        if problems:
            self.log.bind(problems=problems).warning(
                "could not set the node's sysctls: pods on other nodes or behind "
                "Services may be unreachable"
            )
        missing = self.missing_plugins()
        if missing:
            self.log.bind(missing=missing).error(
                "CNI plugin binaries missing: no pod gets a network until they are installed"
            )
        if self.options.routes == "host-gw":
            self._routes = HostGateway(context)
            self._routes.start()
        if context.pod_cidr():
            await self._ensure_masquerade(context.pod_cidr())

    async def status(self) -> NetworkStatus:
        missing = self.missing_plugins()
        if missing:
            return NetworkStatus(
                False,
                "NoCNIPlugins",
                f"CNI plugin binaries missing: {', '.join(missing)}; install Debian's "
                "containernetworking-plugins or set agent.network_options.bin_dir",
            )
        return NetworkStatus(True, "CNIReady", "the cni network plugin is ready")

    async def close(self, for_good: bool) -> None:
        if self._routes is not None:
            await self._routes.close(for_good)
            self._routes = None
        if for_good:
            error = await remove_masquerade()
            if error:
                self.log.bind(error=error).warning("could not remove the masquerade table")
            self._masquerading = ""

    async def _ensure_masquerade(self, pod_cidr: str) -> None:
        cluster = self.options.cluster_cidr
        if not cluster or self._masquerading == pod_cidr:
            return
        error = await nft(masquerade_ruleset(pod_cidr, cluster))
        if error:
            self.log.bind(error=error).warning(
                "could not write the masquerade rule: pods cannot reach outside the cluster"
            )
            return
        self._masquerading = pod_cidr

    # --- the network configuration --------------------------------------------------

    def config_list(self, pod_cidr: str) -> dict[str, Any]:
        """The network configuration list (what a file in /etc/cni/net.d would hold)."""
        bridge: dict[str, Any] = {
            "type": "bridge",
            "bridge": self.options.bridge,
            "isGateway": True,
            "ipMasq": False,  # our own nftables rule masquerades outside the cluster only
            "hairpinMode": True,
            "ipam": {
                "type": "host-local",
                "dataDir": str(self.data_dir / "ipam"),
                "ranges": [[{"subnet": pod_cidr}]],
                "routes": [{"dst": "0.0.0.0/0"}],
            },
        }
        if self.options.mtu:
            bridge["mtu"] = self.options.mtu
        return {
            "cniVersion": CNI_VERSION,
            "name": NETWORK_NAME,
            "plugins": [
                bridge,
                {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
            ],
        }

    @staticmethod
    def plugin_config(
        config_list: dict[str, Any],
        plugin: dict[str, Any],
        prev_result: dict[str, Any] | None,
        mappings: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """One plugin's stdin: its entry with the list's name and version injected, the
        capabilities it declares filled from the runtime config, the previous result."""
        config = {**plugin, "name": config_list["name"], "cniVersion": config_list["cniVersion"]}
        if (plugin.get("capabilities") or {}).get("portMappings") and mappings:
            config["runtimeConfig"] = {"portMappings": mappings}
        if prev_result is not None:
            config["prevResult"] = prev_result
        return config

    # --- pods ----------------------------------------------------------------------

    def _invocation(self, command: str, container_id: str, netns: str, ifname: str) -> Invocation:
        return Invocation(command, container_id, netns, ifname, self.options.bin_dir)

    async def setup(self, request: PodNetworkRequest) -> PodNetworkResult:
        missing = self.missing_plugins()
        if missing:
            raise NetworkSetupError(f"CNI plugin binaries missing: {', '.join(missing)}")
        if not request.pod_cidr:
            raise NetworkSetupError("the node has no pod range (spec.podCIDR) yet")
        await self._ensure_masquerade(request.pod_cidr)
        sandbox = request.sandbox_id
        config = self.config_list(request.pod_cidr)
        config["runtimeConfig"] = {"portMappings": _mappings(request.port_mappings)}
        entry = CacheEntry(
            container_id=sandbox,
            ifname=IFNAME,
            netns=request.netns_path,
            config=config,
            pod=f"{request.namespace}/{request.name}",
            created_at=time.time(),
        )
        self._busy.add(sandbox)
        try:
            # Written before anything is made: a kill from here on leaves an entry
            # that the garbage collection tears down.
            await asyncio.to_thread(self.cache.put, entry)
            loopback = {"cniVersion": CNI_VERSION, "name": "cni-loopback", "type": "loopback"}
            invocation = self._invocation(ADD, sandbox, request.netns_path, LOOPBACK_IFNAME)
            await invoke(invocation, loopback, self.options.timeout)
            result = await self._add(entry)
            await asyncio.to_thread(self.cache.put, attrs.evolve(entry, result=result))
        except CniError as exc:
            await self._undo(entry)
            raise NetworkSetupError(str(exc)) from exc
        except TimeoutError as exc:
            await self._undo(entry)
            raise NetworkSetupError(
                f"a CNI plugin did not answer within {self.options.timeout:g}s"
            ) from exc
        finally:
            self._busy.discard(sandbox)
        ips = pod_ips(result)
        if not ips:
            raise NetworkSetupError("the CNI plugins gave the pod no address")
        return PodNetworkResult(ips)

    async def _undo(self, entry: CacheEntry) -> None:
        """A failed ADD is followed by a DEL of the whole list at once, as the CNI
        specification asks of a runtime: whatever a plugin made before the failure (an
        address, a veth) is released now, not when the sandbox goes. A DEL that fails
        too leaves the cache entry for the garbage collection."""
        try:
            await self._delete(entry)
        except (CniError, TimeoutError) as exc:
            self.log.bind(sandbox=entry.container_id, error=str(exc)).warning(
                "could not undo a failed set-up; the garbage collection tries again"
            )

    async def _add(self, entry: CacheEntry) -> dict[str, Any]:
        mappings = entry.config.get("runtimeConfig", {}).get("portMappings") or []
        invocation = self._invocation(ADD, entry.container_id, entry.netns, entry.ifname)
        result: dict[str, Any] | None = None
        for plugin in entry.config["plugins"]:
            stdin = self.plugin_config(entry.config, plugin, result, mappings)
            result = await invoke(invocation, stdin, self.options.timeout)
        assert result is not None
        return result

    async def result(self, sandbox_id: str) -> PodNetworkResult | None:
        entry = await asyncio.to_thread(self.cache.get, sandbox_id, IFNAME)
        if entry is None or entry.result is None:
            return None
        return PodNetworkResult(pod_ips(entry.result))

    async def teardown(self, request: PodNetworkRequest) -> None:
        entry = await asyncio.to_thread(self.cache.get, request.sandbox_id, IFNAME)
        if entry is None:
            return  # never set up (or torn down already)
        self._busy.add(request.sandbox_id)
        try:
            await self._delete(entry)
        finally:
            self._busy.discard(request.sandbox_id)

    async def _delete(self, entry: CacheEntry) -> None:
        """DEL in reverse order with the cached configuration and result; then the
        entry goes. The namespace may be gone: CNI_NETNS is then empty (the plugins
        release the address and remove what is on the node's side)."""
        netns = entry.netns if entry.netns and os.path.exists(entry.netns) else ""
        mappings = entry.config.get("runtimeConfig", {}).get("portMappings") or []
        invocation = self._invocation(DEL, entry.container_id, netns, entry.ifname)
        try:
            for plugin in reversed(entry.config["plugins"]):
                stdin = self.plugin_config(entry.config, plugin, entry.result, mappings)
                await invoke(invocation, stdin, self.options.timeout)
        except TimeoutError as exc:
            raise CniError("DEL", DEL, f"no answer within {self.options.timeout:g}s") from exc
        await asyncio.to_thread(self.cache.remove, entry.container_id, entry.ifname)
        self.log.bind(sandbox=entry.container_id, pod=entry.pod, netns_gone=not netns).info(
            "pod network torn down"
        )

    async def collect_garbage(self, live_sandbox_ids: Collection[str], listed_at: float) -> None:
        live = set(live_sandbox_ids)
        entries = await asyncio.to_thread(lambda: list(self.cache.entries()))
        for entry in entries:
            sandbox = entry.container_id
            if sandbox in live or sandbox in self._busy or entry.created_at >= listed_at:
                continue
            self.log.bind(sandbox=sandbox, pod=entry.pod, finished=entry.result is not None).info(
                "tearing down the network of a sandbox that is gone"
            )
            self._busy.add(sandbox)
            try:
                await self._delete(entry)
            except CniError as exc:
                self.log.bind(sandbox=sandbox, error=str(exc)).warning(
                    "teardown failed; tried again at the next collection"
                )
            finally:
                self._busy.discard(sandbox)


def _mappings(mappings: tuple[PortMapping, ...]) -> list[dict[str, Any]]:
    out = []
    for m in mappings:
        entry: dict[str, Any] = {
            "hostPort": m.host_port,
            "containerPort": m.container_port,
            "protocol": m.protocol,
        }
        if m.host_ip:
            entry["hostIP"] = m.host_ip
        out.append(entry)
    return out
