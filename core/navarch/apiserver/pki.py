"""The cluster's certificate authority and the API server's serving certificate,
generated on first start (``<data_dir>/pki``; keys 0600).

kubectl and client-go never send a bearer token over plain HTTP, so the API server
speaks HTTPS by default; clients trust the CA through the kubeconfig.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from pathlib import Path

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALID_DAYS = 3650


@attrs.frozen
class Pki:
    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.directory / "server.key"

    def ensure(self, hosts: list[str]) -> Pki:
        """Create the CA and the serving certificate if missing (or if ``hosts`` changed)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.directory, 0o700)
        ca_key_path = self.directory / "ca.key"
        if not self.ca_cert.exists():
            ca_key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "navarch-ca")])
            cert = (
                _builder(name, name, ca_key.public_key())
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(
                    x509.KeyUsage(
                        digital_signature=True,
                        key_cert_sign=True,
                        crl_sign=True,
                        content_commitment=False,
                        key_encipherment=False,
                        data_encipherment=False,
                        key_agreement=False,
                        encipher_only=False,
                        decipher_only=False,
                    ),
                    critical=True,
                )
                .sign(ca_key, hashes.SHA256())
            )
            _write_private(ca_key_path, _key_pem(ca_key))
            self.ca_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        if not self.server_cert.exists() or _hosts_of(self.server_cert) != sorted(set(hosts)):
            ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), None)
            ca = x509.load_pem_x509_certificate(self.ca_cert.read_bytes())
            key = ec.generate_private_key(ec.SECP256R1())
            names: list[x509.GeneralName] = []
            for host in sorted(set(hosts)):
                try:
                    names.append(x509.IPAddress(ipaddress.ip_address(host)))
                except ValueError:
                    names.append(x509.DNSName(host))
            cert = (
                _builder(
                    x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "navarch-apiserver")]),
                    ca.subject,
                    key.public_key(),
                )
                .add_extension(x509.SubjectAlternativeName(names), critical=False)
                .add_extension(
                    x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
                )
                .sign(ca_key, hashes.SHA256())
            )
            _write_private(self.server_key, _key_pem(key))
            self.server_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return self

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server_cert, self.server_key)
        return context


def _builder(subject: x509.Name, issuer: x509.Name, public_key) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_VALID_DAYS))
    )


def _hosts_of(path: Path) -> list[str]:
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return []
    return sorted({str(n.value) for n in san})


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
