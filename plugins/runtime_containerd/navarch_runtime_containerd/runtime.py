"""``ContainerdRuntime``: Navarch's runtime contract on containerd (in progress, issue
12). What works: version, images (load from an archive, status, list, remove), pod
sandboxes, containers (create, start, stop, remove, status, list, logs) and exec
without a terminal; a restarted runtime re-attaches to running containers' output.
Pull and exec with a terminal are still to come. Registered as ``containerd``
(the runtime conformance suite passes, pull and OOM detection declared absent).

A sandbox is a small JSON state file under ``data_dir/sandboxes`` plus, unless it uses
the host's network, a network namespace pinned under ``data_dir/netns`` (netns.py).
Not a containerd container record: containerd's Containers.Create wants a runtime and
an OCI spec (a record with neither would be a fake container in every list), and the
namespace's bind mount lives on this node's disk anyway, so its record belongs beside
it. The file is written whole (a temporary file renamed over it), so a crash leaves the
old or the new state, never half of one.

A container is a containerd container record (the config's labels verbatim, the OCI
spec, its snapshot) and a directory ``data_dir/containers/<id>``: ``state.json``
(name, sandbox, image, attempt, annotations, times, and the exit once seen) and
``container.log`` in the CRI format (time, stream and line; logfile.py), written by
the runtime from the FIFOs the shim copies the process's output into. A
task that has exited is deleted as soon as its exit is seen (its shim process
goes with it), its exit code and time written to ``state.json`` first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from loguru import logger

from navarch.runtime.errors import (
    CreateError,
    ImagePullError,
    InvalidConfig,
    NotFound,
    RuntimeFault,
    StartError,
)
from navarch.runtime.types import (
    STDERR,
    STDOUT,
    ContainerConfig,
    ContainerState,
    ContainerStatus,
    ExecResult,
    ImageRef,
    LogLine,
    LogOptions,
    RegistryAuth,
    RuntimeVersion,
    SandboxConfig,
    SandboxState,
    SandboxStatus,
)
from navarch_runtime_containerd.client import ContainerdClient
from navarch_runtime_containerd.errors import ContainerdError
from navarch_runtime_containerd.execs import ContainerdExec
from navarch_runtime_containerd.importer import import_image_archive
from navarch_runtime_containerd.logfile import FifoPair, LogReader, OutputCopier
from navarch_runtime_containerd.netns import create_netns, remove_netns
from navarch_runtime_containerd.ocispec import build_spec, exec_process
from navarch_runtime_containerd.options import ContainerdOptions
from navarch_runtime_containerd.records import (
    TASK_CREATED,
    TASK_RUNNING,
    TASK_STOPPED,
    ImageRecord,
)
from navarch_runtime_containerd.resolve import resolve_image

LOG_FILE = "container.log"
# How often a followed log looks for new lines while its container runs.
FOLLOW_POLL = 0.1


def _labels_match(labels: Mapping[str, str], wanted: Mapping[str, str] | None) -> bool:
    return all(labels.get(key) == value for key, value in (wanted or {}).items())


class ContainerdRuntime:
    """The runtime contract over one containerd; ``data_dir`` holds the sandboxes'
    state files and network namespaces."""

    def __init__(self, options: ContainerdOptions, data_dir: str | Path):
        self.options = options
        self.data_dir = Path(data_dir)
        self.client = ContainerdClient(
            options.socket,
            namespace=options.namespace,
            timeout=options.timeout,
            snapshotter=options.snapshotter,
        )
        self._sandboxes = self.data_dir / "sandboxes"
        self._netns = self.data_dir / "netns"
        self._containers = self.data_dir / "containers"
        # the output readers of the containers this runtime started
        self._copiers: dict[str, OutputCopier] = {}
        self._log = logger.bind(runtime="containerd", namespace=options.namespace)

    # --- the daemon -------------------------------------------------------------------

    async def version(self) -> RuntimeVersion:
        info = await self.client.version()
        return RuntimeVersion("containerd", info.version.removeprefix("v"), "v1")

    async def close(self) -> None:
        for copier in self._copiers.values():
            copier.cancel(keep_fifos=True)  # the processes run on: re-attached later
        self._copiers.clear()
        await self.client.close()

    # --- images -----------------------------------------------------------------------

    async def pull_image(self, image: str, auth: RegistryAuth | None = None) -> ImageRef:
        """Not done yet (issue 12): images reach containerd through ``load_image``."""
        raise ImagePullError(
            image,
            "the containerd runtime cannot pull from a registry yet; "
            "load the image from an archive on the node instead",
        )

    async def load_image(self, archive: Path) -> list[ImageRef]:
        await self.client.ensure_namespace()
        return await import_image_archive(self.client, Path(archive))

    async def _records_by_id(self) -> dict[str, list[ImageRecord]]:
        """Every image record, grouped by image id (its config digest)."""
        groups: dict[str, list[ImageRecord]] = {}
        for record in await self.client.list_images():
            try:
                resolved = await resolve_image(self.client, record.name)
            except NotFound:
                continue  # its content is gone (collected): not an image we hold
            groups.setdefault(resolved.config_digest, []).append(record)
        return groups

    @staticmethod
    def _ref(image_id: str, records: list[ImageRecord]) -> ImageRef:
        return ImageRef(id=image_id, tags=tuple(sorted(record.name for record in records)))

    async def image_status(self, image: str) -> ImageRef | None:
        for image_id, records in (await self._records_by_id()).items():
            if image == image_id or any(record.name == image for record in records):
                return self._ref(image_id, records)
        return None

    async def list_images(self) -> list[ImageRef]:
        return [
            self._ref(image_id, records)
            for image_id, records in (await self._records_by_id()).items()
        ]

    async def remove_image(self, image: str) -> None:
        """Remove the name ``image``, or every name of the image whose id it is;
        containerd collects the content once no name holds it."""
        groups = await self._records_by_id()
        names = [
            record.name
            for image_id, records in groups.items()
            for record in records
            if image in (image_id, record.name)
        ]
        if not names:
            raise NotFound("image", image)
        for name in names:
            await self.client.delete_image(name)

    # --- pod sandboxes ----------------------------------------------------------------

    def _state_path(self, sandbox_id: str) -> Path:
        return self._sandboxes / f"{sandbox_id}.json"

    def _read_sandbox(self, sandbox_id: str) -> dict[str, Any]:
        try:
            return dict(json.loads(self._state_path(sandbox_id).read_text()))
        except FileNotFoundError:
            raise NotFound("sandbox", sandbox_id) from None

    def _write_sandbox(self, state: Mapping[str, Any]) -> None:
        _write_json(self._state_path(state["id"]), state)

    @staticmethod
    def _status(state: Mapping[str, Any]) -> SandboxStatus:
        return SandboxStatus(
            id=state["id"],
            state=SandboxState(state["state"]),
            labels=state["labels"],
            annotations=state["annotations"],
            created_at=state["created_at"],
            host_network=state["host_network"],
            netns_path=state["netns_path"],
        )

    async def create_sandbox(self, config: SandboxConfig) -> str:
        sandbox_id = uuid.uuid4().hex
        self._sandboxes.mkdir(parents=True, exist_ok=True)
        netns_path = ""
        if not config.host_network:
            self._netns.mkdir(parents=True, exist_ok=True)
            path = self._netns / sandbox_id
            try:
                await asyncio.to_thread(create_netns, path)
            except OSError as exc:
                raise RuntimeFault(
                    f"pod {config.namespace}/{config.name}: no network namespace: {exc}"
                ) from exc
            netns_path = str(path)
        self._write_sandbox(
            {
                "id": sandbox_id,
                "state": SandboxState.READY.value,
                "name": config.name,
                "namespace": config.namespace,
                "uid": config.uid,
                "attempt": config.attempt,
                "hostname": config.hostname or config.name,
                "labels": dict(config.labels),
                "annotations": dict(config.annotations),
                "created_at": time.time(),
                "host_network": config.host_network,
                "netns_path": netns_path,
            }
        )
        self._log.bind(sandbox=sandbox_id, pod=f"{config.namespace}/{config.name}").info(
            "sandbox created"
        )
        return sandbox_id

    async def stop_sandbox(self, sandbox_id: str) -> None:
        """Kill its containers, mark it not ready. The namespace stays until removal:
        a stopped pod's containers may still be inspected (the agent removes it soon)."""
        state = self._read_sandbox(sandbox_id)
        for container in await self.list_containers(sandbox_id=sandbox_id):
            with contextlib.suppress(NotFound):
                await self.stop_container(container.id, grace=0)
        state["state"] = SandboxState.NOT_READY.value
        self._write_sandbox(state)

    async def sandbox_status(self, sandbox_id: str) -> SandboxStatus:
        return self._status(self._read_sandbox(sandbox_id))

    async def list_sandboxes(self, labels: Mapping[str, str] | None = None) -> list[SandboxStatus]:
        result = []
        for path in sorted(self._sandboxes.glob("*.json")):
            try:
                status = self._status(self._read_sandbox(path.stem))
            except NotFound:
                continue  # removed while listing
            if _labels_match(status.labels, labels):
                result.append(status)
        return result

    async def remove_sandbox(self, sandbox_id: str) -> None:
        state = self._read_sandbox(sandbox_id)
        for container in await self.list_containers(sandbox_id=sandbox_id):
            with contextlib.suppress(NotFound):
                await self.remove_container(container.id)
        if state["netns_path"]:
            await asyncio.to_thread(remove_netns, Path(state["netns_path"]))
        self._state_path(sandbox_id).unlink(missing_ok=True)
        self._log.bind(sandbox=sandbox_id).info("sandbox removed")

    # --- containers -------------------------------------------------------------------

    def _container_dir(self, container_id: str) -> Path:
        return self._containers / container_id

    def _read_container(self, container_id: str) -> dict[str, Any]:
        try:
            text = (self._container_dir(container_id) / "state.json").read_text()
        except FileNotFoundError:
            raise NotFound("container", container_id) from None
        return dict(json.loads(text))

    def _write_container(self, state: Mapping[str, Any]) -> None:
        _write_json(self._container_dir(state["id"]) / "state.json", state)

    async def create_container(
        self, sandbox_id: str, config: ContainerConfig, sandbox: SandboxConfig
    ) -> str:
        pod = self._read_sandbox(sandbox_id)
        try:
            image = await resolve_image(self.client, config.image)
        except NotFound:
            raise CreateError(f"image {config.image!r} is not present on this node") from None
        container_id = uuid.uuid4().hex
        try:
            spec = build_spec(
                config,
                image.config,
                cgroups_path=f"/{self.options.namespace}/{container_id}",
                netns_path=pod["netns_path"] or None,
                hostname=pod["hostname"],
            )
        except ValueError as exc:
            raise CreateError(str(exc)) from None
        directory = self._container_dir(container_id)
        directory.mkdir(parents=True)
        (directory / LOG_FILE).touch()
        self._write_container(
            {
                "id": container_id,
                "name": config.name,
                "sandbox_id": sandbox_id,
                "image": config.image,
                "image_id": image.config_digest,
                "attempt": config.attempt,
                # kept here verbatim: containerd drops a label whose value is ""
                "labels": dict(config.labels),
                "annotations": dict(config.annotations),
                "created_at": time.time(),
                "started_at": None,
                "finished_at": None,
                "exit_code": None,
                "message": "",
            }
        )
        try:
            # the record first: it names the snapshot and so keeps it from the collector
            await self.client.create_container(
                container_id,
                spec,
                image=config.image,
                snapshot_key=container_id,
                labels=dict(config.labels),
            )
            await self.client.prepare_snapshot(container_id, image.top_chain_id)
        except RuntimeFault as exc:
            await self._forget(container_id)
            raise CreateError(f"container {config.name!r}: {exc.message}") from exc
        return container_id

    async def start_container(self, container_id: str) -> None:
        state = self._read_container(container_id)
        directory = self._container_dir(container_id)
        mounts = await self.client.snapshot_mounts(container_id)
        fifos = FifoPair(directory, "main")
        try:
            await self.client.create_task(
                container_id,
                mounts,
                stdout=str(fifos.paths[STDOUT]),
                stderr=str(fifos.paths[STDERR]),
            )
        except ContainerdError as exc:
            fifos.close()
            # runc refused the process (a missing program…): the container has exited
            state.update(finished_at=time.time(), exit_code=128, message=exc.message)
            self._write_container(state)
            raise StartError(exc.message) from exc
        except BaseException:
            fifos.close()
            raise
        fifos.opened_by_writer()
        self._copiers[container_id] = OutputCopier(fifos, directory / LOG_FILE)
        state["started_at"] = time.time()
        self._write_container(state)
        await self.client.start_task(container_id)

    async def _reap(self, container_id: str, state: dict[str, Any]) -> dict[str, Any]:
        """When the task has exited: its exit into the state file, then the task
        deleted (its shim ends). The state as it is now."""
        try:
            task = await self.client.get_task(container_id)
        except NotFound:
            return state
        if task.status != TASK_STOPPED:
            state["task"] = task.status
            if task.status == TASK_RUNNING:
                self._attach(container_id)
            return state
        state.update(
            exit_code=task.exit_status,
            finished_at=task.exited_at or time.time(),
        )
        self._write_container(state)
        with contextlib.suppress(NotFound):
            await self.client.delete_task(container_id)
        return state

    def _attach(self, container_id: str) -> None:
        """Read the output of a running container this runtime object did not start
        (one started before a restart): its FIFOs are still there, the shim writing."""
        if container_id in self._copiers:
            return
        directory = self._container_dir(container_id)
        try:
            fifos = FifoPair(directory, "main", reopen=True)
        except FileNotFoundError:
            return
        self._copiers[container_id] = OutputCopier(fifos, directory / LOG_FILE)
        self._log.bind(container=container_id).info("re-attached to the container's output")

    async def stop_container(self, container_id: str, grace: float) -> None:
        state = self._read_container(container_id)
        try:
            task = await self.client.get_task(container_id)
        except NotFound:
            return  # never started, or already reaped
        if task.status == TASK_RUNNING:
            with contextlib.suppress(NotFound):
                await self.client.kill_task(container_id, signal.SIGTERM)
            try:
                await self.client.wait_task(container_id, timeout=max(grace, 0.01))
            except TimeoutError:
                with contextlib.suppress(NotFound):
                    await self.client.kill_task(container_id, signal.SIGKILL, all_processes=True)
                await self.client.wait_task(container_id)
        elif task.status == TASK_CREATED:
            with contextlib.suppress(NotFound):
                await self.client.kill_task(container_id, signal.SIGKILL)
            await self.client.wait_task(container_id)
        await self._reap(container_id, state)

    async def remove_container(self, container_id: str) -> None:
        self._read_container(container_id)
        await self.stop_container(container_id, grace=0)
        await self._forget(container_id)

    async def _forget(self, container_id: str) -> None:
        """Everything of a container but its task: snapshot, record, directory."""
        copier = self._copiers.pop(container_id, None)
        if copier is not None:
            copier.cancel()
        with contextlib.suppress(NotFound):
            await self.client.remove_snapshot(container_id)
        with contextlib.suppress(NotFound):
            await self.client.delete_container(container_id)
        await asyncio.to_thread(shutil.rmtree, self._container_dir(container_id), True)

    def _container_status(self, state: Mapping[str, Any]) -> ContainerStatus:
        exit_code = state["exit_code"]
        if exit_code is not None:
            container_state = ContainerState.EXITED
            reason = "Completed" if exit_code == 0 else "Error"
        elif state.get("task") == TASK_RUNNING:
            container_state, reason = ContainerState.RUNNING, ""
        else:
            container_state, reason = ContainerState.CREATED, ""
        return ContainerStatus(
            id=state["id"],
            name=state["name"],
            sandbox_id=state["sandbox_id"],
            image=state["image"],
            image_id=state["image_id"],
            state=container_state,
            labels=state["labels"],
            annotations=state["annotations"],
            attempt=state["attempt"],
            created_at=state["created_at"],
            started_at=state["started_at"],
            finished_at=state["finished_at"],
            exit_code=exit_code,
            reason=reason,
            message=state["message"],
        )

    async def container_status(self, container_id: str) -> ContainerStatus:
        state = await self._reap(container_id, self._read_container(container_id))
        return self._container_status(state)

    async def list_containers(
        self, labels: Mapping[str, str] | None = None, sandbox_id: str | None = None
    ) -> list[ContainerStatus]:
        result = []
        for record in await self.client.list_containers():
            try:
                state = self._read_container(record.id)
            except NotFound:
                continue  # not one of this runtime's (or being removed)
            if sandbox_id is not None and state["sandbox_id"] != sandbox_id:
                continue
            if not _labels_match(state["labels"], labels):
                continue
            state = await self._reap(record.id, state)
            result.append(self._container_status(state))
        return result

    async def logs(self, container_id: str, options: LogOptions) -> AsyncIterator[LogLine]:
        """The output in the order it was read, each line with the time it was read;
        ``follow`` keeps reading until the container's output ends."""
        self._read_container(container_id)
        reader = LogReader(self._container_dir(container_id) / LOG_FILE)
        lines = reader.read()
        if not options.follow:
            lines += reader.rest()
        if options.since is not None:
            lines = [line for line in lines if line.time >= options.since]
        if options.tail is not None:
            lines = lines[-options.tail :] if options.tail else []
        for line in lines:
            yield line
        if not options.follow:
            return
        while True:
            copier = self._copiers.get(container_id)
            ended = copier is None or copier.done.is_set()
            for line in reader.read() + (reader.rest() if ended else []):
                yield line
            if ended:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(copier.done.wait(), FOLLOW_POLL)  # type: ignore[union-attr]

    # --- exec -------------------------------------------------------------------------

    async def exec(
        self, container_id: str, command: Sequence[str], *, stdin: bool = False, tty: bool = False
    ) -> ContainerdExec:
        if tty:
            raise InvalidConfig("the containerd runtime does not give an exec a terminal yet")
        self._read_container(container_id)
        record = await self.client.get_container(container_id)
        process = exec_process(record.spec, command)
        session = ContainerdExec(self.client, container_id, f"exec-{uuid.uuid4().hex[:16]}")
        try:
            return await session.start(self._container_dir(container_id), process, stdin=stdin)
        except ContainerdError as exc:
            raise RuntimeFault(f"exec {list(command)} failed: {exc.message}") from exc

    async def exec_sync(
        self, container_id: str, command: Sequence[str], timeout: float
    ) -> ExecResult:
        session = await self.exec(container_id, command)
        output: dict[str, bytearray] = {STDOUT: bytearray(), STDERR: bytearray()}

        async def run() -> int:
            async for stream, data in session.output():
                output[stream] += data
            return await session.wait()

        try:
            exit_code = await asyncio.wait_for(run(), timeout)
        except TimeoutError:
            await session.close()  # kills it
            raise TimeoutError(
                f"{list(command)} still running after {timeout:g}s (killed)"
            ) from None
        return ExecResult(exit_code, bytes(output[STDOUT]), bytes(output[STDERR]))


def _write_json(path: Path, document: Mapping[str, Any]) -> None:
    """Write ``document`` whole: a temporary file renamed over ``path``."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    temporary.write_text(json.dumps(document, sort_keys=True))
    os.replace(temporary, path)
