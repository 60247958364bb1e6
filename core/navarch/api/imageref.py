"""Image references: the grammar of distribution/reference, which Kubernetes, Docker and
containerd all parse a container's ``image`` with.

::

    reference     := name [ ":" tag ] [ "@" digest ]
    name          := [domain "/"] path
    domain        := host [":" port]        host: DNS-like name, IPv4, or [IPv6]
    path          := component ("/" component)*   at most 255 characters
    component     := [a-z0-9]+ (separator [a-z0-9]+)*   separator: . _ __ or -+
    tag           := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
    digest        := algorithm ":" hex      sha256, sha384 or sha512, lower-case hex

The first component is a domain only when it has a ``.`` or a ``:``, is ``localhost``,
or has an upper-case letter; otherwise the image is on Docker Hub (``docker.io``),
under ``library/`` when the path has one component. Worked examples::

    busybox                       -> docker.io  library/busybox       (no tag: latest)
    127.0.0.1:5000/navarch/app:1  -> 127.0.0.1:5000  navarch/app  tag 1
    ../../etc                     -> invalid reference format
    Busybox                       -> invalid reference format: repository name
                                     (library/Busybox) must be lowercase

The messages are distribution's, so that a pod's ``InvalidImageName`` reads as it does
on Kubernetes.
"""

from __future__ import annotations

import ipaddress
import re

import attrs

DOCKER_HUB = "docker.io"
LEGACY_DOCKER_HUB = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
MAX_PATH_LENGTH = 255
# Hex characters of each digest algorithm Kubernetes' kubelet can verify.
DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}

_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_COMPONENT = rf"{_ALPHANUMERIC}(?:{_SEPARATOR}{_ALPHANUMERIC})*"
_PATH = rf"{_COMPONENT}(?:/{_COMPONENT})*"
_DOMAIN_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*|\[[a-fA-F0-9:]+\])"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"\w[\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
# ASCII: Go's \w is [0-9A-Za-z_], never a Unicode letter.
_REFERENCE = re.compile(rf"((?:{_DOMAIN}/)?{_PATH})(?::({_TAG}))?(?:@({_DIGEST}))?", re.ASCII)
_NAME = re.compile(rf"(?:({_DOMAIN})/)?({_PATH})", re.ASCII)
_IDENTIFIER = re.compile(r"[a-f0-9]{64}")


class InvalidImageReference(ValueError):
    """Not an image reference; the message is distribution's (``invalid reference
    format``, ``repository name must be lowercase`` …)."""


@attrs.frozen
class ImageReference:
    """A parsed, normalised reference: ``domain`` is ``docker.io`` when none was
    named; ``tag`` and ``digest`` are empty when not given."""

    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        """``domain/path``: the repository, without tag or digest."""
        return f"{self.domain}/{self.path}"

    @property
    def tag_or_default(self) -> str:
        """The tag a pull gets: the one named, ``latest`` when there is neither a tag
        nor a digest, else empty (the digest alone names the image)."""
        return self.tag or ("" if self.digest else DEFAULT_TAG)


def parse_image_reference(text: str) -> ImageReference:
    """``text`` normalised as Docker names it (distribution's ParseNormalizedNamed);
    raises :class:`InvalidImageReference`."""
    if _IDENTIFIER.fullmatch(text):
        raise InvalidImageReference(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = _split_domain(text)
    remote = remainder.partition(":")[0]
    if remote.lower() != remote:
        raise InvalidImageReference(
            f"invalid reference format: repository name ({remote}) must be lowercase"
        )
    return _parse(f"{domain}/{remainder}")


def _split_domain(text: str) -> tuple[str, str]:
    """(domain, the rest): the first component is a domain when it looks like one."""
    first, slash, rest = text.partition("/")
    if not slash:
        return DOCKER_HUB, OFFICIAL_PREFIX + text
    if first == LEGACY_DOCKER_HUB:
        domain, remote = DOCKER_HUB, rest
    elif first == "localhost" or "." in first or ":" in first or first.lower() != first:
        domain, remote = first, rest
    else:
        domain, remote = DOCKER_HUB, text
    if domain == DOCKER_HUB and "/" not in remote:
        remote = OFFICIAL_PREFIX + remote
    return domain, remote


def _parse(text: str) -> ImageReference:
    match = _REFERENCE.fullmatch(text)
    if match is None:
        if text.lower() != text and _REFERENCE.fullmatch(text.lower()):
            raise InvalidImageReference("repository name must be lowercase")
        raise InvalidImageReference("invalid reference format")
    name, tag, digest = match.group(1), match.group(2) or "", match.group(3) or ""
    parts = _NAME.fullmatch(name)
    assert parts is not None  # the reference's name is a name
    domain, path = parts.group(1) or "", parts.group(2)
    if len(path) > MAX_PATH_LENGTH:
        raise InvalidImageReference(
            f"repository name must not be more than {MAX_PATH_LENGTH} characters"
        )
    if digest:
        _check_digest(digest)
    return ImageReference(domain, path, tag, digest)


def _check_digest(digest: str) -> None:
    """go-digest's Validate, for the algorithms the kubelet links in."""
    algorithm, _, encoded = digest.partition(":")
    length = DIGEST_HEX_LENGTHS.get(algorithm)
    if length is None:
        raise InvalidImageReference("unsupported digest algorithm")
    if len(encoded) != length:
        raise InvalidImageReference("invalid checksum digest length")
    if not re.fullmatch(r"[a-f0-9]+", encoded):
        raise InvalidImageReference("invalid checksum digest format")


def is_loopback_registry(registry: str) -> bool:
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
