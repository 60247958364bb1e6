"""The asynchronous Navarch client: typed helpers per resource, retries, resuming
watches, and informers (list + watch into a local cache).

The names below are imported on first use (:mod:`navarch.lazyexports`): reading the
kubeconfig or catching :class:`ApiException` does not import aiohttp.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from navarch.lazyexports import lazy_exports

if TYPE_CHECKING:
    from navarch.client.client import Client, ResourceClient
    from navarch.client.errors import (
        AlreadyExists,
        ApiException,
        Conflict,
        Forbidden,
        Gone,
        Invalid,
        NotFound,
        Unauthorized,
    )
    from navarch.client.informer import Informer
    from navarch.client.kubeconfig import KubeConfig, KubeConfigError, load_kubeconfig
    from navarch.client.ready import probe_ready, wait_for_api

__all__ = [
    "AlreadyExists",
    "ApiException",
    "Client",
    "Conflict",
    "Forbidden",
    "Gone",
    "Informer",
    "Invalid",
    "KubeConfig",
    "KubeConfigError",
    "NotFound",
    "ResourceClient",
    "Unauthorized",
    "load_kubeconfig",
    "probe_ready",
    "wait_for_api",
]

__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "Client": "navarch.client.client",
        "ResourceClient": "navarch.client.client",
        "AlreadyExists": "navarch.client.errors",
        "ApiException": "navarch.client.errors",
        "Conflict": "navarch.client.errors",
        "Forbidden": "navarch.client.errors",
        "Gone": "navarch.client.errors",
        "Invalid": "navarch.client.errors",
        "NotFound": "navarch.client.errors",
        "Unauthorized": "navarch.client.errors",
        "Informer": "navarch.client.informer",
        "KubeConfig": "navarch.client.kubeconfig",
        "KubeConfigError": "navarch.client.kubeconfig",
        "load_kubeconfig": "navarch.client.kubeconfig",
        "probe_ready": "navarch.client.ready",
        "wait_for_api": "navarch.client.ready",
    },
)
