"""The Service proxy's sync loop (kube-proxy's Proxier): informers on every Service and
EndpointSlice only mark the rules stale; the loop re-reads both caches, builds the
whole ruleset and applies the difference to what it applied last, in one nft
transaction — so a burst of changes costs one sync, and syncs are at least
``min_sync_seconds`` apart (kube-proxy's --iptables-min-sync-period, 1 s).

The first sync after a start, and the one after a failure, replaces the whole table
(the proxier then knows nothing of what is in the kernel); so does the next sync when
the periodic check finds the table gone (an administrator's ``nft flush ruleset``). A
failed transaction changes nothing (nft applies all or none): the old rules stay and
the sync is retried with a growing delay. :meth:`Proxier.cleanup` removes the table:
the agent calls it when it stops for good; a restarted agent writes the table anew.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import attrs
from loguru import logger

from navarch.client import Client
from navarch.client.informer import Informer
from navarch.proxy.apply import Nft, NftError
from navarch.proxy.model import service_ports
from navarch.proxy.ruleset import (
    DEFAULT_CLUSTER_CIDR,
    FAMILY,
    TABLE,
    NodeView,
    Ruleset,
    build,
    full_script,
    removal,
    update_script,
)

NFTABLES = "nftables"
RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 30.0


def _wire(obj: Any) -> Any:
    return obj.to_dict() if hasattr(obj, "to_dict") else obj


def _rules_of(services: list[Any], slices: list[Any], node: NodeView) -> Ruleset:
    return build(service_ports([_wire(s) for s in services], [_wire(s) for s in slices]), node)


@attrs.define(eq=False)
class Proxier:
    """One node's Service proxy: ``client`` reads every Service and EndpointSlice (a
    node's credentials may), ``node`` says which endpoints are local, ``nft`` where the
    table lives (by default the namespace this process runs in)."""

    client: Client
    node: NodeView
    nft: Nft = attrs.field(factory=Nft)
    min_sync_seconds: float = 1.0
    # How often, with nothing changing, the table is checked to still be there (someone
    # ran `nft flush ruleset`): if it is gone it is written again.
    check_seconds: float = 30.0
    # Successful syncs, and failed ones (the tests wait on these; /metrics could too).
    syncs: int = 0
    failures: int = 0
    last_error: str = ""
    services: Informer = attrs.field(init=False)
    slices: Informer = attrs.field(init=False)
    _applied: Ruleset | None = None
    _conflicts: tuple[str, ...] = ()
    _stale: asyncio.Event = attrs.field(factory=asyncio.Event)

    def __attrs_post_init__(self) -> None:
        self.services = Informer(self.client.resource("services"))
        self.slices = Informer(self.client.resource("endpointslices"))
        for informer in (self.services, self.slices):
            informer.add_handler(self._mark, self._mark_update, self._mark)

    @property
    def log(self) -> Any:
        return logger.bind(component="proxy", node=self.node.node_name)

    def _mark(self, _obj: Any) -> None:
        self._stale.set()

    def _mark_update(self, _old: Any, _new: Any) -> None:
        self._stale.set()

    async def run(self) -> None:
        """Keep the table in step with the Services and EndpointSlices until cancelled
        (the rules stay: see :meth:`cleanup`)."""
        tasks = [
            asyncio.create_task(self.services.run(), name="proxy services informer"),
            asyncio.create_task(self.slices.run(), name="proxy endpointslices informer"),
        ]
        try:
            await self.services.wait_synced()
            await self.slices.wait_synced()
            self._stale.set()  # the first sync writes the table even with no Service
            retry = RETRY_FIRST_SECONDS
            while True:
                try:
                    await asyncio.wait_for(self._stale.wait(), self.check_seconds)
                except TimeoutError:
                    if await self._table_present():
                        continue
                    self.log.warning("the Service proxy's table is gone; writing it again")
                    self._applied = None
                self._stale.clear()
                if await self.sync():
                    retry = RETRY_FIRST_SECONDS
                    await asyncio.sleep(self.min_sync_seconds)
                else:
                    self._stale.set()
                    await asyncio.sleep(retry)
                    retry = min(retry * 2, RETRY_MAX_SECONDS)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _table_present(self) -> bool:
        try:
            return f"{FAMILY} {TABLE}" in await self.nft.tables()
        except NftError as exc:
            self.log.bind(error=str(exc)).warning("could not list the nftables tables")
            return True  # nothing known to repair; the next change syncs as usual

    async def ruleset(self) -> Ruleset:
        """The rules for what the caches hold now. Built in a thread (a fraction of a
        second at a thousand Services, which the agent's heartbeats should not wait
        for) from a snapshot of the caches; the cached objects are frozen."""
        return await asyncio.to_thread(
            _rules_of, self.services.list(), self.slices.list(), self.node
        )

    async def sync(self) -> bool:
        """Apply the current ruleset; False (logged, the old rules kept) if nft refused."""
        started = time.monotonic()
        ruleset = await self.ruleset()
        if ruleset.conflicts != self._conflicts:
            self._conflicts = ruleset.conflicts
            for conflict in ruleset.conflicts:
                self.log.bind(conflict=conflict).warning("a Service port is not proxied")
        full = self._applied is None
        script = (
            full_script(ruleset) if self._applied is None else update_script(self._applied, ruleset)
        )
        if script:
            try:
                await self.nft.apply(script)
            except NftError as exc:
                self.failures += 1
                self.last_error = str(exc)
                # Whatever the kernel holds now, the next sync rewrites the whole table.
                self._applied = None
                self.log.bind(error=str(exc)[:2000]).error(
                    "nft refused the sync; the previous rules stay, retrying"
                )
                return False
        self._applied = ruleset
        self.syncs += 1
        log = self.log.bind(
            full=full,
            chains=len(ruleset.chains),
            seconds=round(time.monotonic() - started, 3),
        )
        # A full write happens at start and after a failure: worth a line at info.
        (log.info if full else log.debug)("Service proxy rules synced")
        return True

    async def cleanup(self) -> None:
        """Remove the table and everything in it (the proxy stops for good)."""
        try:
            await remove_rules(self.nft)
        except NftError as exc:
            self.log.bind(error=str(exc)).error("could not remove the Service proxy's table")
            return
        self._applied = None
        self.log.info("Service proxy rules removed")


async def remove_rules(nft: Nft | None = None) -> None:
    """Remove the proxy's table, present or not (``navarch agent --cleanup``, as
    kube-proxy's --cleanup): NftError if nft cannot run or refuses."""
    await (nft or Nft()).apply(removal())


def for_agent(client: Client, node_name: str, mode: str) -> Proxier | None:
    """The agent's proxy for ``agent.service_proxy`` (``none``: no proxy), acting on the
    network namespace the agent runs in."""
    if mode != NFTABLES:
        return None
    return Proxier(client, NodeView(node_name, DEFAULT_CLUSTER_CIDR))


async def cleanup_quietly(proxier: Proxier) -> None:
    """:meth:`Proxier.cleanup` for a shutdown path: never raises."""
    with contextlib.suppress(Exception):
        await proxier.cleanup()
