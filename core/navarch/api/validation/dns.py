"""Validation of a pod's name resolution: its DNS policy and configuration, and the IP
addresses of nameservers and host aliases.
"""

from __future__ import annotations

import ipaddress

from navarch.api import errors, names
from navarch.api.core_v1 import PodSpec
from navarch.api.field_checks import Errors, named
from navarch.api.schema import join

DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
MAX_NAMESERVERS = 3
MAX_SEARCH_PATHS = 32


def validate_dns(spec: PodSpec, path: str) -> Errors:
    errs: Errors = []
    config = spec.dns_config
    config_path = join(path, "dnsConfig")
    if spec.dns_policy == "None":
        if config is None:
            return [
                errors.required(config_path, "must provide `dnsConfig` when `dnsPolicy` is None")
            ]
        if not config.nameservers:
            errs.append(
                errors.required(
                    join(config_path, "nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                )
            )
    if config is None:
        return errs
    servers_path = join(config_path, "nameservers")
    if len(config.nameservers or ()) > MAX_NAMESERVERS:
        errs.append(
            errors.invalid(
                servers_path,
                list(config.nameservers or ()),
                f"must not have more than {MAX_NAMESERVERS} nameservers",
            )
        )
    for i, server in enumerate(config.nameservers or ()):
        errs += validate_ip(server, f"{servers_path}[{i}]", required=True)
    searches_path = join(config_path, "searches")
    if len(config.searches or ()) > MAX_SEARCH_PATHS:
        errs.append(
            errors.invalid(
                searches_path,
                list(config.searches or ()),
                f"must not have more than {MAX_SEARCH_PATHS} search paths",
            )
        )
    for i, search in enumerate(config.searches or ()):
        # A trailing dot (a fully qualified name) is allowed.
        errs += named(search.removesuffix("."), f"{searches_path}[{i}]", names.dns1123_subdomain)
    for i, option in enumerate(config.options or ()):
        if not option.name:
            errs.append(errors.required(f"{join(config_path, 'options')}[{i}].name"))
    return errs


def validate_ip(value: str | None, path: str, *, required: bool) -> Errors:
    if not value:
        return [errors.required(path)] if required else []
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return [
            errors.invalid(
                path, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
            )
        ]
    return []
