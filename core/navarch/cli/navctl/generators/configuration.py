"""ConfigMaps and Secrets as ``kubectl create configmap|secret`` builds them.

The sources are kubectl's: ``--from-literal=KEY=VALUE``, ``--from-file=[KEY=]PATH``
(a directory: each regular file in it, named by its file name) and
``--from-env-file=PATH`` (``KEY=VALUE`` lines; a bare ``KEY`` takes its value from
navctl's own environment, blank lines and ``#`` comments skipped). A ConfigMap keeps
text under ``data`` and bytes that are not UTF-8 under ``binaryData``; a Secret keeps
everything base64-encoded under ``data``.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from navarch.cli.navctl.failures import CliError

DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
DOCKER_CONFIG_KEY = ".dockerconfigjson"
TLS_TYPE = "kubernetes.io/tls"
TLS_CERT_KEY, TLS_PRIVATE_KEY = "tls.crt", "tls.key"
# kubectl's --docker-server default: Docker Hub's v1 address, as docker login writes it.
DOCKER_HUB = "https://index.docker.io/v1/"

_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_CONFIG_KEY_RULE = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
    "(e.g. 'key.name', or 'KEY_NAME', or 'key-name')"
)


def check_key(key: str, kind: str) -> str:
    """A data key the API server would take (Kubernetes' IsConfigMapKey)."""
    problem = ""
    if len(key) > 253:
        problem = "must be no more than 253 characters"
    elif not _CONFIG_KEY.fullmatch(key):
        problem = _CONFIG_KEY_RULE
    elif key in (".", ".."):
        problem = f"must not be '{key}'"
    elif key.startswith(".."):
        problem = "must not start with '..'"
    if problem:
        raise CliError(f'"{key}" is not a valid key name for a {kind}: {problem}')
    return key


def literal_sources(literals: Iterable[str]) -> Iterator[tuple[str, bytes]]:
    for literal in literals:
        key, equals, value = literal.partition("=")
        if not equals or not key:
            raise CliError(f'invalid literal source "{literal}", expected key=value')
        yield key, value.encode()


def file_sources(sources: Iterable[str]) -> Iterator[tuple[str, bytes]]:
    """``PATH`` (key: the file's name), ``KEY=PATH``, or a directory's regular files."""
    for source in sources:
        key, equals, where = source.partition("=")
        if not equals:
            key, where = "", source
        elif not key:
            raise CliError(f'key name for file path "{where}" missing (use KEY=PATH or PATH)')
        path = Path(where)
        if not path.exists():
            raise CliError(f"error reading {where}: no such file or directory (--from-file)")
        if path.is_dir():
            if key:
                raise CliError(f'cannot give a key name for a directory path ("{source}")')
            for item in sorted(path.iterdir()):
                if item.is_file() and not item.is_symlink():  # kubectl: regular files only
                    yield item.name, item.read_bytes()
            continue
        yield key or path.name, path.read_bytes()


def env_file_sources(paths: Iterable[str]) -> Iterator[tuple[str, bytes]]:
    """kubectl's env file rules (see the module docstring); a key must be an
    environment variable name."""
    for where in paths:
        try:
            raw = Path(where).read_bytes()
        except OSError as exc:
            raise CliError(f"error reading {where}: {exc.strerror or exc}") from None
        for number, line in enumerate(raw.split(b"\n"), start=1):
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                raise CliError(
                    f"env file {where} contains invalid utf8 bytes at line {number}"
                ) from None
            if number == 1:
                text = text.removeprefix("\ufeff")
            text = text.lstrip().rstrip("\r")
            if not text or text.startswith("#"):
                continue
            key, equals, value = text.partition("=")
            if not _ENV_NAME.fullmatch(key):
                raise CliError(
                    f'"{key}" is not a valid key name: a valid environment variable name '
                    "must consist of alphabetic characters, digits, '_', '-', or '.', and "
                    "must not start with a digit"
                )
            yield key, (value if equals else os.environ.get(key, "")).encode()


def gather(
    kind: str, name: str, literals: list[str], files: list[str], env_files: list[str]
) -> dict[str, bytes]:
    """Every key and its bytes, in the order kubectl adds them (files, then literals,
    or the env files alone); a key given twice is refused, as kubectl refuses it."""
    if env_files and (files or literals):
        raise CliError("from-env-file cannot be combined with from-file or from-literal")
    found: dict[str, bytes] = {}
    sources = env_file_sources(env_files) if env_files else _chain(files, literals)
    for key, value in sources:
        check_key(key, kind)
        if key in found:  # each kind's words, as kubectl's
            raise CliError(
                f'cannot add key "{key}", another key by that name already exists in Data '
                f'for ConfigMap "{name}"'
                if kind == "ConfigMap"
                else f"cannot add key {key}, another key by that name already exists"
            )
        found[key] = value
    return found


def _chain(files: list[str], literals: list[str]) -> Iterator[tuple[str, bytes]]:
    yield from file_sources(files)
    yield from literal_sources(literals)


def configmap_manifest(name: str, entries: dict[str, bytes]) -> dict[str, Any]:
    """Text under ``data``; bytes that are not UTF-8 under ``binaryData`` (base64)."""
    data: dict[str, str] = {}
    binary: dict[str, str] = {}
    for key, value in entries.items():
        try:
            data[key] = value.decode("utf-8")
        except UnicodeDecodeError:
            binary[key] = _b64(value)
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
    if data:
        obj["data"] = data
    if binary:
        obj["binaryData"] = binary
    return obj


def secret_manifest(
    name: str, entries: dict[str, bytes], secret_type: str | None = None
) -> dict[str, Any]:
    """A Secret of ``entries`` (base64 under ``data``); with no type the server's
    default (Opaque) applies, as with kubectl."""
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}}
    if entries:
        obj["data"] = {key: _b64(value) for key, value in entries.items()}
    if secret_type:
        obj["type"] = secret_type
    return obj


def docker_config_json(server: str, username: str, password: str, email: str = "") -> bytes:
    """The ``.dockerconfigjson`` kubectl writes: one registry under ``auths``, with
    ``auth`` = base64(``user:password``) and ``email`` only when given. Encoded as Go's
    encoding/json does (no spaces; ``<``, ``>`` and ``&`` escaped), byte for byte."""
    entry: dict[str, str] = {"username": username, "password": password}
    if email:
        entry["email"] = email
    entry["auth"] = _b64(f"{username}:{password}".encode())
    text = json.dumps({"auths": {server: entry}}, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return text.encode()


def tls_pair(cert_path: str, key_path: str) -> dict[str, bytes]:
    """``tls.crt`` and ``tls.key``, refused (as kubectl refuses them) unless the first
    holds a PEM certificate and the second the private key that matches it."""
    from cryptography import x509  # only `create secret tls` pays for it
    from cryptography.hazmat.primitives import serialization

    cert_pem, key_pem = _read(cert_path), _read(key_path)
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        raise CliError(f"tls: failed to find a PEM certificate in {cert_path}") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        if b"CERTIFICATE-----" in key_pem:
            raise CliError(
                "tls: found a certificate rather than a key in the PEM for the private key"
            ) from None
        raise CliError(
            f"tls: failed to find an unencrypted PEM private key in {key_path}"
        ) from None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    if cert.public_key().public_bytes(encoding, public) != key.public_key().public_bytes(
        encoding, public
    ):
        raise CliError("tls: private key does not match public key")
    return {TLS_CERT_KEY: cert_pem, TLS_PRIVATE_KEY: key_pem}


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CliError(f"error reading {path}: {exc.strerror or exc}") from None


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")
