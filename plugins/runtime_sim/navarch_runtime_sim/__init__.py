"""Navarch's simulated container runtime, registered under the name ``sim``: containers
that live in memory, for tests and benchmarks of hundreds of nodes in one process."""

from __future__ import annotations

from navarch import hookimpl
from navarch.logs import quiet_until_configured
from navarch_runtime_sim.options import ImageBehaviour, SimOptions
from navarch_runtime_sim.runtime import SimRuntime

__all__ = ["ImageBehaviour", "SimOptions", "SimRuntime"]

# Silent as a library; logs once an entry point configured logging.
quiet_until_configured(__name__)


def open_runtime(options: SimOptions, data_dir: str) -> SimRuntime:
    # Everything lives in memory: the data directory is not used.
    return SimRuntime(options)


@hookimpl
def navarch_register_runtimes(register) -> None:
    register("sim", open_runtime, options=SimOptions)
