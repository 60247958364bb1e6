"""TLS settings shared by the API server and the agents' ports, with the standard
library only: a process that only loads an existing certificate (an agent restarting)
never imports ``cryptography`` (9 MiB of an agent's memory)."""

from __future__ import annotations

import ipaddress
import ssl
from pathlib import Path

# TLS 1.2 only with forward secrecy and an AEAD cipher (what kube-apiserver's
# default list reduces to for an ECDSA key); TLS 1.3 suites are not affected.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


def normalise_hosts(hosts: list[str]) -> list[str]:
    """Sorted, de-duplicated names as they appear in a certificate (IPs compressed)."""
    out = set()
    for host in hosts:
        host = host.strip().strip("[]")
        if not host:
            continue
        try:
            out.add(str(ipaddress.ip_address(host)))
        except ValueError:
            out.add(host.lower())
    return sorted(out)


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    context.load_cert_chain(cert, key)
    return context
