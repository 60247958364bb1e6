"""DockerRuntime: the runtime contract over the Docker Engine API.

Each method is a few engine calls; what they send is in specs.py, how answers become
statuses in status.py, logs and exec in their own modules. See contract.py for the
rules every method keeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import math
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from loguru import logger

from navarch.runtime import (
    ContainerConfig,
    ContainerStatus,
    CreateError,
    ExecResult,
    ImageRef,
    LogLine,
    LogOptions,
    NotFound,
    RegistryAuth,
    RuntimeVersion,
    SandboxConfig,
    SandboxState,
    SandboxStatus,
    StartError,
)
from navarch.runtime.registries import Registries, load_registries
from navarch_runtime_docker import images, specs, status
from navarch_runtime_docker.attach import DockerAttachSession, attach_container
from navarch_runtime_docker.engine import Engine, EngineError, path_part
from navarch_runtime_docker.exec import DockerExecSession, exec_sync, start_exec
from navarch_runtime_docker.logs import container_logs
from navarch_runtime_docker.options import DEFAULT_SANDBOX_IMAGE, DockerOptions
from navarch_runtime_docker.pause import PauseImage


def _label_filters(kind: str, labels: Mapping[str, str] | None, **extra: str) -> str:
    wanted = {specs.KIND: kind, **(labels or {}), **extra}
    return json.dumps({"label": [f"{key}={value}" for key, value in wanted.items()]})


class DockerRuntime:
    """The contract's Runtime for one Docker daemon."""

    def __init__(self, options: DockerOptions | None = None):
        self.options = options or DockerOptions()
        self.engine = Engine(self.options)
        # Inspections by id, valid while the engine's list shows the same state: the
        # agent lists every second, and inspecting each of 100 containers each time cost
        # 5% of a core in the agent and 8% in dockerd for nothing new.
        self._inspected: dict[str, tuple[str, dict[str, Any]]] = {}
        # Containers this object created: their kind is known, so starting one needs no
        # inspection first (one engine call less in each pod's way to running).
        self._made: set[str] = set()
        self.pause = PauseImage(
            self.engine,
            self.options.sandbox_image,
            build=self.options.sandbox_image == DEFAULT_SANDBOX_IMAGE,
        )
        self._log = logger.bind(runtime="docker", socket=self.options.socket)

    # --- the daemon ------------------------------------------------------------------

    async def version(self) -> RuntimeVersion:
        info = await self.engine.call("GET", "/version")
        return RuntimeVersion(
            name="docker", version=str(info.get("Version", "")), api_version=await self._api()
        )

    async def _api(self) -> str:
        return (await self.engine.api_prefix()).removeprefix("/v")

    async def close(self) -> None:
        await self.engine.close()

    # --- images ------------------------------------------------------------------------

    async def pull_image(self, image: str, auth: RegistryAuth | None = None) -> ImageRef:
        return await images.pull_image(self.engine, image, auth, self._registries)

    @functools.cached_property
    def _registries(self) -> Registries:
        return load_registries(self.options.registries)

    async def load_image(self, archive: Path) -> list[ImageRef]:
        return await images.load_image(self.engine, archive)

    async def image_status(self, image: str) -> ImageRef | None:
        return await images.image_status(self.engine, image)

    async def list_images(self) -> list[ImageRef]:
        return await images.list_images(self.engine)

    async def remove_image(self, image: str) -> None:
        await images.remove_image(self.engine, image)

    # --- objects by id -------------------------------------------------------------

    async def _inspect(self, kind: str, ident: str) -> dict[str, Any]:
        """The engine's view of our sandbox or container ``ident``; NotFound when it is
        not there or is the other kind (a container id given as a sandbox)."""
        try:
            info = await self.engine.call("GET", f"/containers/{path_part(ident)}/json")
        except EngineError as err:
            if err.status == 404:
                raise NotFound(kind, ident) from err
            raise
        if (info["Config"].get("Labels") or {}).get(specs.KIND) != kind:
            raise NotFound(kind, ident)
        return info

    async def _list_ids(self, filters: str) -> list[str]:
        return [ident for ident, _ in await self._list_rows(filters)]

    async def _list_rows(self, filters: str) -> list[tuple[str, str]]:
        """(id, state) of every object the filters match; the state includes the name
        (a stopped record changes only that, see specs.py)."""
        rows = await self.engine.call(
            "GET", "/containers/json", params={"all": 1, "filters": filters}
        )
        return [(row["Id"], _row_state(row)) for row in rows]

    async def _inspect_listed(self, kind: str, rows: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """Inspect what the list found, reusing an inspection while the state the list
        shows is the one it was made in (nothing the contract reports changes without a
        change of state)."""
        if len(self._inspected) > MAX_CACHED_INSPECTIONS:
            self._inspected.clear()
        fresh = [ident for ident, state in rows if self._cached(ident, state) is None]
        found = {info["Id"]: info for info in await self._inspect_all(kind, fresh)}
        for ident, info in found.items():
            self._inspected[ident] = (_state_of(info), info)
        out = []
        for ident, state in rows:
            known = found.get(ident) or self._cached(ident, state)
            if known is not None:
                out.append(known)
        return out

    def _cached(self, ident: str, state: str) -> dict[str, Any] | None:
        entry = self._inspected.get(ident)
        return entry[1] if entry is not None and entry[0] == state else None

    async def _inspect_all(self, kind: str, ids: list[str]) -> list[dict[str, Any]]:
        """Inspect each (concurrently); one removed meanwhile is left out."""

        async def one(ident: str) -> dict[str, Any] | None:
            try:
                return await self._inspect(kind, ident)
            except NotFound:
                return None

        found = await asyncio.gather(*(one(ident) for ident in ids))
        return [info for info in found if info is not None]

    async def _force_remove(self, kind: str, ident: str) -> None:
        try:
            await self.engine.call(
                "DELETE", f"/containers/{path_part(ident)}", params={"force": 1, "v": 1}
            )
        except EngineError as err:
            if err.status == 404:
                raise NotFound(kind, ident) from err
            raise

    async def _stop(self, ident: str, grace: float) -> None:
        seconds = max(0, math.ceil(grace))
        try:
            await self.engine.call(
                "POST",
                f"/containers/{path_part(ident)}/stop",
                params={"t": seconds},
                timeout=seconds + self.options.request_timeout_seconds,
            )
        except EngineError as err:
            if err.status == 304:  # already stopped
                return
            if err.status == 404:
                raise NotFound("container", ident) from err
            raise

    # --- pod sandboxes -------------------------------------------------------------

    async def create_sandbox(self, config: SandboxConfig) -> str:
        name, body = specs.sandbox_body(
            config, self.options.sandbox_image, self.options.pod_network
        )
        log = self._log.bind(pod=f"{config.namespace}/{config.name}", uid=config.uid)
        created: dict[str, Any] | None = None
        # (A record is made of the sandbox image too: the engine needs one to create.)
        for _ in range(2):
            await self.pause.ensure()
            try:
                created = await self.engine.call(
                    "POST", "/containers/create", params={"name": name}, body=body
                )
                break
            except EngineError as err:
                if err.status != 404:  # 404: no such image, removed since we saw it
                    raise CreateError(f"sandbox: {err.message}") from err
                self.pause.forget()
                failure = err
        if created is None:
            raise CreateError(f"sandbox: {failure.message}")
        sandbox_id = created["Id"]
        if config.host_network:
            # A record (specs.py): nothing to start.
            log.bind(sandbox=sandbox_id[:12]).info("host-network sandbox recorded")
            return sandbox_id
        try:
            await self.engine.call("POST", f"/containers/{sandbox_id}/start")
        except EngineError as err:
            await self._force_remove(specs.SANDBOX, sandbox_id)
            raise CreateError(f"sandbox: {err.message}") from err
        log.bind(sandbox=sandbox_id[:12]).info("sandbox started")
        return sandbox_id

    async def _members(self, sandbox_id: str) -> list[str]:
        return await self._list_ids(
            _label_filters(specs.CONTAINER, None, **{specs.SANDBOX_ID: sandbox_id})
        )

    async def stop_sandbox(self, sandbox_id: str) -> None:
        info = await self._inspect(specs.SANDBOX, sandbox_id)
        members = await self._members(sandbox_id)
        await asyncio.gather(*(self._stop_quietly(ident) for ident in members))
        if not specs.is_record(info["Config"].get("Labels")):
            await self._stop(sandbox_id, 0)
            return
        name = str(info.get("Name", "")).lstrip("/")
        if name.endswith(specs.STOPPED_SUFFIX):
            return
        self._inspected.pop(sandbox_id, None)
        try:
            await self.engine.call(
                "POST",
                f"/containers/{path_part(sandbox_id)}/rename",
                params={"name": name + specs.STOPPED_SUFFIX},
            )
        except EngineError as err:
            if err.status == 404:
                raise NotFound(specs.SANDBOX, sandbox_id) from err
            # Two stops at once (a shorter grace period arriving mid-stop): the other
            # renamed it first, and the engine refuses the same name again.
            again = await self._inspect(specs.SANDBOX, sandbox_id)
            if not str(again.get("Name", "")).endswith(specs.STOPPED_SUFFIX):
                raise

    async def _stop_quietly(self, ident: str) -> None:
        with contextlib.suppress(NotFound):
            await self._stop(ident, 0)

    async def sandbox_status(self, sandbox_id: str) -> SandboxStatus:
        return status.sandbox_status(await self._inspect(specs.SANDBOX, sandbox_id))

    async def list_sandboxes(self, labels: Mapping[str, str] | None = None) -> list[SandboxStatus]:
        rows = await self._list_rows(_label_filters(specs.SANDBOX, labels))
        infos = await self._inspect_listed(specs.SANDBOX, rows)
        return [status.sandbox_status(i) for i in infos]

    async def remove_sandbox(self, sandbox_id: str) -> None:
        await self._inspect(specs.SANDBOX, sandbox_id)
        for ident in await self._members(sandbox_id):
            with contextlib.suppress(NotFound):
                await self._force_remove(specs.CONTAINER, ident)
        await self._force_remove(specs.SANDBOX, sandbox_id)
        self._log.bind(sandbox=sandbox_id[:12]).info("sandbox removed")

    # --- containers ----------------------------------------------------------------

    async def create_container(
        self, sandbox_id: str, config: ContainerConfig, sandbox: SandboxConfig
    ) -> str:
        held = await self._inspect(specs.SANDBOX, sandbox_id)
        in_record = specs.is_record(held["Config"].get("Labels"))
        if in_record and status.sandbox_status(held).state != SandboxState.READY:
            # A pause sandbox's stopped namespace fails the start; a record says so here.
            raise CreateError(f"sandbox {sandbox_id[:12]} is stopped")
        name, body = specs.container_body(
            sandbox_id, config, sandbox, self.options.log_driver, in_record=in_record
        )
        try:
            created = await self.engine.call(
                "POST", "/containers/create", params={"name": name}, body=body
            )
        except EngineError as err:
            raise CreateError(err.message) from err
        self._log.bind(
            pod=f"{sandbox.namespace}/{sandbox.name}",
            container=config.name,
            attempt=config.attempt,
            id=created["Id"][:12],
        ).info("container created")
        if len(self._made) > MAX_CACHED_INSPECTIONS:
            self._made.clear()
        self._made.add(created["Id"])
        return str(created["Id"])

    async def start_container(self, container_id: str) -> None:
        if container_id not in self._made:
            await self._inspect(specs.CONTAINER, container_id)  # NotFound for a sandbox id
        try:
            await self.engine.call("POST", f"/containers/{path_part(container_id)}/start")
        except EngineError as err:
            # A failed start leaves it "created", the state it was inspected in, but now
            # with State.Error: that inspection is stale.
            self._inspected.pop(container_id, None)
            if err.status == 404:
                raise NotFound("container", container_id) from err
            if err.status == 304:  # already started
                return
            raise StartError(err.message) from err

    async def stop_container(self, container_id: str, grace: float) -> None:
        await self._inspect(specs.CONTAINER, container_id)
        await self._stop(container_id, grace)

    async def remove_container(self, container_id: str) -> None:
        await self._inspect(specs.CONTAINER, container_id)
        await self._force_remove(specs.CONTAINER, container_id)
        self._inspected.pop(container_id, None)
        self._made.discard(container_id)

    async def container_status(self, container_id: str) -> ContainerStatus:
        return status.container_status(await self._inspect(specs.CONTAINER, container_id))

    async def list_containers(
        self, labels: Mapping[str, str] | None = None, sandbox_id: str | None = None
    ) -> list[ContainerStatus]:
        extra = {specs.SANDBOX_ID: sandbox_id} if sandbox_id else {}
        rows = await self._list_rows(_label_filters(specs.CONTAINER, labels, **extra))
        infos = await self._inspect_listed(specs.CONTAINER, rows)
        return [status.container_status(info) for info in infos]

    def logs(self, container_id: str, options: LogOptions) -> AsyncIterator[LogLine]:
        return container_logs(self.engine, container_id, options)

    async def exec(
        self, container_id: str, command: Sequence[str], *, stdin: bool = False, tty: bool = False
    ) -> DockerExecSession:
        return await start_exec(self.engine, container_id, command, stdin=stdin, tty=tty)

    async def exec_sync(
        self, container_id: str, command: Sequence[str], timeout: float
    ) -> ExecResult:
        return await exec_sync(self.engine, container_id, command, timeout)

    async def attach(
        self, container_id: str, *, stdin: bool = False, tty: bool = False
    ) -> DockerAttachSession:
        return await attach_container(self.engine, container_id, stdin=stdin, tty=tty)


MAX_CACHED_INSPECTIONS = 4096


def _state_of(info: dict[str, Any]) -> str:
    """What :func:`_row_state` says of the same object, from its inspection."""
    status = str((info.get("State") or {}).get("Status", ""))
    return f"{status} {info.get('Name', '')}"


def _row_state(row: dict[str, Any]) -> str:
    """The state the engine's list shows (``State``: created, running, exited …) and
    the name (``/name``, as an inspection spells it)."""
    names = row.get("Names") or [""]
    return f"{row.get('State', '')} {names[0]}"
