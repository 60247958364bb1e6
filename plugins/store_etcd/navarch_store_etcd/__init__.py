"""Navarch's store on a real etcd v3 cluster, registered under the name ``etcd``."""

from __future__ import annotations

from navarch import hookimpl
from navarch.logs import quiet_until_configured
from navarch_store_etcd.options import EtcdOptions
from navarch_store_etcd.store import EtcdStore

__all__ = ["EtcdOptions", "EtcdStore"]

# Silent as a library; logs once an entry point configured logging, even if this
# module is imported after that (navarch.logs decides).
quiet_until_configured(__name__)


def open_store(options: EtcdOptions, data_dir: str) -> EtcdStore:
    return EtcdStore.open(options)


@hookimpl
def navarch_register_stores(register) -> None:
    register("etcd", open_store, options=EtcdOptions)
