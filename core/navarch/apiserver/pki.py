"""The cluster's certificate authority and the API server's serving certificate,
generated on first start (``<data_dir>/pki``; keys 0600).

kubectl and client-go never send a bearer token over plain HTTP, so the API server
speaks HTTPS by default; clients trust the CA through the kubeconfig.

Several processes may start together on one data directory, so every file here is
created under the directory's initialisation lock and renamed into place whole
(``datadir``). A running server holds a shared lock on ``serving.lock`` for as long as
it serves; the serving certificate is re-issued (when the names it must carry
changed) only by a starting server that can take that lock exclusively, so keys a
running server uses are never rewritten. ``--print-kubeconfig`` only needs the CA and
never touches the serving certificate.
"""

from __future__ import annotations

import datetime
import fcntl
import ipaddress
import os
import ssl
from pathlib import Path

import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from loguru import logger

from navarch.apiserver.datadir import init_lock, write_atomically
from navarch.apiserver.tlsconfig import normalise_hosts, server_context

_VALID_DAYS = 3650
log = logger.bind(component="pki")


class PkiError(Exception):
    """The PKI files are damaged or in use; the message says what to do."""


@attrs.frozen
class Pki:
    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.directory / "server.key"

    @property
    def serving_lock(self) -> Path:
        return self.directory / "serving.lock"

    def ensure_ca(self) -> Pki:
        """Create the CA if there is none yet; check the one there is."""
        with init_lock(self.directory):
            self._ensure_ca()
        return self

    def open_serving(self, hosts: list[str]) -> ServingCertificate:
        """For a starting server: the CA, a serving certificate naming ``hosts``
        (issued if missing or naming others, unless a running server uses it), the
        chain verified, and the shared lock held until :meth:`ServingCertificate.close`.
        """
        wanted = normalise_hosts(hosts)
        with init_lock(self.directory):
            ca, ca_key = self._ensure_ca()
            fd = os.open(self.serving_lock, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                found = self._serving_hosts()
                if found != wanted:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        raise PkiError(
                            f"{self.server_cert} names {', '.join(found or [])} but this server "
                            f"needs {', '.join(wanted)}, and another navarch server using it is "
                            "running; stop that server first (its certificate is never "
                            "rewritten while it serves) or start this one with the same api "
                            "settings"
                        ) from None
                    self._issue_serving(ca, ca_key, wanted)
                    log.bind(hosts=wanted, path=str(self.server_cert)).info(
                        "issued the serving certificate"
                    )
                fcntl.flock(fd, fcntl.LOCK_SH)
                self._verify_serving(ca)
            except BaseException:
                os.close(fd)
                raise
        return ServingCertificate(self, fd)

    def _ensure_ca(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        # ca.crt is written last, so its presence means the CA is complete.
        if not self.ca_cert.exists():
            return self._create_ca()
        if not self.ca_key.exists():
            raise PkiError(
                f"{self.ca_cert} exists but {self.ca_key} does not: the CA is incomplete; "
                f"restore {self.ca_key} from a backup, or remove {self.directory} to create "
                "a new CA (every kubeconfig must then be fetched again)"
            )
        try:
            ca = x509.load_pem_x509_certificate(self.ca_cert.read_bytes())
            key = serialization.load_pem_private_key(self.ca_key.read_bytes(), None)
        except ValueError as exc:
            raise PkiError(
                f"{self.directory}: the CA files cannot be read ({exc}); restore them from a "
                f"backup, or remove {self.directory} to create a new CA (every kubeconfig "
                "must then be fetched again)"
            ) from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not _same_key(key, ca):
            raise PkiError(
                f"{self.ca_key} does not match {self.ca_cert}; restore the pair from a "
                f"backup, or remove {self.directory} to create a new CA (every kubeconfig "
                "must then be fetched again)"
            )
        return ca, key

    def _create_ca(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "navarch-ca")])
        cert = (
            _builder(name, name, key.public_key())
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
            .sign(key, hashes.SHA256())
        )
        write_atomically(self.ca_key, _key_pem(key))
        write_atomically(self.ca_cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)
        log.bind(path=str(self.ca_cert)).info("created the cluster CA")
        return cert, key

    def _serving_hosts(self) -> list[str] | None:
        """The names in the serving certificate; None when there is none (or unreadable)."""
        try:
            cert = x509.load_pem_x509_certificate(self.server_cert.read_bytes())
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except (OSError, ValueError, x509.ExtensionNotFound):
            return None
        return normalise_hosts([str(n.value) for n in san])

    def _issue_serving(
        self, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, hosts: list[str]
    ) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = []
        for host in hosts:
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
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        write_atomically(self.server_key, _key_pem(key))
        write_atomically(self.server_cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)

    def _verify_serving(self, ca: x509.Certificate) -> None:
        advice = (
            f"remove {self.server_cert} and {self.server_key} (the next start issues new "
            "ones from the CA)"
        )
        try:
            cert = x509.load_pem_x509_certificate(self.server_cert.read_bytes())
            key = serialization.load_pem_private_key(self.server_key.read_bytes(), None)
        except (OSError, ValueError) as exc:
            raise PkiError(f"the serving certificate cannot be read ({exc}); {advice}") from None
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            raise PkiError(
                f"{self.server_cert} is not signed by {self.ca_cert}; {advice}"
            ) from None
        if not _same_key(key, cert):
            raise PkiError(f"{self.server_key} does not match {self.server_cert}; {advice}")


@attrs.define
class ServingCertificate:
    """The verified serving certificate of a running server, and its shared lock."""

    pki: Pki
    _lock_fd: int | None

    def context(self) -> ssl.SSLContext:
        return server_context(self.pki.server_cert, self.pki.server_key)

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def _same_key(key, cert: x509.Certificate) -> bool:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return key.public_key().public_bytes(
        serialization.Encoding.DER, spki
    ) == cert.public_key().public_bytes(serialization.Encoding.DER, spki)


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


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
