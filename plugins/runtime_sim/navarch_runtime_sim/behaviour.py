"""A simulated container's behaviour: the runtime's defaults, then the image's entry in
the options, then the pod's annotations (the sandbox's, then the container's own),
each later source overriding the earlier.

Annotation keys (a value of ``""`` counts as unset); each may also be given for one
container by suffixing its name, ``sim.navarch.io/exit-code.web``, which wins over the
key without a suffix:

=====================================  =============================================
``sim.navarch.io/start-latency``        seconds ``start_container`` takes
``sim.navarch.io/exit-after``           seconds after start it exits (command ignored)
``sim.navarch.io/exit-code``            its exit code then
``sim.navarch.io/crash-until-attempt``  only attempts below this exit; later ones run
``sim.navarch.io/start-error``          start fails with this message (StartError)
``sim.navarch.io/probe-exit-code``      answer of execs the simulator does not act out
``sim.navarch.io/probe-ok-after``       such execs answer 1 until this many seconds
``sim.navarch.io/output``               text written to stdout at start
=====================================  =============================================

Pull failures are per image only (``images.<name>.pull_error``): a pull has no pod.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from navarch.runtime.errors import InvalidConfig
from navarch_runtime_sim.options import ImageBehaviour, SimOptions

PREFIX = "sim.navarch.io/"


def _number(value: str) -> float:
    number = float(value)
    if number < 0 or number != number:
        raise ValueError("must be 0 or more")
    return number


def _integer(value: str) -> int:
    return int(value)


# annotation key (after the prefix) -> (field of ImageBehaviour, parser)
ANNOTATIONS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "start-latency": ("start_latency_seconds", _number),
    "exit-after": ("exit_after_seconds", _number),
    "exit-code": ("exit_code", _integer),
    "crash-until-attempt": ("crash_until_attempt", _integer),
    "start-error": ("start_error", str),
    "probe-exit-code": ("probe_exit_code", _integer),
    "probe-ok-after": ("probe_ok_after_seconds", _number),
    "output": ("output", str),
}


@attrs.frozen
class Behaviour:
    """What one container does; resolved once, when it is created."""

    start_latency: float
    exit_after: float | None
    exit_code: int
    start_error: str
    probe_exit_code: int
    probe_ok_after: float | None
    output: str


def image_behaviour(options: SimOptions, image: str) -> ImageBehaviour:
    """The options' entry for ``image`` (also found without an explicit ``:latest``)."""
    found = options.images.get(image)
    if found is None and image.endswith(":latest"):
        found = options.images.get(image.removesuffix(":latest"))
    if found is None and ":" not in image.rsplit("/", 1)[-1]:
        found = options.images.get(image + ":latest")
    return found or ImageBehaviour()


def resolve(
    options: SimOptions,
    image: str,
    container: str,
    attempt: int,
    sandbox_annotations: Mapping[str, str],
    container_annotations: Mapping[str, str],
) -> Behaviour:
    """The behaviour of container ``container`` (attempt ``attempt``) of ``image``;
    raises InvalidConfig naming an annotation whose value does not parse."""
    values = attrs.asdict(image_behaviour(options, image))
    for source in (sandbox_annotations, container_annotations):
        for suffix in ("", f".{container}"):
            for key, (field, parse) in ANNOTATIONS.items():
                raw = source.get(PREFIX + key + suffix, "")
                if raw == "":
                    continue
                try:
                    values[field] = parse(raw)
                except ValueError as exc:
                    raise InvalidConfig(
                        f"annotation {PREFIX}{key}{suffix} = {raw!r}: {exc}"
                    ) from None
    exits = values["crash_until_attempt"] is None or attempt < values["crash_until_attempt"]
    latency = values["start_latency_seconds"]
    return Behaviour(
        start_latency=options.start_latency_seconds if latency is None else latency,
        exit_after=values["exit_after_seconds"] if exits else None,
        exit_code=values["exit_code"],
        start_error=values["start_error"],
        probe_exit_code=values["probe_exit_code"],
        probe_ok_after=values["probe_ok_after_seconds"],
        output=values["output"],
    )
