"""Registry credentials from a pod's ``imagePullSecrets``: the kubelet's keyring
(pkg/credentialprovider) over ``kubernetes.io/dockerconfigjson`` Secrets (``.dockerconfigjson``:
``{"auths": {registry: {...}}}``) and the legacy ``kubernetes.io/dockercfg`` ones
(``.dockercfg``: ``{registry: {...}}``).

A registry key matches an image when its host (``*`` globs allowed per label, the
port exact) is the image's registry and its path, if any, is a prefix of the image's
repository; ``https://index.docker.io/v1/`` is Docker Hub. The longest key matching
wins (the most specific), as in the keyring."""

from __future__ import annotations

import base64
import fnmatch
import json
from collections.abc import Iterable
from typing import Any

import attrs

from navarch.agent.apiobjects import SECRETS, ObjectReader, ObjectUnreadable, secret_values
from navarch.api.imageref import InvalidImageReference, parse_image_reference
from navarch.runtime import RegistryAuth

DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
DOCKER_CFG = "kubernetes.io/dockercfg"
_DOCKER_HUB_KEYS = {"index.docker.io", "index.docker.io/v1", "registry-1.docker.io", "docker.io"}


@attrs.frozen
class RegistryCredential:
    registry: str  # the key as written in the Secret
    auth: RegistryAuth


@attrs.frozen
class PullCredentials:
    """The credentials a pod's pull secrets hold, and the secrets that could not be
    read (the pull is still tried: the image may be public)."""

    credentials: tuple[RegistryCredential, ...] = ()
    unreadable: tuple[str, ...] = ()

    def for_image(self, image: str) -> RegistryAuth | None:
        """The most specific credential whose registry matches ``image``."""
        try:
            reference = parse_image_reference(image)
        except InvalidImageReference:
            return None
        matching = [
            c for c in self.credentials if _matches(c.registry, reference.domain, reference.path)
        ]
        if not matching:
            return None
        return max(matching, key=lambda c: len(_normalised(c.registry))).auth


async def read_pull_credentials(reader: ObjectReader, pod: Any) -> PullCredentials:
    credentials: list[RegistryCredential] = []
    unreadable: list[str] = []
    namespace = pod.metadata.namespace
    for ref in pod.spec.image_pull_secrets or ():
        name = ref.name or ""
        try:
            secret = await reader.find(SECRETS, namespace, name)
        except ObjectUnreadable:
            secret = None
        if secret is None:
            unreadable.append(name)
            continue
        try:
            credentials += parse_docker_secret(secret.get("type") or "", secret_values(secret))
        except ValueError:
            unreadable.append(name)
    return PullCredentials(tuple(credentials), tuple(unreadable))


def parse_docker_secret(kind: str, values: dict[str, bytes]) -> list[RegistryCredential]:
    """The registries of a dockerconfigjson or dockercfg Secret's data (ValueError when
    it holds neither)."""
    if kind == DOCKER_CONFIG_JSON or ".dockerconfigjson" in values:
        entries = json.loads(values.get(".dockerconfigjson", b"{}")).get("auths") or {}
    elif kind == DOCKER_CFG or ".dockercfg" in values:
        entries = json.loads(values.get(".dockercfg", b"{}"))
    else:
        raise ValueError("not a docker config secret")
    return list(_credentials(entries.items()))


def _credentials(entries: Iterable[tuple[str, Any]]) -> Iterable[RegistryCredential]:
    for registry, entry in entries:
        if not isinstance(entry, dict):
            continue
        username, password = entry.get("username") or "", entry.get("password") or ""
        if entry.get("auth") and not username:
            decoded = base64.b64decode(entry["auth"]).decode("utf-8", errors="replace")
            username, _, password = decoded.partition(":")
        yield RegistryCredential(
            registry,
            RegistryAuth(
                username=username,
                password=password,
                identity_token=entry.get("identitytoken") or "",
            ),
        )


def _normalised(key: str) -> str:
    for scheme in ("https://", "http://"):
        if key.startswith(scheme):
            key = key[len(scheme) :]
    key = key.rstrip("/")
    if key in _DOCKER_HUB_KEYS:
        return "docker.io"
    return key


def _matches(key: str, domain: str, path: str) -> bool:
    host, _, prefix = _normalised(key).partition("/")
    if host in _DOCKER_HUB_KEYS:
        host = "docker.io"
    if not _host_matches(host, domain):
        return False
    return not prefix or path == prefix or path.startswith(prefix.rstrip("/") + "/")


def _host_matches(pattern: str, host: str) -> bool:
    """Globs per dot-separated label (``*.example.com``); the port must be equal."""
    pattern_host, _, pattern_port = pattern.partition(":")
    name, _, port = host.partition(":")
    if pattern_port != port:
        return False
    labels, wanted = pattern_host.split("."), name.split(".")
    return len(labels) == len(wanted) and all(
        fnmatch.fnmatchcase(w, p) for p, w in zip(labels, wanted, strict=True)
    )
