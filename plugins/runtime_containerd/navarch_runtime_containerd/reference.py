"""Image references as a registry sees them: ``[host[:port]/]repository[:tag][@digest]``.

The rules are Docker's (distribution's reference grammar): the first component is a
registry host when it has a ``.`` or a ``:``, or is ``localhost``; otherwise the
image lives on Docker Hub (``docker.io``, served by ``registry-1.docker.io``), where a
one-component repository is under ``library/``. No tag and no digest means
``latest``. Examples::

    parse_reference("127.0.0.1:5000/navarch/busybox:1")
    -> registry "127.0.0.1:5000", repository "navarch/busybox", tag "1"
    parse_reference("busybox")
    -> registry "docker.io", repository "library/busybox", tag "latest"

Plain HTTP is spoken only to a loopback registry (127.0.0.0/8, ::1, localhost), as
containerd and Docker do without extra configuration; every other registry over HTTPS.
"""

from __future__ import annotations

import ipaddress
import re

import attrs

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
DEFAULT_TAG = "latest"

# One path component of a repository: lower-case alphanumerics and separators.
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})")


class InvalidReference(ValueError):
    """The text is not an image reference; the message says which part is wrong."""


@attrs.frozen
class ImageReference:
    """A parsed reference. ``registry`` is the host (and port) as named, ``docker.io``
    by default; ``tag`` is empty when the reference has only a digest."""

    registry: str
    repository: str
    tag: str = ""
    digest: str = ""

    @property
    def api_host(self) -> str:
        """Where the registry's API answers (Docker Hub's is not ``docker.io``)."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def loopback(self) -> bool:
        return is_loopback(self.registry)

    @property
    def base_url(self) -> str:
        scheme = "http" if self.loopback else "https"
        return f"{scheme}://{self.api_host}"

    @property
    def manifest_reference(self) -> str:
        """What the manifest is asked for by: the digest when there is one (a digest
        pins the content; a tag beside it is only a name)."""
        return self.digest or self.tag

    @property
    def locator(self) -> str:
        """``registry/repository``: the name a repository digest is written under."""
        return f"{self.registry}/{self.repository}"


def parse_reference(text: str) -> ImageReference:
    """Raises :class:`InvalidReference` for text that is no image reference."""
    if not text or text != text.strip():
        raise InvalidReference(f"{text!r} is not an image reference")
    name, _, digest = text.partition("@")
    if digest and not _DIGEST.fullmatch(digest):
        raise InvalidReference(f"{digest!r} is not a sha256 or sha512 digest")
    tag = ""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:  # a colon after the last slash starts a tag, not a port
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise InvalidReference(f"{tag!r} is not a valid tag")
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, rest
    else:
        registry, repository = DOCKER_HUB, name
        if "/" not in repository:
            repository = f"library/{repository}"
    for component in repository.split("/"):
        if not _COMPONENT.fullmatch(component):
            raise InvalidReference(
                f"{repository!r} is not a valid repository name (lower-case letters, "
                "digits and separators . _ - between /)"
            )
    if not tag and not digest:
        tag = DEFAULT_TAG
    return ImageReference(registry, repository, tag, digest)


def is_loopback(registry: str) -> bool:
    """Whether ``registry`` (``host``, ``host:port``, ``[v6]:port``) is this machine."""
    host = registry
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
