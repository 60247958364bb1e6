"""Navarch's store on a real etcd v3 cluster, registered under the name ``etcd``."""

from __future__ import annotations

from typing import Any

from loguru import logger

from navarch import hookimpl
from navarch_store_etcd.options import EtcdOptions
from navarch_store_etcd.store import EtcdStore

__all__ = ["EtcdOptions", "EtcdStore"]

logger.disable(__name__)  # silent as a library; entry points enable it (navarch.logs)


def open_store(options: dict[str, Any], data_dir: str) -> EtcdStore:
    return EtcdStore.open(EtcdOptions.from_mapping(options))


@hookimpl
def navarch_register_stores(register) -> None:
    register("etcd", open_store)
