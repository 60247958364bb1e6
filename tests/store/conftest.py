"""Daemons for the store tests: a private etcd server, started once per session."""

from __future__ import annotations

import itertools

import pytest

from navarch_store_etcd.testing import EtcdServer

_namespaces = itertools.count()


@pytest.fixture(scope="session")
def etcd_server(tmp_path_factory):
    # Never skipped: without etcd these tests fail, telling what to install.
    with EtcdServer(tmp_path_factory.mktemp("etcd")) as server:
        yield server


@pytest.fixture
def etcd_namespace() -> str:
    """A key prefix no other test writes under."""
    return f"/test-{next(_namespaces)}"
