"""Options of the etcd store (``store.options`` in the configuration).

Declared once as an attrs class and registered with the store, so the core checks them
(with cattrs, see navarch.options) and ``navarch config reference`` lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from navarch.options import structure_options
from navarch.store.contract import DEFAULT_MAX_VALUE_BYTES
from navarch.store.errors import InvalidArgument


def _endpoints(_: Any, __: attrs.Attribute, value: tuple[str, ...]) -> None:
    if not value or not all(":" in endpoint for endpoint in value):
        raise ValueError(
            f"endpoints = {list(value)!r}: must be a non-empty list of host:port strings, "
            "e.g. [127.0.0.1:2379]"
        )


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@attrs.frozen(kw_only=True)
class EtcdOptions:
    # Requests go to the first member that answers.
    endpoints: tuple[str, ...] = attrs.field(
        default=("127.0.0.1:2379",),
        validator=_endpoints,
        metadata=_help("host:port of each etcd member."),
    )
    # Several clusters can share one etcd, each under its own prefix.
    prefix: str = attrs.field(default="/navarch", metadata=_help("Every key lives under this."))
    # A write during an etcd outage fails, never hangs.
    timeout_seconds: float = attrs.field(
        default=5.0, metadata=_help("Deadline of every request, in seconds.")
    )
    max_value_bytes: int = attrs.field(
        default=DEFAULT_MAX_VALUE_BYTES, metadata=_help("Largest value stored.")
    )
    ca_file: str | None = attrs.field(default=None, metadata=_help("CA verifying the server."))
    cert_file: str | None = attrs.field(
        default=None, metadata=_help("Client certificate for mutual TLS (with key_file).")
    )
    key_file: str | None = attrs.field(default=None, metadata=_help("Client key (with cert_file)."))
    username: str | None = attrs.field(
        default=None, metadata=_help("etcd user (etcdctl user add; with password).")
    )
    password: str | None = attrs.field(default=None, metadata=_help("Its password."))

    def __attrs_post_init__(self) -> None:
        if bool(self.cert_file) != bool(self.key_file):
            raise ValueError("cert_file and key_file go together")
        if bool(self.username) != bool(self.password):
            raise ValueError("username and password go together")

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any] | None) -> EtcdOptions:
        return structure_options(cls, options, where="store.options", error=InvalidArgument)
