"""Image references as a registry sees them: where to ask for a parsed reference.

The grammar (and Docker Hub's defaults: ``docker.io``, ``library/``, ``latest``) is
core's :mod:`navarch.api.imageref`, the one the agent checks a pod's image with; this
module adds what a pull needs: Docker Hub's API host, the URL scheme and the name a
repository digest is written under. Examples::

    parse_reference("127.0.0.1:5000/navarch/busybox:1")
    -> registry "127.0.0.1:5000", repository "navarch/busybox", tag "1"
    parse_reference("busybox")
    -> registry "docker.io", repository "library/busybox", tag "latest"

Plain HTTP is spoken only to a loopback registry (127.0.0.0/8, ::1, localhost), as
containerd and Docker do without extra configuration; every other registry over HTTPS.
"""

from __future__ import annotations

import attrs

from navarch.api.imageref import (
    DOCKER_HUB,
    InvalidImageReference,
    is_loopback_registry,
    parse_image_reference,
)

DOCKER_HUB_API = "registry-1.docker.io"


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
        return is_loopback_registry(self.registry)

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
    try:
        parsed = parse_image_reference(text)
    except InvalidImageReference as exc:
        raise InvalidReference(f"{text!r} is not an image reference: {exc}") from None
    return ImageReference(parsed.domain, parsed.path, parsed.tag_or_default, parsed.digest)
