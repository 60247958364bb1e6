"""One informer per resource (and namespace, and selector) for everything in a
process: the ReplicaSet, Deployment, garbage-collection and node-lifecycle loops all
watch pods, through one watch and one cache.

    informers = SharedInformerFactory(client)
    pods = informers.informer("pods")           # the same object for every caller
    pods.add_handler(on_add=...)
    informers.start()                            # every informer asked for so far
    await informers.wait_synced()

An informer asked for after :meth:`start` starts at once. Handlers see frozen model
objects shared by every controller: never change one (``attrs.evolve`` a copy).
"""

from __future__ import annotations

import asyncio
import contextlib

from navarch.client.client import Client, ResourceClient
from navarch.client.informer import Informer

# A cache of pods indexed by namespace is what most controllers look things up by.
NAMESPACE_INDEX = "namespace"


def namespace_of(obj: object) -> list[str]:
    return [getattr(getattr(obj, "metadata", None), "namespace", None) or ""]


class SharedInformerFactory:
    def __init__(self, client: Client):
        self.client = client
        self._informers: dict[tuple[str, str, str, str], Informer] = {}
        self._tasks: dict[tuple[str, str, str, str], asyncio.Task[None]] = {}
        self._started = False

    def informer(
        self,
        plural: str,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
    ) -> Informer:
        """The shared informer of resource ``plural`` (``"pods"``, ``"replicasets"``, a
        plugin's ``"backups"``: any name the resource registry resolves, so ``"bk"``
        and ``"backups"`` share one), indexed by namespace (:data:`NAMESPACE_INDEX`)."""
        resource: ResourceClient = self.client.resource(plural)
        key = (resource.res.plural, namespace, label_selector, field_selector)
        informer = self._informers.get(key)
        if informer is None:
            informer = Informer(
                resource,
                namespace,
                label_selector=label_selector or None,
                field_selector=field_selector or None,
            )
            informer.add_index(NAMESPACE_INDEX, namespace_of)
            self._informers[key] = informer
            if self._started:
                self._start(key, informer)
        return informer

    def start(self) -> None:
        self._started = True
        for key, informer in self._informers.items():
            if key not in self._tasks:
                self._start(key, informer)

    def _start(self, key: tuple[str, str, str, str], informer: Informer) -> None:
        self._tasks[key] = asyncio.create_task(informer.run(), name=f"informer-{key[0]}")

    async def wait_synced(self, timeout: float | None = None) -> None:
        """Until every informer asked for has listed once."""
        await asyncio.wait_for(
            asyncio.gather(*(informer.wait_synced() for informer in self._informers.values())),
            timeout,
        )

    async def stop(self) -> None:
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._started = False
