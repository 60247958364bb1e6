"""The runtime's error types. Each is distinct so the agent maps them to pod status
without parsing messages, as the kubelet does:

* :class:`ImagePullError` -> ``ErrImagePull`` then ``ImagePullBackOff``, with ``reason``
  (the registry's answer) in the container's waiting message;
* :class:`CreateError` -> ``CreateContainerError``; :class:`StartError` (a
  :class:`CreateError` raised when the process cannot start, e.g. a command that does
  not exist) -> ``RunContainerError``; both carry the runtime's own message;
* :class:`NotFound` -> the object is gone (an agent treats it as "already removed");
* :class:`Unavailable` -> the runtime daemon does not answer: the Node turns NotReady
  with ``message`` until it does again;
* :class:`InvalidConfig` -> a spec the runtime cannot honour (the pod gets a clear
  status message; the agent goes on serving other pods).
"""

from __future__ import annotations


class RuntimeFault(Exception):
    """Base of every runtime error. ``message`` is what a user sees in pod status."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class NotFound(RuntimeFault):
    def __init__(self, kind: str, ident: str):
        self.kind, self.ident = kind, ident
        super().__init__(f"{kind} {ident!r} not found")


class ImagePullError(RuntimeFault):
    """An image could not be pulled. ``reason`` is the registry's (or the runtime's)
    own words, e.g. ``manifest unknown`` or ``unauthorized: authentication required``."""

    def __init__(self, image: str, reason: str):
        self.image, self.reason = image, reason
        super().__init__(f"failed to pull image {image!r}: {reason}")


class ImageLoadError(RuntimeFault):
    """An archive could not be loaded (corrupt, truncated, not an image archive)."""

    def __init__(self, archive: str, reason: str):
        self.archive, self.reason = archive, reason
        super().__init__(f"failed to load image archive {archive}: {reason}")


class CreateError(RuntimeFault):
    """A sandbox or container could not be created; ``message`` is the runtime's."""


class StartError(CreateError):
    """A container was created but its process could not start (``RunContainerError``)."""


class InvalidConfig(RuntimeFault):
    """The configuration asks for something this runtime cannot do."""


class Unavailable(RuntimeFault):
    """The runtime daemon cannot be reached or does not answer."""
