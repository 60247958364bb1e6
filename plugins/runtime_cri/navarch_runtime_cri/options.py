"""Options of the CRI runtime (``runtime.options`` in the configuration).

Declared once as an attrs class and registered with the runtime, so the core checks
them (with cattrs, see navarch.options) and ``navarch config reference`` lists them.
"""

from __future__ import annotations

from typing import Any

import attrs

from navarch_runtime_cri.defaults import (
    DEFAULT_ENDPOINT,
    DEFAULT_PULL_TIMEOUT,
    DEFAULT_TIMEOUT,
)

# containerd's way to give its CRI plugin an image archive: import it into the
# namespace the CRI plugin keeps its images in. {socket} and {archive} are filled in.
CONTAINERD_LOAD = (
    "ctr",
    "--address",
    "{socket}",
    "--namespace",
    "k8s.io",
    "images",
    "import",
    "{archive}",
)
# ... and to take one name off an image that has others (CRI's RemoveImage removes
# the image with all its names).
CONTAINERD_UNTAG = (
    "ctr",
    "--address",
    "{socket}",
    "--namespace",
    "k8s.io",
    "images",
    "rm",
    "{image}",
)


def _help(text: str) -> dict[str, str]:
    return {"help": text}


def _endpoint(_: Any, __: attrs.Attribute, value: str) -> None:
    if not value.removeprefix("unix://").startswith("/"):
        raise ValueError(
            f"endpoint = {value!r}: must be the CRI runtime's unix socket, an absolute path "
            f"or unix:///path, like {DEFAULT_ENDPOINT} (containerd) or "
            "unix:///var/run/crio/crio.sock (CRI-O)"
        )


def _positive(_: Any, attribute: attrs.Attribute, value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} = {value:g}: must be more than 0")


def _command(placeholder: str) -> Any:
    def check(_: Any, attribute: attrs.Attribute, value: tuple[str, ...]) -> None:
        if value and not any(placeholder in word for word in value):
            raise ValueError(
                f"{attribute.name} = {list(value)}: must name {placeholder} "
                "(or be empty: not available)"
            )

    return check


def _words(value: Any) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class CriOptions:
    endpoint: str = attrs.field(
        default=DEFAULT_ENDPOINT,
        validator=_endpoint,
        metadata=_help(
            "The CRI runtime's gRPC socket (unix:///path or /path): containerd's "
            "(its CRI plugin enabled) or CRI-O's unix:///var/run/crio/crio.sock."
        ),
    )
    timeout: float = attrs.field(
        default=DEFAULT_TIMEOUT,
        validator=_positive,
        metadata=_help("Deadline of each CRI call, in seconds (pulls and stops get longer)."),
    )
    pull_timeout: float = attrs.field(
        default=DEFAULT_PULL_TIMEOUT,
        validator=_positive,
        metadata=_help("Deadline of one image pull, in seconds."),
    )
    runtime_handler: str = attrs.field(
        default="",
        metadata=_help(
            "The CRI runtime handler pods run with (RunPodSandbox's runtime_handler; "
            "empty: the runtime's default)."
        ),
    )
    image_load_command: tuple[str, ...] = attrs.field(
        default=CONTAINERD_LOAD,
        converter=_words,
        validator=_command("{archive}"),
        metadata=_help(
            "CRI cannot load an image archive: the command that does, for this runtime "
            "({archive}: the archive, {socket}: the endpoint's path). Default: containerd's "
            "ctr import into k8s.io; for CRI-O: [podman, load, -i, '{archive}']; "
            "empty: load_image is not available."
        ),
    )
    image_untag_command: tuple[str, ...] = attrs.field(
        default=CONTAINERD_UNTAG,
        converter=_words,
        validator=_command("{image}"),
        metadata=_help(
            "CRI's RemoveImage removes an image with all its names: the command that "
            "removes one name of several ({image}, {socket}). Default: containerd's ctr; "
            "for CRI-O: [podman, rmi, '{image}'] (it untags a name of several); "
            "empty: every name goes."
        ),
    )
