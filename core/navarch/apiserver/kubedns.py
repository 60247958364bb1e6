"""The ``kube-system/kube-dns`` Service: the address every pod's resolv.conf names
(``agent.cluster_dns``), made by each API server once serving, as it makes the
``kubernetes`` Service (:mod:`navarch.apiserver.controlplane`).

Its ClusterIP is the 10th address of ``api.service_cidr`` (10.43.0.10 by default,
k3s's; Kubernetes clusters conventionally use .10 as well). It has no selector: its
endpoints are the nodes' own DNS servers, which the ``nodedns`` controller lists
(:mod:`navarch.controllers.nodedns`). ``internalTrafficPolicy: Local`` keeps each
pod's queries on its own node. The Service is made once; a user who changes it keeps
the change (as Kubernetes' addon manager's ``EnsureExists`` mode)."""

from __future__ import annotations

import ipaddress
from typing import Any

from loguru import logger

from navarch.apiserver import errors
from navarch.apiserver.storage import Storage
from navarch.dns import SERVICE_NAME as NAME
from navarch.dns import SERVICE_NAMESPACE as NAMESPACE
from navarch.resources.core.services import SERVICES

DNS_PORT = 53
ADDRESS_INDEX = 10
LABELS = {
    "k8s-app": "kube-dns",
    "kubernetes.io/cluster-service": "true",
    "kubernetes.io/name": "KubeDNS",
}

log = logger.bind(component="controlplane", service=f"{NAMESPACE}/{NAME}")


def dns_service_ip(service_cidr: str) -> str:
    return str(ipaddress.ip_network(service_cidr, strict=False)[ADDRESS_INDEX])


def dns_service(service_cidr: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": LABELS},
        "spec": {
            "clusterIP": dns_service_ip(service_cidr),
            "internalTrafficPolicy": "Local",
            "ports": [
                {"name": "dns", "port": DNS_PORT, "protocol": "UDP", "targetPort": DNS_PORT},
                {"name": "dns-tcp", "port": DNS_PORT, "protocol": "TCP", "targetPort": DNS_PORT},
            ],
        },
    }


async def ensure_dns_service(storage: Storage, service_cidr: str) -> None:
    """Make the Service unless it exists. Never fails the server's start: a taken
    address (a user's Service holds it) is logged with what to do."""
    network = ipaddress.ip_network(service_cidr, strict=False)
    if network.num_addresses <= ADDRESS_INDEX:
        log.bind(service_cidr=service_cidr).warning(
            "api.service_cidr is too small for the kube-dns Service's address (its 10th)"
        )
        return
    try:
        await storage.get(SERVICES, NAMESPACE, NAME)
        return
    except errors.ApiError as exc:
        if exc.reason != "NotFound":
            raise
    try:
        await storage.create(SERVICES, NAMESPACE, dns_service(service_cidr))
        log.bind(cluster_ip=dns_service_ip(service_cidr)).info("made the kube-dns Service")
    except errors.ApiError as exc:
        if exc.reason == "AlreadyExists":
            return  # another API server's create won
        log.bind(error=exc.message).warning(
            "could not make the kube-dns Service; pods' resolv.conf names its address "
            "(agent.cluster_dns): free that ClusterIP or point agent.cluster_dns elsewhere"
        )
