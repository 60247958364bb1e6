"""The runtime contract every container runtime plugin implements (CRI's shape,
smaller): images, pod sandboxes, containers, logs and exec.

A pod runs as one *sandbox* (the network namespace and hostname its containers
share: a pause-like container for Docker, a namespace for containerd, nothing but a
record for the simulator) and its *containers*, created inside it. The agent drives
a pod from its spec, worked example — pod ``web`` (uid ``u1``) with one container
``nginx``, restarted once::

    sandbox = await runtime.create_sandbox(SandboxConfig("web", "default", "u1",
                                           labels=sandbox_labels("n1", "default", "web", "u1")))
    await runtime.pull_image("127.0.0.1:5000/nginx:1")            # per imagePullPolicy
    cid = await runtime.create_container(sandbox, ContainerConfig(
        "nginx", "127.0.0.1:5000/nginx:1", attempt=0,
        labels=container_labels("n1", "default", "web", "u1", "nginx", 0)))
    await runtime.start_container(cid)
    ...                                   # it exits; restartPolicy says restart:
    cid2 = await runtime.create_container(sandbox, ...attempt=1...)  # a new instance;
    await runtime.start_container(cid2)   # cid stays (exited) for `logs --previous`
    ...                                   # the pod is deleted:
    await runtime.stop_container(cid2, grace=30)   # SIGTERM, SIGKILL after 30 s
    await runtime.remove_sandbox(sandbox)          # removes its containers too

Rules every runtime keeps (``navarch.testing.runtime`` checks them):

* Labels given in a config come back verbatim in every status and list, and
  ``list_sandboxes`` / ``list_containers`` filter on them (every key/value must
  match). That is how a restarted agent adopts what runs.
* Exited containers stay listed, with exit code, reason and times, until removed.
* ``stop_container`` sends SIGTERM, waits up to ``grace`` seconds, then SIGKILL; it
  returns once the process is gone. Stopping a stopped container is not an error.
* ``remove_*`` of something already gone raises :class:`NotFound`; the agent treats
  that as done.
* A call the daemon cannot answer raises :class:`Unavailable`; the runtime object
  stays usable and works again once the daemon is back (it reconnects by itself).
* ``logs`` keeps each container's output after it exits, until it is removed.
* ``attach`` joins the streams of a container's own process (``kubectl attach``,
  ``kubectl debug -it``): output from the moment of attaching (what came before is
  in ``logs``), stdin when the container was created with ``stdin``. Detaching
  (``close``) never stops the container; several attaches may be open at once.
* Volumes: each of ``ContainerConfig.mounts`` is a bind mount of its ``host_path``
  at its ``container_path`` (a directory, or a file onto a file path), recursive,
  read-only when ``read_only``, with the ``propagation`` asked for (``None``: rprivate,
  ``HostToContainer``: rslave, ``Bidirectional``: rshared, as containerd's CRI plugin
  and dockershim set them). The agent prepares every host path before the container
  is created (an emptyDir's directory, a configMap volume's files, a subPath); a
  runtime only binds it, never creates or removes anything there, and a missing one
  is a CreateError naming it. Writes through a writable mount reach the host path,
  and containers mounting one path share it.
* All methods are coroutines, safe to call concurrently from one event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from navarch.runtime.types import (
    ContainerConfig,
    ContainerStatus,
    ExecResult,
    ImageRef,
    LogLine,
    LogOptions,
    RegistryAuth,
    RuntimeVersion,
    SandboxConfig,
    SandboxStatus,
)


@runtime_checkable
class ExecSession(Protocol):
    """A running exec: a process in a container, its streams and exit code (what
    ``kubectl exec`` drives). With ``tty`` there is one output stream (stdout)."""

    async def write_stdin(self, data: bytes) -> None: ...

    async def close_stdin(self) -> None: ...

    def output(self) -> AsyncIterator[tuple[str, bytes]]:
        """``(STDOUT | STDERR, bytes)`` chunks until the process's streams close."""
        ...

    async def resize(self, width: int, height: int) -> None: ...

    async def wait(self) -> int:
        """The exit code, once the process ended."""
        ...

    async def close(self) -> None:
        """Release the session (kills nothing that already ended)."""
        ...


@runtime_checkable
class AttachSession(Protocol):
    """Streams of a running container's own process (what ``kubectl attach`` drives):
    the same shape as :class:`ExecSession`, but the process is the container's, so
    ``wait`` gives the container's exit code and ``close`` only detaches. With a
    ``tty`` container there is one output stream (stdout)."""

    async def write_stdin(self, data: bytes) -> None: ...

    async def close_stdin(self) -> None:
        """This attach sends no more input. The container's stdin is closed only when
        it was created with ``stdin_once`` (Kubernetes' rule); else a later attach
        may write to it again."""
        ...

    def output(self) -> AsyncIterator[tuple[str, bytes]]:
        """``(STDOUT | STDERR, bytes)`` chunks from now until the container's output
        ends (it exited)."""
        ...

    async def resize(self, width: int, height: int) -> None: ...

    async def wait(self) -> int:
        """The container's exit code, once it exited."""
        ...

    async def close(self) -> None:
        """Detach; the container runs on."""
        ...


@runtime_checkable
class Runtime(Protocol):
    """A container runtime. Built by the factory its plugin registers through
    ``navarch_register_runtimes``: ``factory(options, data_dir) -> Runtime``."""

    # --- the daemon ---------------------------------------------------------------

    async def version(self) -> RuntimeVersion:
        """Name and version of the runtime; raises Unavailable when it does not answer.
        Doubles as the health check the agent's Ready condition follows."""
        ...

    async def close(self) -> None:
        """Close connections; containers keep running."""
        ...

    # --- images --------------------------------------------------------------------

    async def pull_image(self, image: str, auth: RegistryAuth | None = None) -> ImageRef:
        """Pull ``image`` (``host:port/name:tag`` or ``…@sha256:…``); plain HTTP only for
        a loopback registry. Raises ImagePullError with the registry's reason."""
        ...

    async def load_image(self, archive: Path) -> list[ImageRef]:
        """Load every image of a ``docker save`` / OCI archive; raises ImageLoadError
        naming the archive when it is corrupt, and leaves nothing half-loaded."""
        ...

    async def image_status(self, image: str) -> ImageRef | None:
        """The image by name, digest or id; None when the runtime does not hold it."""
        ...

    async def list_images(self) -> list[ImageRef]: ...

    async def remove_image(self, image: str) -> None: ...

    # --- pod sandboxes -------------------------------------------------------------

    async def create_sandbox(self, config: SandboxConfig) -> str:
        """Create and start the pod's sandbox; returns its id (CRI's RunPodSandbox)."""
        ...

    async def stop_sandbox(self, sandbox_id: str) -> None:
        """Stop the sandbox and every container in it (grace 0: the agent has already
        stopped containers gracefully)."""
        ...

    async def sandbox_status(self, sandbox_id: str) -> SandboxStatus: ...

    async def list_sandboxes(
        self, labels: Mapping[str, str] | None = None
    ) -> list[SandboxStatus]: ...

    async def remove_sandbox(self, sandbox_id: str) -> None:
        """Remove the sandbox and every container in it, stopping them first."""
        ...

    # --- containers ----------------------------------------------------------------

    async def create_container(
        self, sandbox_id: str, config: ContainerConfig, sandbox: SandboxConfig
    ) -> str:
        """Create (not start) a container in the sandbox; the image must be present,
        and so must every mount's host path (bound, never created: see the module's
        rules). Raises CreateError with the runtime's message."""
        ...

    async def start_container(self, container_id: str) -> None:
        """Start it; raises StartError with the runtime's message when the process
        cannot start (the container then shows as exited)."""
        ...

    async def stop_container(self, container_id: str, grace: float) -> None: ...

    async def remove_container(self, container_id: str) -> None: ...

    async def container_status(self, container_id: str) -> ContainerStatus: ...

    async def list_containers(
        self, labels: Mapping[str, str] | None = None, sandbox_id: str | None = None
    ) -> list[ContainerStatus]: ...

    def logs(self, container_id: str, options: LogOptions) -> AsyncIterator[LogLine]:
        """The container's output as lines (raises NotFound before the first line when
        the container does not exist)."""
        ...

    async def exec(
        self, container_id: str, command: Sequence[str], *, stdin: bool = False, tty: bool = False
    ) -> ExecSession:
        """Start ``command`` in the running container."""
        ...

    async def exec_sync(
        self, container_id: str, command: Sequence[str], timeout: float
    ) -> ExecResult:
        """Run ``command`` to completion (probes); a timeout raises TimeoutError."""
        ...

    async def attach(
        self, container_id: str, *, stdin: bool = False, tty: bool = False
    ) -> AttachSession:
        """Attach to the running container's own process (see the rules above).
        ``stdin`` on a container created without it raises RuntimeFault saying so; a
        runtime that cannot attach at all raises RuntimeFault naming what to use
        instead (``logs -f``)."""
        ...
