"""The asynchronous Navarch client: typed helpers per resource, retries, resuming
watches, and informers (list + watch into a local cache)."""

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
