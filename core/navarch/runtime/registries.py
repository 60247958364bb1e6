"""Registry mirrors and credentials for air-gapped clusters, read from a
``registries.yaml`` in k3s's format (the model: docs.k3s.io "Private Registry
Configuration")::

    mirrors:
      docker.io:                      # a registry as images name it ("*": every one)
        endpoint:                     # tried in order; the registry itself last
          - "http://10.0.0.5:5000"
          - "https://mirror.example.com"
        rewrite:                      # optional: repository rewrites for this mirror
          "^library/(.*)": "mirrored/$1"
    configs:
      "10.0.0.5:5000":                # a host an endpoint (or an image) names
        auth: {username: puller, password: s3cret}   # or auth: <base64 user:pass>
        tls: {insecure_skip_verify: false}
    disable-default-endpoint: false   # Navarch's: never fall back to the registry itself

Each runtime plugin that pulls by itself (containerd, Docker) asks
:meth:`Registries.sources` where to fetch an image from and pulls from each source in
turn until one serves it; the image is kept under the name the pod gave, so a
container naming ``busybox`` runs from a mirror with no public registry reachable.
A CRI runtime pulls by itself with its own mirror configuration (containerd's
``config_path`` hosts, CRI-O's registries.conf): Navarch passes it the name only.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import yaml

from navarch.api.imageref import DOCKER_HUB, is_loopback_registry
from navarch.runtime.types import RegistryAuth

# Where Docker Hub's API answers: images say docker.io, the API is elsewhere.
DOCKER_HUB_API = "registry-1.docker.io"
WILDCARD = "*"


class RegistriesError(ValueError):
    """The registries file is wrong; the message names the file and the field."""


@attrs.frozen
class Mirror:
    endpoints: tuple[str, ...] = ()
    # (pattern, replacement with $1-style groups), applied to the repository in order;
    # the first that matches wins, as k3s does.
    rewrites: tuple[tuple[re.Pattern[str], str], ...] = ()

    def rewrite(self, repository: str) -> str:
        for pattern, replacement in self.rewrites:
            if pattern.search(repository):
                return pattern.sub(_python_groups(replacement), repository, count=1)
        return repository


@attrs.frozen
class HostConfig:
    auth: RegistryAuth | None = None
    insecure_skip_verify: bool = False
    ca_file: str = ""


@attrs.frozen
class PullSource:
    """One place to try: ``base_url`` (scheme, host and any path prefix, without
    ``/v2``), the repository there, and the credentials for that host."""

    base_url: str
    host: str
    repository: str
    auth: RegistryAuth | None = None
    insecure_skip_verify: bool = False
    ca_file: str = ""
    mirror: bool = False  # False: the registry the image names


@attrs.frozen
class Registries:
    mirrors: Mapping[str, Mirror] = attrs.field(factory=dict)
    configs: Mapping[str, HostConfig] = attrs.field(factory=dict)
    default_endpoint: bool = True

    def sources(
        self, registry: str, repository: str, auth: RegistryAuth | None = None
    ) -> list[PullSource]:
        """Where to pull ``registry/repository`` from, in order: the registry's mirrors
        (or the wildcard's), then the registry itself unless the default endpoint is
        disabled. ``auth`` (a pod's pull secret) is used where no config names
        credentials for the host; for the registry itself it wins, as a pod's own
        secret does in Kubernetes."""
        mirror = self.mirrors.get(registry) or self.mirrors.get(WILDCARD)
        found: list[PullSource] = []
        if mirror is not None:
            for endpoint in mirror.endpoints:
                host = _host_of(endpoint)
                config = self.configs.get(host, HostConfig())
                found.append(
                    PullSource(
                        base_url=endpoint.rstrip("/").removesuffix("/v2"),
                        host=host,
                        repository=mirror.rewrite(repository),
                        auth=config.auth or auth,
                        insecure_skip_verify=config.insecure_skip_verify,
                        ca_file=config.ca_file,
                        mirror=True,
                    )
                )
        if self.default_endpoint or not found:
            api_host = DOCKER_HUB_API if registry == DOCKER_HUB else registry
            config = self.configs.get(registry, HostConfig())
            scheme = "http" if is_loopback_registry(registry) else "https"
            found.append(
                PullSource(
                    base_url=f"{scheme}://{api_host}",
                    host=registry,
                    repository=repository,
                    auth=auth or config.auth,
                    insecure_skip_verify=config.insecure_skip_verify,
                    ca_file=config.ca_file,
                )
            )
        return found

    def credentials(self, host: str) -> RegistryAuth | None:
        config = self.configs.get(host)
        return config.auth if config else None


NO_REGISTRIES = Registries()


def load_registries(path: str | Path) -> Registries:
    """The configuration in ``path``; :data:`NO_REGISTRIES` when ``path`` is empty.
    Raises :class:`RegistriesError` naming the file and the field that is wrong."""
    if not path:
        return NO_REGISTRIES
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise RegistriesError(f"{path}: cannot read it: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise RegistriesError(f"{path}: not valid YAML: {exc}") from None
    return parse_registries(data, str(path))


def registries_option(help_text: str = "") -> Any:
    """The ``registries`` option of a runtime plugin that pulls by itself: the path of a
    registries.yaml, checked when the configuration is read (a wrong file stops the
    agent at start with the file's problem, not at the first pull)."""

    def check(_: Any, attribute: Any, value: str) -> None:
        load_registries(value)

    return attrs.field(
        default="",
        validator=check,
        metadata={
            "help": help_text
            or (
                "Path of a registries.yaml (k3s's format): mirrors tried in order per "
                "registry, and credentials and TLS per host. Empty: pull from the "
                "registry the image names."
            )
        },
    )


def parse_registries(data: Any, where: str = "registries") -> Registries:
    if not isinstance(data, dict):
        raise RegistriesError(f"{where}: must be a mapping with mirrors and configs")
    unknown = set(data) - {"mirrors", "configs", "disable-default-endpoint"}
    if unknown:
        raise RegistriesError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}: "
            "expected mirrors, configs, disable-default-endpoint"
        )
    mirrors = {
        registry: _mirror(value, f"{where}: mirrors.{registry}")
        for registry, value in _mapping(data.get("mirrors"), f"{where}: mirrors").items()
    }
    configs = {
        host: _host_config(value, f"{where}: configs.{host}")
        for host, value in _mapping(data.get("configs"), f"{where}: configs").items()
    }
    disabled = data.get("disable-default-endpoint", False)
    if not isinstance(disabled, bool):
        raise RegistriesError(f"{where}: disable-default-endpoint must be true or false")
    return Registries(mirrors=mirrors, configs=configs, default_endpoint=not disabled)


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise RegistriesError(f"{where}: must be a mapping keyed by registry host")
    return value


def _mirror(value: Any, where: str) -> Mirror:
    value = _mapping(value, where)
    endpoints = value.get("endpoint") or []
    if not isinstance(endpoints, list) or not all(isinstance(e, str) for e in endpoints):
        raise RegistriesError(f"{where}.endpoint: must be a list of URLs")
    checked = []
    for endpoint in endpoints:
        if "://" not in endpoint:
            endpoint = "https://" + endpoint  # k3s: https unless the URL says otherwise
        if not endpoint.startswith(("http://", "https://")) or not _host_of(endpoint):
            raise RegistriesError(
                f"{where}.endpoint: {endpoint!r} is not an http:// or https:// URL"
            )
        checked.append(endpoint)
    rewrites = []
    for pattern, replacement in _mapping(value.get("rewrite"), f"{where}.rewrite").items():
        try:
            rewrites.append((re.compile(pattern), str(replacement)))
        except re.error as exc:
            raise RegistriesError(f"{where}.rewrite: {pattern!r} is not a regex: {exc}") from None
    return Mirror(tuple(checked), tuple(rewrites))


def _host_config(value: Any, where: str) -> HostConfig:
    value = _mapping(value, where)
    auth = _auth(value.get("auth"), f"{where}.auth")
    tls = _mapping(value.get("tls"), f"{where}.tls")
    insecure = tls.get("insecure_skip_verify", False)
    if not isinstance(insecure, bool):
        raise RegistriesError(f"{where}.tls.insecure_skip_verify must be true or false")
    return HostConfig(auth, insecure, str(tls.get("ca_file") or ""))


def _auth(value: Any, where: str) -> RegistryAuth | None:
    if value is None:
        return None
    value = _mapping(value, where)
    username, password = str(value.get("username") or ""), str(value.get("password") or "")
    if value.get("auth"):
        try:
            decoded = base64.b64decode(str(value["auth"]), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise RegistriesError(f"{where}.auth: not base64 of user:password") from None
        username, _, password = decoded.partition(":")
    token = str(value.get("identitytoken") or value.get("identity_token") or "")
    if not (username or token):
        raise RegistriesError(f"{where}: give username and password, auth, or identitytoken")
    return RegistryAuth(username=username, password=password, identity_token=token)


def _host_of(url: str) -> str:
    return url.partition("://")[2].partition("/")[0]


def _python_groups(replacement: str) -> str:
    """k3s writes groups as ``$1``; Python's re as ``\\1``."""
    return re.sub(r"\$(\d+)", r"\\\1", replacement)
