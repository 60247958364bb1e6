"""Options of the simulated runtime (``runtime.options`` in the configuration): defaults
for every container, and behaviour per image name.

    runtime:
      name: sim
      options:
        start_latency_seconds: 0.2
        images:
          127.0.0.1:5000/web:1: {exit_after_seconds: 30, exit_code: 1}   # a crash loop
          127.0.0.1:5000/gone:1: {pull_error: "manifest unknown"}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from navarch.options import structure_options
from navarch.runtime.errors import InvalidConfig


def _non_negative(_: Any, attribute: attrs.Attribute, value: float | None) -> None:
    if value is not None and value < 0:
        raise ValueError(f"{attribute.name} = {value:g}: must be 0 or more")


def _seconds(help: str) -> Any:
    return attrs.field(default=None, validator=_non_negative, metadata={"help": help})


@attrs.frozen(kw_only=True)
class ImageBehaviour:
    """How containers of one image behave (every field also settable per pod by an
    annotation, see :mod:`navarch_runtime_sim.behaviour`). Unset fields fall back to
    the runtime's defaults."""

    start_latency_seconds: float | None = _seconds("Seconds start_container takes.")
    exit_after_seconds: float | None = _seconds(
        "Seconds after start the container exits with exit_code (its command is then "
        "not acted out). Unset: it runs its command, or until stopped."
    )
    exit_code: int = attrs.field(
        default=0, metadata={"help": "Exit code when exit_after_seconds passes."}
    )
    crash_until_attempt: int | None = attrs.field(
        default=None,
        metadata={
            "help": "Only attempts (restart counts) below this exit after "
            "exit_after_seconds; later ones run: a crash loop that recovers."
        },
    )
    start_error: str = attrs.field(
        default="", metadata={"help": "start_container fails with this message (StartError)."}
    )
    pull_error: str = attrs.field(
        default="", metadata={"help": "Pulling the image fails with this reason."}
    )
    probe_exit_code: int = attrs.field(
        default=0,
        metadata={"help": "Exit code of an exec the simulator does not act out (probes)."},
    )
    probe_ok_after_seconds: float | None = _seconds(
        "Such execs answer 1 until this many seconds after start, then probe_exit_code."
    )
    output: str = attrs.field(
        default="", metadata={"help": "Text the container writes to stdout as it starts."}
    )


@attrs.frozen(kw_only=True)
class SimOptions:
    start_latency_seconds: float = attrs.field(
        default=0.0,
        validator=_non_negative,
        metadata={"help": "Default seconds start_container takes."},
    )
    pull_latency_seconds: float = attrs.field(
        default=0.0, validator=_non_negative, metadata={"help": "Seconds a pull takes."}
    )
    images: dict[str, ImageBehaviour] = attrs.field(
        factory=dict, metadata={"help": "Behaviour by image name (as containers name it)."}
    )

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any] | None) -> SimOptions:
        return structure_options(cls, options, where="runtime.options", error=InvalidConfig)
