"""The agent's TLS serving certificate: self-signed, generated into its data
directory on first start (``<data_dir>/pki/<node>.crt``, key 0600), as a kubelet does
without ``--tls-cert-file``. The API server does not verify it (see
:mod:`navarch.apiserver.podproxy`); it only keeps tokens off the wire in clear."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
from pathlib import Path

from loguru import logger

from navarch.apiserver.datadir import init_lock, make_private_dir, write_atomically
from navarch.apiserver.tlsconfig import normalise_hosts, server_context

_VALID_DAYS = 3650
log = logger.bind(component="agent-tls")


def serving_context(data_dir: Path, node_name: str, hosts: list[str]) -> ssl.SSLContext:
    """The server context for the agent's port; the certificate is issued when missing
    or when it does not name ``hosts`` (and the node name) any more."""
    directory = Path(data_dir) / "pki"
    make_private_dir(directory)
    # One pair per node: several simulated agents may share one data directory.
    cert_path, key_path = directory / f"{node_name}.crt", directory / f"{node_name}.key"
    wanted = normalise_hosts(["127.0.0.1", "::1", "localhost", node_name, *hosts])
    hosts_path = directory / f"{node_name}.hosts"
    with init_lock(directory):
        # The names are kept beside the certificate, so a restart that finds them
        # unchanged loads the pair without parsing it (no cryptography import).
        if _recorded(hosts_path) != wanted or not (cert_path.exists() and key_path.exists()):
            _issue(cert_path, key_path, node_name, wanted)
            write_atomically(hosts_path, json.dumps(wanted).encode(), 0o644)
            log.bind(node=node_name, hosts=wanted, path=str(cert_path)).info(
                "issued the agent's self-signed serving certificate"
            )
    return server_context(cert_path, key_path)


def _recorded(hosts_path: Path) -> list[str] | None:
    try:
        names = json.loads(hosts_path.read_text())
    except (OSError, ValueError):
        return None
    return names if isinstance(names, list) else None


def _issue(cert_path: Path, key_path: Path, node_name: str, hosts: list[str]) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{node_name}@navarch-agent")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_atomically(key_path, key_pem)
    write_atomically(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
