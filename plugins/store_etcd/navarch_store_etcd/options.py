"""Options of the etcd store (``store.options`` in the configuration)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from navarch.store.contract import DEFAULT_MAX_VALUE_BYTES
from navarch.store.errors import InvalidArgument

_TYPES: dict[str, tuple[type, ...]] = {
    "endpoints": (list,),
    "prefix": (str,),
    "timeout_seconds": (int, float),
    "max_value_bytes": (int,),
    "ca_file": (str,),
    "cert_file": (str,),
    "key_file": (str,),
    "username": (str,),
    "password": (str,),
}


@attrs.frozen(kw_only=True)
class EtcdOptions:
    # host:port of each etcd member; requests go to the first that answers.
    endpoints: tuple[str, ...] = ("127.0.0.1:2379",)
    # Every key lives under this prefix, so several clusters can share one etcd.
    prefix: str = "/navarch"
    # Deadline of every request: a write during an etcd outage fails, never hangs.
    timeout_seconds: float = 5.0
    max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES
    # TLS: a CA to verify the server; a client certificate and key for mutual TLS.
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    # etcd authentication (etcdctl user add …).
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any] | None) -> EtcdOptions:
        options = dict(options or {})
        unknown = sorted(set(options) - set(_TYPES))
        if unknown:
            raise InvalidArgument(
                f"store.options: unknown option(s) {', '.join(unknown)} for the etcd store; "
                f"known: {', '.join(_TYPES)}"
            )
        for name, value in options.items():
            if not isinstance(value, _TYPES[name]) or isinstance(value, bool):
                allowed = " or ".join(t.__name__ for t in _TYPES[name])
                raise InvalidArgument(f"store.options.{name} = {value!r}: must be a {allowed}")
        if "endpoints" in options:
            endpoints = options["endpoints"]
            if not endpoints or not all(isinstance(e, str) and ":" in e for e in endpoints):
                raise InvalidArgument(
                    f"store.options.endpoints = {endpoints!r}: must be a non-empty list of "
                    "host:port strings, e.g. [127.0.0.1:2379]"
                )
            options["endpoints"] = tuple(endpoints)
        if bool(options.get("cert_file")) != bool(options.get("key_file")):
            raise InvalidArgument("store.options: cert_file and key_file go together")
        if bool(options.get("username")) != bool(options.get("password")):
            raise InvalidArgument("store.options: username and password go together")
        return cls(**options)
