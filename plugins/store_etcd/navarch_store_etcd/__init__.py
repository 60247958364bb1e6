"""Navarch's store on a real etcd v3 cluster, registered under the name ``etcd``.

gRPC is imported only when an etcd store is opened: every Navarch process loads every
installed plugin, and an agent or a scheduler should not carry grpc's ~11 MiB for a
store it never opens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from navarch import hookimpl
from navarch.logs import quiet_until_configured
from navarch_store_etcd.options import EtcdOptions

if TYPE_CHECKING:
    from navarch_store_etcd.store import EtcdStore

__all__ = ["EtcdOptions", "EtcdStore"]

# Silent as a library; logs once an entry point configured logging, even if this
# module is imported after that (navarch.logs decides).
quiet_until_configured(__name__)


def __getattr__(name: str) -> Any:
    if name == "EtcdStore":  # `from navarch_store_etcd import EtcdStore` still works
        from navarch_store_etcd.store import EtcdStore

        return EtcdStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_store(options: EtcdOptions, data_dir: str) -> EtcdStore:
    from navarch_store_etcd.store import EtcdStore

    return EtcdStore.open(options)


@hookimpl
def navarch_register_stores(register) -> None:
    register("etcd", open_store, options=EtcdOptions)
