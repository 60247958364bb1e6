"""The ``kubernetes`` Service in ``default`` and its Endpoints and EndpointSlice,
naming every running API server (Kubernetes' controlplane reconciler with its lease
endpoint reconciler, pkg/controlplane/reconcilers/lease.go).

Each API server, once serving, makes sure of the Service (ClusterIP the first address
of ``api.service_cidr``, port ``https`` 443 to the API servers' port, no selector) and
then, every ``RENEW_SECONDS``, renews a lease of its own in the store::

    /registry/navarch/apiserverleases/<ip>:<port> -> {"ip": …, "port": …, "renewed": <unix time>}

and rewrites the ``kubernetes`` Endpoints and EndpointSlice from the leases renewed
within ``LEASE_TTL_SECONDS`` (deleting the expired ones), only when they changed. So
several API servers on one store each add themselves, one that dies drops out within
the TTL, and one that stops removes itself at once. Servers on different ports (one
machine) get one Endpoints subset per port.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import time
from typing import Any

import orjson
from loguru import logger

from navarch.apiserver import errors
from navarch.apiserver.kubedns import ensure_dns_service
from navarch.apiserver.storage import Storage
from navarch.resources.core.endpoints import ENDPOINT_SLICES, ENDPOINTS
from navarch.resources.core.services import SERVICES
from navarch.store import AlreadyExists, NotFound, Store

log = logger.bind(component="controlplane")

NAME, NAMESPACE = "kubernetes", "default"
LEASE_PREFIX = b"/registry/navarch/apiserverleases/"
RENEW_SECONDS = 10.0  # Kubernetes' --endpoint-reconciler interval
LEASE_TTL_SECONDS = 15.0  # Kubernetes' master lease TTL
SERVICE_PORT = 443
LABELS = {"component": "apiserver", "provider": "kubernetes"}
Obj = dict[str, Any]


def first_address(cidr: str) -> str:
    return str(next(ipaddress.ip_network(cidr, strict=False).hosts()))


def split_address(address: str) -> tuple[str, int] | None:
    """``127.0.0.1:6443`` / ``[::1]:6443`` -> (ip, port); None when not an IP."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
        return host, int(port)
    except ValueError:
        return None


def endpoints_object(members: list[tuple[str, int]]) -> Obj:
    ports: dict[int, list[str]] = {}
    for ip, port in sorted(members):
        ports.setdefault(port, []).append(ip)
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": NAME,
            "namespace": NAMESPACE,
            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
        },
    }
    if ports:
        obj["subsets"] = [
            {
                "addresses": [{"ip": ip} for ip in ips],
                "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
            }
            for port, ips in sorted(ports.items())
        ]
    return obj


def slice_object(members: list[tuple[str, int]]) -> Obj:
    # One slice holds one port set: the first port's servers (all of them, in the
    # usual case of one port everywhere).
    port = min((p for _, p in members), default=None)
    obj: Obj = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": NAME,
            "namespace": NAMESPACE,
            "labels": {"kubernetes.io/service-name": NAME},
        },
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": [ip], "conditions": {"ready": True}}
            for ip, p in sorted(members)
            if p == port and ipaddress.ip_address(ip).version == 4
        ],
    }
    if port is not None:
        obj["ports"] = [{"name": "https", "port": port, "protocol": "TCP"}]
    return obj


class ControlPlaneEndpoints:
    def __init__(self, storage: Storage, store: Store, service_cidr: str):
        self.storage = storage
        self.store = store
        self.cluster_ip = first_address(service_cidr)
        self.service_cidr = service_cidr
        self.me: tuple[str, int] | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def _lease_key(self) -> bytes:
        assert self.me is not None
        return LEASE_PREFIX + f"{self.me[0]}:{self.me[1]}".encode()

    async def start(self, address: str) -> None:
        """Make sure of the Service, add this server, then keep it added."""
        self.me = split_address(address)
        await self._ensure_service()
        await ensure_dns_service(self.storage, self.service_cidr)  # kube-system/kube-dns
        if self.me is None:
            log.bind(address=address).warning(
                "the advertised address is not an IP: not listed in the kubernetes Endpoints"
            )
            return
        try:
            await self.reconcile()
        except Exception as exc:  # the loop tries again; serving need not wait for it
            log.bind(error=str(exc)).warning("could not update the kubernetes endpoints")
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="controlplane")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            try:
                await self.reconcile()
            except Exception as exc:  # the store may be away for a while: try again
                log.bind(error=str(exc)).warning("could not update the kubernetes endpoints")

    async def _ensure_service(self) -> None:
        port = self.me[1] if self.me else 6443
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": LABELS},
            "spec": {
                "clusterIP": self.cluster_ip,
                "ports": [
                    {"name": "https", "port": SERVICE_PORT, "protocol": "TCP", "targetPort": port}
                ],
            },
        }
        try:
            await self.storage.get(SERVICES, NAMESPACE, NAME)
            return
        except errors.ApiError as exc:
            if exc.reason != "NotFound":
                raise
        try:
            await self.storage.create(SERVICES, NAMESPACE, service)
            log.bind(cluster_ip=self.cluster_ip).info("made the kubernetes Service")
        except errors.ApiError:
            # Another server's create won (the name, or the address, is taken): fine
            # when the Service is there now.
            await self.storage.get(SERVICES, NAMESPACE, NAME)

    async def reconcile(self, *, leaving: bool = False) -> None:
        """Renew (or, ``leaving``, drop) this server's lease, then write the Endpoints
        and EndpointSlice of the live leases when they changed."""
        now = time.time()
        assert self.me is not None
        record = orjson.dumps({"ip": self.me[0], "port": self.me[1], "renewed": now})
        if leaving:
            with contextlib.suppress(NotFound):
                await self.store.delete(self._lease_key)
        else:
            try:
                await self.store.create(self._lease_key, record)
            except AlreadyExists:
                await self.store.update(self._lease_key, record, None)
        members = []
        for kv in (await self.store.range(LEASE_PREFIX)).items:
            lease = orjson.loads(kv.value)
            if now - float(lease.get("renewed", 0)) > LEASE_TTL_SECONDS:
                with contextlib.suppress(Exception):  # another server may have done it
                    await self.store.delete(kv.key, kv.mod_revision)
                continue
            members.append((str(lease["ip"]), int(lease["port"])))
        await self._write(ENDPOINTS, endpoints_object(members), ("subsets",))
        await self._write(ENDPOINT_SLICES, slice_object(members), ("endpoints", "ports"))

    async def _write(self, res: Any, wanted: Obj, fields: tuple[str, ...]) -> None:
        try:
            current = await self.storage.get(res, NAMESPACE, NAME)
        except errors.ApiError as exc:
            if exc.reason != "NotFound":
                raise
            with contextlib.suppress(errors.ApiError):  # AlreadyExists: the next pass
                await self.storage.create(res, NAMESPACE, wanted)
            return
        if all(current.get(f) == wanted.get(f) for f in fields):
            return

        def replace(obj: Obj) -> Obj:
            for field in fields:
                obj.pop(field, None)
                if field in wanted:
                    obj[field] = wanted[field]
            return obj

        await self.storage.guaranteed_update(res, NAMESPACE, NAME, replace)

    async def close(self) -> None:
        """Stop renewing and take this server out at once."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        try:
            await self.reconcile(leaving=True)
        except Exception as exc:  # its lease expires anyway
            log.bind(error=str(exc)).warning("could not remove this server from the endpoints")
