"""The simulated runtime: sandboxes and containers that live in memory (kwok's role),
for tests and benchmarks of many nodes in one process. It keeps the runtime contract
(:mod:`navarch.runtime.contract`) where the behaviour applies; what it cannot do
(real processes, network namespaces, cgroups) is listed in ``FEATURES`` for the
conformance suite.

A container's files are only those under its mounts (``ContainerConfig.mounts``,
:mod:`navarch_runtime_sim.mounts`): ``cat`` and ``>`` there read and write the host
path, which is how agent tests on the simulator check a volume's content.

Beyond the contract, tests drive faults with :meth:`SimRuntime.kill_container` (a
container killed from outside) and :meth:`SimRuntime.set_unavailable` (the daemon
stops answering); :meth:`SimRuntime.mounts` shows what a container was given."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

import attrs
from loguru import logger

from navarch.runtime import labels as runtime_labels
from navarch.runtime.errors import (
    CreateError,
    ImagePullError,
    NotFound,
    RuntimeFault,
    StartError,
    Unavailable,
)
from navarch.runtime.types import (
    STDERR,
    ContainerConfig,
    ContainerState,
    ContainerStatus,
    ExecResult,
    ImageRef,
    LogLine,
    LogOptions,
    Mount,
    RegistryAuth,
    RuntimeVersion,
    SandboxConfig,
    SandboxState,
    SandboxStatus,
)
from navarch_runtime_sim import behaviour as behaviours
from navarch_runtime_sim import shell
from navarch_runtime_sim.attach import SimAttachSession
from navarch_runtime_sim.containers import SimContainer
from navarch_runtime_sim.execs import SimExecSession, is_cat
from navarch_runtime_sim.images import ImageStore, pulled, read_archive
from navarch_runtime_sim.interactive import InteractiveShell
from navarch_runtime_sim.mounts import MountedFiles
from navarch_runtime_sim.options import SimOptions

VERSION = "0.1.0"
# A start that fails: containerd reports 128 with reason StartError.
EXIT_START_ERROR = 128

log = logger.bind(component="runtime-sim")


@attrs.define(eq=False)
class _Sandbox:
    id: str
    config: SandboxConfig
    state: SandboxState = SandboxState.READY
    created_at: float = attrs.field(factory=time.time)
    containers: dict[str, SimContainer] = attrs.field(factory=dict)

    def status(self) -> SandboxStatus:
        return SandboxStatus(
            id=self.id,
            state=self.state,
            labels=self.config.labels,
            annotations=self.config.annotations,
            created_at=self.created_at,
            host_network=self.config.host_network,
        )


class SimRuntime:
    """The ``sim`` runtime (implements :class:`navarch.runtime.Runtime`)."""

    def __init__(self, options: SimOptions | None = None):
        self.options = options or SimOptions()
        self._images = ImageStore()
        self._sandboxes: dict[str, _Sandbox] = {}
        self._containers: dict[str, SimContainer] = {}
        self._unavailable: str | None = None

    # --- faults, for tests -----------------------------------------------------------

    def set_unavailable(self, message: str | None) -> None:
        """While ``message`` is set, every call raises Unavailable with it (the daemon
        is down); None brings the runtime back, with everything it held."""
        self._unavailable = message

    def kill_container(self, container_id: str, exit_code: int = shell.EXIT_KILL) -> None:
        """The container's process dies from outside (OOM killer, ``kill -9``)."""
        self._container(container_id).kill(exit_code)

    def mounts(self, container_id: str) -> tuple[Mount, ...]:
        """The mounts a container was created with (ContainerStatus has no field for
        them): what agent tests on the simulator check a volume's binding by."""
        return self._container(container_id).config.mounts

    def _check(self) -> None:
        if self._unavailable is not None:
            raise Unavailable(self._unavailable)

    # --- the daemon ------------------------------------------------------------------

    async def version(self) -> RuntimeVersion:
        self._check()
        return RuntimeVersion("sim", VERSION, "v1")

    async def close(self) -> None:
        # Nothing outlives the process here: stop the timers so none fires later.
        for container in self._containers.values():
            container.discard()

    # --- images ----------------------------------------------------------------------

    async def pull_image(self, image: str, auth: RegistryAuth | None = None) -> ImageRef:
        self._check()
        if self.options.pull_latency_seconds:
            await asyncio.sleep(self.options.pull_latency_seconds)
        reason = behaviours.image_behaviour(self.options, image).pull_error
        if reason:
            log.debug("simulated pull failure", image=image, reason=reason)
            raise ImagePullError(image, reason)
        held = self._images.find(image)
        if held is not None:
            return held.ref()
        return self._images.add(pulled(image)).ref()

    async def load_image(self, archive: Path) -> list[ImageRef]:
        self._check()
        images = await asyncio.to_thread(read_archive, Path(archive))
        # Added only once the whole archive was read: nothing is ever half-loaded.
        return [self._images.add(image).ref() for image in images]

    async def image_status(self, image: str) -> ImageRef | None:
        self._check()
        held = self._images.find(image)
        return held.ref() if held else None

    async def list_images(self) -> list[ImageRef]:
        self._check()
        return [image.ref() for image in self._images.all()]

    async def remove_image(self, image: str) -> None:
        self._check()
        self._images.remove(image)

    # --- sandboxes -------------------------------------------------------------------

    async def create_sandbox(self, config: SandboxConfig) -> str:
        self._check()
        sandbox = _Sandbox(secrets.token_hex(32), config)
        self._sandboxes[sandbox.id] = sandbox
        return sandbox.id

    async def stop_sandbox(self, sandbox_id: str) -> None:
        self._check()
        sandbox = self._sandbox(sandbox_id)
        for container in sandbox.containers.values():
            container.kill()
        sandbox.state = SandboxState.NOT_READY

    async def sandbox_status(self, sandbox_id: str) -> SandboxStatus:
        self._check()
        return self._sandbox(sandbox_id).status()

    async def list_sandboxes(self, labels: Mapping[str, str] | None = None) -> list[SandboxStatus]:
        self._check()
        return [
            sandbox.status()
            for sandbox in self._sandboxes.values()
            if runtime_labels.matches(sandbox.config.labels, labels)
        ]

    async def remove_sandbox(self, sandbox_id: str) -> None:
        self._check()
        sandbox = self._sandboxes.pop(sandbox_id, None)
        if sandbox is None:
            raise NotFound("sandbox", sandbox_id)
        for container in sandbox.containers.values():
            container.discard()
            self._containers.pop(container.id, None)

    # --- containers ------------------------------------------------------------------

    async def create_container(
        self, sandbox_id: str, config: ContainerConfig, sandbox: SandboxConfig
    ) -> str:
        self._check()
        held = self._sandbox(sandbox_id)
        if held.state != SandboxState.READY:
            raise CreateError(f"sandbox {sandbox_id} is not ready")
        image = self._images.find(config.image)
        if image is None:
            raise CreateError(f"image {config.image!r} is not present: pull or load it first")
        target = config.target_container_id
        if target and (
            target not in held.containers or held.containers[target].state != ContainerState.RUNNING
        ):
            raise CreateError(
                f"container {config.name!r}: the target container {target} whose process "
                "namespace it would share is not running in its sandbox"
            )
        for mount in config.mounts:
            # Bound, never created: the agent prepares every host path first.
            if not os.path.lexists(mount.host_path):
                raise CreateError(
                    f"container {config.name!r}: the host path {mount.host_path!r} of mount "
                    f"{mount.container_path!r} does not exist"
                )
        behaviour = behaviours.resolve(
            self.options,
            config.image,
            config.name,
            config.attempt,
            {**held.config.annotations, **sandbox.annotations},
            config.annotations,
        )
        container = SimContainer(secrets.token_hex(32), sandbox_id, config, image.id, behaviour)
        held.containers[container.id] = container
        self._containers[container.id] = container
        return container.id

    async def start_container(self, container_id: str) -> None:
        self._check()
        container = self._container(container_id)
        if container.state != ContainerState.CREATED:
            raise StartError(f"container {container_id} is {container.state.value}, not created")
        if self._sandbox(container.sandbox_id).state != SandboxState.READY:
            raise StartError(f"sandbox {container.sandbox_id} is not ready")
        if container.behaviour.start_latency:
            await asyncio.sleep(container.behaviour.start_latency)
            container = self._container(container_id)  # it may be gone by now
        message = container.behaviour.start_error or self._missing_program(container)
        if message:
            container.started_at = time.time()
            container.exit(EXIT_START_ERROR, "StartError", message)
            raise StartError(message)
        interactive = self._interactive(container)
        container.start(None if interactive else self._process(container), interactive)

    def _missing_program(self, container: SimContainer) -> str:
        argv = (*container.config.command, *container.config.args)
        if not argv:
            return ""
        image = self._images.find(container.image_id)
        env = dict(container.config.env)
        if shell.resolve(argv[0], env, image.files if image else None) is False:
            return f"failed to start container: {shell.not_found_message(argv[0])}"
        return ""

    def _lookup(self, container: SimContainer) -> shell.Lookup:
        image = self._images.find(container.image_id)
        files = image.files if image else None
        env = dict(container.config.env)
        return lambda program: shell.resolve(program, env, files)

    def _process(self, container: SimContainer) -> shell.Process | None:
        """The acted-out process of the container's command; None when opaque."""
        config = container.config
        env, lookup, files = dict(config.env), self._lookup(container), _files(config)
        commands = shell.program((*config.command, *config.args), env, lookup, files)
        if commands is None:
            return None
        return shell.Process(
            commands,
            container.write,
            env=env,
            workdir=config.working_dir,
            lookup=lookup,
            files=files,
        )

    def _interactive(self, container: SimContainer) -> InteractiveShell | None:
        """A bare shell with its stdin open reads its commands from it (attach)."""
        config = container.config
        argv = (*config.command, *config.args)
        if not config.stdin or len(argv) != 1 or argv[0].rsplit("/", 1)[-1] not in shell.SHELLS:
            return None

        def processes() -> list[str]:
            # The shell's pid namespace: the target container's when it shares one.
            target = self._containers.get(config.target_container_id)
            seen = []
            if target is not None and target.state == ContainerState.RUNNING:
                target_argv = (*target.config.command, *target.config.args)
                seen.append(" ".join(target_argv) or target.config.image)
            return [*seen, argv[0], "ps"]

        return InteractiveShell(
            container.write,
            env=dict(config.env),
            workdir=config.working_dir,
            lookup=self._lookup(container),
            processes=processes,
            files=_files(config),
        )

    async def stop_container(self, container_id: str, grace: float) -> None:
        self._check()
        container = self._container(container_id)
        if container.state != ContainerState.RUNNING:
            return
        container.terminate()
        deadline = time.monotonic() + max(grace, 0)
        while container.state == ContainerState.RUNNING:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                container.kill()
                break
            waiter = container.changed()
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                container.kill()

    async def remove_container(self, container_id: str) -> None:
        self._check()
        container = self._containers.pop(container_id, None)
        if container is None:
            raise NotFound("container", container_id)
        container.discard()
        sandbox = self._sandboxes.get(container.sandbox_id)
        if sandbox is not None:
            sandbox.containers.pop(container_id, None)

    async def container_status(self, container_id: str) -> ContainerStatus:
        self._check()
        return self._container(container_id).status()

    async def list_containers(
        self, labels: Mapping[str, str] | None = None, sandbox_id: str | None = None
    ) -> list[ContainerStatus]:
        self._check()
        if sandbox_id is not None:
            sandbox = self._sandboxes.get(sandbox_id)
            candidates = list(sandbox.containers.values()) if sandbox else []
        else:
            candidates = list(self._containers.values())
        return [
            container.status()
            for container in candidates
            if runtime_labels.matches(container.config.labels, labels)
        ]

    async def logs(self, container_id: str, options: LogOptions) -> AsyncIterator[LogLine]:
        self._check()
        container = self._container(container_id)
        lines = container.logs
        start = 0
        if options.since is not None:
            since = options.since
            start = next((i for i, line in enumerate(lines) if line.time >= since), len(lines))
        if options.tail is not None:
            start = max(start, len(lines) - options.tail)
        index = start
        while True:
            while index < len(container.logs):
                yield container.logs[index]
                index += 1
            if not options.follow or container.removed:
                return
            if container.state == ContainerState.EXITED:
                return
            await container.changed()

    async def exec(
        self, container_id: str, command: Sequence[str], *, stdin: bool = False, tty: bool = False
    ) -> SimExecSession:
        self._check()
        container = self._running(container_id)
        if stdin and is_cat(command):
            session = SimExecSession.echoing()
        else:
            session = self._exec_session(container, command)
        container.adopt(session)
        return session

    def _exec_session(self, container: SimContainer, command: Sequence[str]) -> SimExecSession:
        lookup = self._lookup(container)
        if not command:
            raise RuntimeFault("exec needs a command")
        if lookup(command[0]) is False:
            return SimExecSession.answering(
                127, stderr=(shell.not_found_message(command[0]) + "\n").encode()
            )
        config = container.config
        env, files = dict(config.env), _files(config)
        commands = shell.program(command, env, lookup, files)
        if commands is None:
            return SimExecSession.answering(self._probe_answer(container))

        def process(write: shell.Write) -> shell.Process:
            return shell.Process(
                commands, write, env=env, workdir=config.working_dir, lookup=lookup, files=files
            )

        return SimExecSession.acting(process)

    async def attach(
        self, container_id: str, *, stdin: bool = False, tty: bool = False
    ) -> SimAttachSession:
        self._check()
        container = self._running(container_id)
        if stdin and not container.config.stdin:
            raise RuntimeFault(
                f"container {container.config.name!r} was not created with stdin open: "
                "attach without stdin"
            )
        session = SimAttachSession(container, stdin)
        container.attaches.add(session)
        return session

    def probe_answer(self, container_id: str, kind: str) -> bool | None:
        """Answer an httpGet or tcpSocket probe (the agent's ``ProbeAnswers``): simulated
        containers have no network to connect to, so they answer as their exec probes
        do (``probe-exit-code``, ``probe-ok-after``). None: no such running container."""
        container = self._containers.get(container_id)
        if container is None:
            return None
        return self._probe_answer(container) == 0

    def _probe_answer(self, container: SimContainer) -> int:
        behaviour = container.behaviour
        started = container.started_at or time.time()
        if (
            behaviour.probe_ok_after is not None
            and time.time() - started < behaviour.probe_ok_after
        ):
            return 1
        return behaviour.probe_exit_code

    async def exec_sync(
        self, container_id: str, command: Sequence[str], timeout: float
    ) -> ExecResult:
        session = await self.exec(container_id, command)
        out, err = bytearray(), bytearray()

        async def collect() -> int:
            async for stream, data in session.output():
                (err if stream == STDERR else out).extend(data)
            return await session.wait()

        try:
            code = await asyncio.wait_for(collect(), timeout)
        except TimeoutError:
            raise TimeoutError(f"exec {list(command)} timed out after {timeout:g} s") from None
        finally:
            await session.close()
        return ExecResult(code, bytes(out), bytes(err))

    # --- lookups -----------------------------------------------------------------------

    def _sandbox(self, sandbox_id: str) -> _Sandbox:
        sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is None:
            raise NotFound("sandbox", sandbox_id)
        return sandbox

    def _container(self, container_id: str) -> SimContainer:
        container = self._containers.get(container_id)
        if container is None:
            raise NotFound("container", container_id)
        return container

    def _running(self, container_id: str) -> SimContainer:
        container = self._container(container_id)
        if container.state != ContainerState.RUNNING:
            raise RuntimeFault(f"container {container_id} is not running")
        return container


def _files(config: ContainerConfig) -> MountedFiles:
    """What the container's ``cat`` and ``>`` reach: the host paths it mounts."""
    return MountedFiles(config.mounts, config.working_dir)
