"""Options of the Docker runtime (``runtime.options`` in the configuration).

Declared once as an attrs class and registered with the runtime, so the core checks them
(with cattrs, see navarch.options) and ``navarch config reference`` lists them.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from navarch.runtime.registries import registries_option

# The newest Engine API this plugin was written against (Debian's dockerd 20.10).
MAX_API_VERSION = "1.41"
DEFAULT_SANDBOX_IMAGE = "navarch.local/pause:1"


def _help(text: str) -> dict[str, str]:
    return {"help": text}


def _socket(_: Any, __: attrs.Attribute, value: str) -> None:
    if not (value.startswith("unix://") or value.startswith("tcp://")):
        raise ValueError(
            f"socket = {value!r}: must be unix:///path/to/docker.sock or tcp://127.0.0.1:2375"
        )


def _api_version(_: Any, __: attrs.Attribute, value: str) -> None:
    if value != "auto" and not re.fullmatch(r"1\.\d+", value):
        raise ValueError(f"api_version = {value!r}: must be 'auto' or like '1.41'")


def _positive(_: Any, attribute: attrs.Attribute, value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} = {value:g}: must be more than 0")


@attrs.frozen(kw_only=True)
class DockerOptions:
    socket: str = attrs.field(
        default="unix:///var/run/docker.sock",
        validator=_socket,
        metadata=_help("Where the Docker Engine API listens (unix:// path or tcp://host:port)."),
    )
    # "auto" asks the daemon once per connection and speaks the lower of its version and
    # ours, so a newer dockerd is driven with the API this plugin was tested against.
    api_version: str = attrs.field(
        default="auto",
        validator=_api_version,
        metadata=_help(f"Engine API version, or 'auto' to negotiate (at most {MAX_API_VERSION})."),
    )
    # Never pulled: when missing, the plugin builds it offline from the host's static
    # busybox and loads it (see pause.py). Naming another image makes it pull nothing
    # either; it must then already be loaded.
    sandbox_image: str = attrs.field(
        default=DEFAULT_SANDBOX_IMAGE,
        metadata=_help("Image of the pod sandbox (pause) container; built offline when missing."),
    )
    # "none": each pod gets a private network namespace holding only loopback. A docker
    # network name ("bridge", a user network) gives pods an IP and hostPort publishing.
    pod_network: str = attrs.field(
        default="none",
        metadata=_help("Docker network of pod sandboxes ('none': loopback only)."),
    )
    log_driver: str = attrs.field(
        default="json-file",
        metadata=_help("Log driver of containers; logs need one the engine can read back."),
    )
    request_timeout_seconds: float = attrs.field(
        default=30.0,
        validator=_positive,
        metadata=_help("Deadline of each Engine API call (stop adds its grace period)."),
    )
    pull_timeout_seconds: float = attrs.field(
        default=600.0,
        validator=_positive,
        metadata=_help("Deadline of one image pull or load."),
    )
    registries: str = registries_option()
