"""Images before a container: pulled per ``imagePullPolicy``, with the kubelet's
back-off and its Events (Pulling, Pulled, Failed, BackOff, ErrImageNeverPull). One
:class:`ImagePulls` per pod worker; what it could not do comes back as the waiting
reason the container then shows.

An image that is no image reference (``../../etc``, ``Busybox``) is never looked up
nor pulled: the container waits with ``InvalidImageName`` and the kubelet's message,
and no back-off applies (nothing will change until the pod's image does)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import attrs
from loguru import logger

from navarch.agent.status import Waiting
from navarch.api.imageref import InvalidImageReference, parse_image_reference
from navarch.runtime import ImagePullError, RegistryAuth

if TYPE_CHECKING:
    from navarch.agent.agent import Agent

NORMAL, WARNING = "Normal", "Warning"


@attrs.frozen
class Pulled:
    """The outcome: ``ready``, or the waiting reason and when to look again."""

    ready: bool
    waiting: Waiting | None = None
    retry_in: float | None = None


@attrs.define
class ImagePulls:
    agent: Agent
    _errors: dict[str, str] = attrs.field(factory=dict)  # image -> the last failure
    _present_said: set[str] = attrs.field(factory=set)  # container names told "present"
    _unreadable_said: str = ""  # pull secrets last said to be unreadable

    def said_unreadable(self, secrets: str) -> bool:
        """Whether the Event about these unreadable pull secrets was recorded already
        (and remember it now)."""
        said, self._unreadable_said = self._unreadable_said == secrets, secrets
        return said

    async def ensure(
        self,
        pod: Any,
        container: Any,
        current: Waiting | None,
        auth: RegistryAuth | None = None,
    ) -> Pulled:
        """``current``: the container's waiting reason now (a BackOff Event is recorded
        once per back-off, not on every look); ``auth``: the credentials of the pod's
        imagePullSecrets for this image's registry (:mod:`navarch.agent.pullsecrets`)."""
        agent, name, image = self.agent, container.name, container.image
        invalid = _invalid_reference(image)
        if invalid is not None:
            if current is None or current.reason != "InvalidImageName":  # once, not per sync
                agent.event(pod, WARNING, "InspectFailed", invalid, name)
                logger.bind(component="agent", node=agent.node_name, image=image).warning(
                    "invalid image name"
                )
            return Pulled(False, Waiting("InvalidImageName", invalid))
        policy = container.image_pull_policy or "IfNotPresent"
        if policy != "Always" and await agent.runtime.image_status(image) is not None:
            if name not in self._present_said:
                self._present_said.add(name)
                message = f'Container image "{image}" already present on machine'
                agent.event(pod, NORMAL, "Pulled", message, name)
            return Pulled(True)
        if policy == "Never":
            message = f'Container image "{image}" is not present with pull policy of Never'
            agent.event(pod, WARNING, "ErrImageNeverPull", message, name)
            return Pulled(False, Waiting("ErrImageNeverPull", message))
        key = f"pull/{image}"
        wait = agent.backoff.in_backoff(key)
        if wait > 0:
            reason = self._errors.get(image, "")
            if current is None or current.reason != "ImagePullBackOff":
                agent.event(pod, NORMAL, "BackOff", f'Back-off pulling image "{image}"', name)
            message = f'Back-off pulling image "{image}": {reason}'.rstrip(": ")
            return Pulled(False, Waiting("ImagePullBackOff", message), wait)
        agent.event(pod, NORMAL, "Pulling", f'Pulling image "{image}"', name)
        started = time.monotonic()
        try:
            await agent.pull(image, auth)
        except ImagePullError as exc:
            message = f'Failed to pull image "{image}": {exc.reason}'
            agent.event(pod, WARNING, "Failed", message, name)
            agent.backoff.next(key)
            self._errors[image] = exc.message
            logger.bind(
                component="agent", node=agent.node_name, image=image, error=exc.reason
            ).warning("image pull failed")
            # Look again half-way through the back-off: ImagePullBackOff shows until the
            # next pull, as in Kubernetes.
            half = agent.backoff.in_backoff(key) / 2
            return Pulled(False, Waiting("ErrImagePull", exc.message), half)
        agent.backoff.reset(key)
        took = time.monotonic() - started
        shown = f"{took * 1000:.0f}ms" if took < 1 else f"{took:.3f}s"
        agent.event(pod, NORMAL, "Pulled", f'Successfully pulled image "{image}" in {shown}', name)
        return Pulled(True)


def _invalid_reference(image: str) -> str | None:
    """The kubelet's message for an image that is no reference; None for a valid one."""
    try:
        parse_image_reference(image)
    except InvalidImageReference as exc:
        return (
            f'Failed to apply default image tag "{image}": '
            f'couldn\'t parse image name "{image}": {exc}'
        )
    return None
