"""Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection:
of several copies of a daemon (two schedulers, two controller managers), one acts.

    elector = LeaderElector(client, "navarch-controller-manager", identity="host-1234")
    await elector.run(lead)       # lead() runs only while this copy holds the Lease

The rules (times are the Lease's duration D, the renew deadline R < D, the retry
period P; Kubernetes' defaults 15 s, 10 s, 2 s):

* every P a candidate reads the Lease; it takes it (a compare-and-swap update, or a
  create) when nobody holds it, or when the record has not changed for D seconds
  *as this candidate observed it* — its own clock, never the holder's renewTime, so
  clock skew between machines cannot make two leaders;
* the leader renews every P; when it has not managed to for R seconds it stops
  acting (``lead`` is cancelled) — before its Lease can expire at D and another
  copy take over. It then goes back to being a candidate;
* a leader shut down cleanly releases the Lease (holder emptied, duration 1 s), so
  the next takes over at once instead of after D.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import attrs
from loguru import logger

from navarch import api
from navarch.api.timefmt import micro_time
from navarch.client.client import Client
from navarch.client.errors import AlreadyExists, ApiException, Conflict, NotFound
from navarch.config import Config

LEASE_DURATION = 15.0
RENEW_DEADLINE = 10.0
RETRY_PERIOD = 2.0
NAMESPACE = "kube-system"
RELEASE_TIMEOUT = 5.0


@attrs.frozen
class ElectionTimes:
    lease_duration: float = LEASE_DURATION
    renew_deadline: float = RENEW_DEADLINE
    retry_period: float = RETRY_PERIOD

    @classmethod
    def from_config(cls, config: Config) -> ElectionTimes:
        """From the ``leader_election.*`` settings; ValueError when they do not fit."""
        return cls(
            lease_duration=config["leader_election.lease_duration_seconds"],
            renew_deadline=config["leader_election.renew_deadline_seconds"],
            retry_period=config["leader_election.retry_period_seconds"],
        )

    def __attrs_post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError(
                f"leader election needs retry period ({self.retry_period:g}s) < renew "
                f"deadline ({self.renew_deadline:g}s) < lease duration "
                f"({self.lease_duration:g}s)"
            )


def identity() -> str:
    """Who this copy is, in its Lease and its Events: host name and a unique suffix
    (two copies on one machine are two candidates), as Kubernetes names them."""
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}_{os.getpid()}"


class LeaderElector:
    def __init__(
        self,
        client: Client,
        name: str,
        identity: str,
        *,
        namespace: str = NAMESPACE,
        times: ElectionTimes | None = None,
    ):
        self.client = client
        self.name, self.namespace, self.identity = name, namespace, identity
        self.times = times or ElectionTimes()
        self.is_leader = False
        self._observed: tuple[str, float] | None = None  # (resourceVersion, when seen)
        self._lease: dict[str, Any] | None = None
        self.log = logger.bind(lease=f"{namespace}/{name}", identity=identity)

    async def run(self, lead: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Campaign, run ``lead()`` while leading, and campaign again after losing
        the Lease; until cancelled (then the Lease is released if held)."""
        try:
            while True:
                await self._acquire()
                await self._lead(lead)
        finally:
            # only if the Lease still names this copy; bounded: the API server may be
            # what went away
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release(), RELEASE_TIMEOUT)

    async def _acquire(self) -> None:
        self.log.info("waiting to lead")
        while not await self._try_acquire_or_renew():
            await asyncio.sleep(self.times.retry_period)
        self.is_leader = True
        self.log.info("became the leader")

    async def _lead(self, lead: Callable[[], Coroutine[Any, Any, None]]) -> None:
        work: asyncio.Task[None] = asyncio.create_task(lead(), name=f"lead-{self.name}")
        try:
            last_renewal = time.monotonic()
            while not work.done():
                done, _ = await asyncio.wait({work}, timeout=self.times.retry_period)
                if done:
                    break
                if await self._try_acquire_or_renew():
                    last_renewal = time.monotonic()
                elif time.monotonic() - last_renewal >= self.times.renew_deadline:
                    self.log.warning("could not renew the lease in time: no longer leading")
                    break
        finally:
            self.is_leader = False
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work  # raises what ``lead`` raised, if it failed

    async def _try_acquire_or_renew(self) -> bool:
        now = time.time()
        try:
            lease = await self._get()
        except ApiException as exc:
            self.log.bind(error=str(exc)).debug("cannot read the lease")
            return False
        if lease is None:
            return await self._write(self._fresh(now), create=True)
        spec = lease.setdefault("spec", {})
        version = lease["metadata"].get("resourceVersion", "")
        if self._observed is None or self._observed[0] != version:
            self._observed = (version, time.monotonic())
        holder = spec.get("holderIdentity") or ""
        duration = spec.get("leaseDurationSeconds") or self.times.lease_duration
        expired = time.monotonic() - self._observed[1] >= duration
        if holder and holder != self.identity and not expired:
            return False
        if holder != self.identity:
            spec["leaseTransitions"] = (spec.get("leaseTransitions") or 0) + 1
            spec["acquireTime"] = micro_time(now)
        spec.update(
            holderIdentity=self.identity,
            leaseDurationSeconds=int(self.times.lease_duration),
            renewTime=micro_time(now),
        )
        return await self._write(lease, create=False)

    def _fresh(self, now: float) -> dict[str, Any]:
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": int(self.times.lease_duration),
                "acquireTime": micro_time(now),
                "renewTime": micro_time(now),
                "leaseTransitions": 0,
            },
        }

    async def _get(self) -> dict[str, Any] | None:
        try:
            lease = await self.client.leases.get(self.name, self.namespace)
        except NotFound:
            return None
        return _plain(lease)

    async def _write(self, lease: dict[str, Any], *, create: bool) -> bool:
        try:
            if create:
                written = await self.client.leases.create(lease, self.namespace)
            else:
                written = await self.client.leases.update(lease, self.namespace)
        except (Conflict, AlreadyExists):
            return False  # another candidate wrote first (or created the Lease)
        except ApiException as exc:
            self.log.bind(error=str(exc)).debug("cannot write the lease")
            return False
        plain = _plain(written)
        self._observed = (plain["metadata"].get("resourceVersion", ""), time.monotonic())
        return True

    async def _release(self) -> None:
        """Give the Lease up so the next candidate need not wait it out."""
        try:
            lease = await self._get()
            if lease is None or lease.get("spec", {}).get("holderIdentity") != self.identity:
                return
            lease["spec"].update(holderIdentity="", leaseDurationSeconds=1)
            await self.client.leases.update(lease, self.namespace)
            self.log.info("lease released")
        except ApiException as exc:
            self.log.bind(error=str(exc)).info("could not release the lease")
        finally:
            self.is_leader = False


def _plain(obj: Any) -> dict[str, Any]:
    return obj if isinstance(obj, dict) else api.dump(obj)
