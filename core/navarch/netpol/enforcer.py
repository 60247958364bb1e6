"""The node's NetworkPolicy enforcer: informers on NetworkPolicies, Pods and Namespaces
(all of the cluster: a peer may be any pod), and one loop that recompiles the node's
table on any change and replaces it in one nft transaction when it differs.

Level-triggered like a controller: a watch event only wakes the loop, which reads the
caches whole; a periodic resync re-applies the table even without change, so a rule
removed by hand comes back.

Credentials: it lists every pod, which Kubernetes' Node authoriser refuses a node
(list/watch of pods only with ``spec.nodeName=<itself>``), as it refuses NetworkPolicies;
Kubernetes' policy agents (kube-router, Calico's felix) run with credentials of their
own (a ServiceAccount with a ClusterRole). So does this one: it takes a client that may
get, list and watch pods, namespaces and networkpolicies cluster-wide (a viewer's token
is enough; it never writes).

Stopping (cancelling :meth:`PolicyEnforcer.run`) leaves the table in place, so pods
stay isolated while the agent restarts (the next run replaces the table atomically);
:meth:`PolicyEnforcer.remove` deletes it when the node stops for good.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import attrs
from loguru import logger

from navarch.client import Client
from navarch.client.informer import Informer
from navarch.netpol.compile import Cluster, PodView, compile_policies
from navarch.netpol.ruleset import Nft, NftError, render

RETRY_SECONDS = 5.0


@attrs.define(eq=False)
class PolicyEnforcer:
    client: Client
    node_name: str
    nft: Nft = attrs.field(factory=Nft)
    resync_seconds: float = 60.0
    # Changes arriving within this window are applied in one transaction.
    batch_seconds: float = 0.1
    # Transactions applied (a test waits for one after its change).
    syncs: int = 0
    applied: str | None = None
    _wake: asyncio.Event = attrs.field(factory=asyncio.Event)
    _informers: list[Informer] = attrs.field(factory=list)

    @property
    def log(self) -> Any:
        return logger.bind(component="netpol", node=self.node_name)

    def _informer(self, plural: str, relevant: Callable[[Any], Any] | None = None) -> Informer:
        """An informer whose events wake the loop; an update wakes it only when
        ``relevant`` of the object changed (pods change status often, and only their
        labels, address, phase and ports matter here)."""
        informer = Informer(self.client.resource(plural))

        def updated(old: Any, new: Any) -> None:
            if relevant is None or relevant(old) != relevant(new):
                self._wake.set()

        informer.add_handler(self._changed, updated, self._changed)
        self._informers.append(informer)
        return informer

    def _changed(self, _obj: Any) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Enforce until cancelled; the table stays when it is (see the module's note)."""
        policies = self._informer("networkpolicies")
        pods = self._informer("pods", PodView.of)
        namespaces = self._informer("namespaces", lambda namespace: namespace.labels)
        tasks = [asyncio.create_task(i.run(), name=f"netpol {i.resource}") for i in self._informers]
        try:
            for informer in self._informers:
                await informer.wait_synced()
            try:
                await self.nft.prepare()
            except NftError as error:  # routed traffic is still filtered: go on, loudly
                self.log.bind(error=str(error)).error(
                    "bridged traffic between pods of this node is not filtered"
                )
            while True:
                self._wake.clear()
                try:
                    await self.sync(policies.list(), pods.list(), namespaces.list())
                except NftError as error:
                    self.log.bind(error=str(error)).error("policy table not applied; retrying")
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.resync_seconds)
                    await asyncio.sleep(self.batch_seconds)
                    continue
                self.applied = None  # resync: apply even unchanged
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._informers.clear()

    async def sync(self, policies: list[Any], pods: list[Any], namespaces: list[Any]) -> None:
        """Compile and apply when the table differs from the one applied last."""
        compiled = compile_policies(policies, Cluster.of(pods, namespaces), self.node_name)
        table = render(compiled)
        if table == self.applied:
            return
        await self.nft.apply(table)
        self.applied = table
        self.syncs += 1
        isolated = sum(p.ingress is not None or p.egress is not None for p in compiled)
        self.log.bind(policies=len(policies), local_pods=len(compiled), isolated=isolated).info(
            "policy table applied"
        )

    async def remove(self) -> None:
        """Delete the table: the node stops for good."""
        await self.nft.apply(None)
        self.applied = None
        self.log.info("policy table removed")
