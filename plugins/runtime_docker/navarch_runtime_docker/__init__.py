"""Navarch's Docker runtime, registered under the name ``docker``: the Docker Engine
API over its unix socket, pods as a pause container whose namespaces their
containers join (dockershim's design)."""

from __future__ import annotations

from navarch import hookimpl
from navarch.logs import quiet_until_configured
from navarch_runtime_docker.options import DockerOptions
from navarch_runtime_docker.runtime import DockerRuntime

__all__ = ["DockerOptions", "DockerRuntime"]

quiet_until_configured(__name__)


def open_runtime(options: DockerOptions, data_dir: str) -> DockerRuntime:
    # Docker keeps all state itself: data_dir is not needed.
    return DockerRuntime(options)


@hookimpl
def navarch_register_runtimes(register) -> None:
    register("docker", open_runtime, options=DockerOptions)
