"""A :class:`ContainerdRuntime`'s containers: create, start, stop, remove, status,
list, logs and attach; a containerd container record and task each, plus a state file
and a CRI-format log written from the task's output FIFOs (logfile.py), and a stdin
FIFO for a container created with stdin (attaching.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import attrs

from navarch.runtime.errors import (
    CreateError,
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
    LogLine,
    LogOptions,
    SandboxConfig,
)
from navarch_runtime_containerd.attaching import ContainerdAttach, open_stdin
from navarch_runtime_containerd.bindmounts import resolve_mounts
from navarch_runtime_containerd.cgroups import oom_kills
from navarch_runtime_containerd.errors import ContainerdError
from navarch_runtime_containerd.events import TOPIC_EXIT, TaskEvent
from navarch_runtime_containerd.logfile import FifoPair, OutputCopier
from navarch_runtime_containerd.logread import LogReader
from navarch_runtime_containerd.ocispec import build_spec
from navarch_runtime_containerd.records import (
    TASK_CREATED,
    TASK_RUNNING,
    TASK_STOPPED,
    TaskProcess,
)
from navarch_runtime_containerd.resolve import resolve_image
from navarch_runtime_containerd.state import RuntimeState, label_filter, labels_match
from navarch_runtime_containerd.users import (
    UserError,
    layer_directories,
    needs_lookup,
    numeric_user,
    resolve_user,
)
from navarch_runtime_containerd.watcher import TaskEventWatcher

LOG_FILE = "container.log"
# How long an exited container's output may take to drain before its task is deleted.
OUTPUT_DRAIN_SECONDS = 2.0
# Up to this many containers' tasks are read one by one; more with one tasks.List.
FEW_TASKS = 4
# How often a followed log looks for new lines while its container runs.
FOLLOW_POLL = 0.1


class ContainerOps(RuntimeState):
    """The runtime contract's container operations."""

    async def create_container(
        self, sandbox_id: str, config: ContainerConfig, sandbox: SandboxConfig
    ) -> str:
        self._watch()
        pod = self._read_sandbox(sandbox_id)
        try:
            image = await resolve_image(self.client, config.image)
        except NotFound:
            raise CreateError(f"image {config.image!r} is not present on this node") from None
        container_id = uuid.uuid4().hex
        image_user = image.config.user
        pid_path = await self._target_pid_namespace(config)
        try:
            config = attrs.evolve(config, mounts=resolve_mounts(config.mounts))
            spec = build_spec(
                config,
                image.config,
                cgroups_path=self._cgroups_path(container_id),
                netns_path=pod["netns_path"] or None,
                hostname=pod["hostname"],
                # a user by name is known once the rootfs is there (below)
                user=None if needs_lookup(image_user) else numeric_user(image_user),
                pid_path=pid_path,
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
                "tty": config.tty,
                "stdin": config.stdin,
                "stdin_once": config.stdin_once,
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
            mounts = await self.client.prepare_snapshot(container_id, image.top_chain_id)
            if needs_lookup(image_user):
                user = resolve_user(image_user, layer_directories(mounts), config.image)
                spec["process"]["user"] = user.spec()
                await self.client.update_container_spec(container_id, spec)
        except (RuntimeFault, UserError) as exc:
            await self._forget(container_id)
            message = exc.message if isinstance(exc, RuntimeFault) else str(exc)
            raise CreateError(f"container {config.name!r}: {message}") from exc
        return container_id

    async def _target_pid_namespace(self, config: ContainerConfig) -> str | None:
        """The pid namespace of the container's target (its running process's), or
        None when it has none."""
        target = config.target_container_id
        if not target:
            return None
        try:
            task = await self.client.get_task(target)
        except NotFound:
            task = None
        if task is None or task.status != TASK_RUNNING or not task.pid:
            raise CreateError(
                f"container {config.name!r}: the target container {target} whose process "
                "namespace it would share is not running"
            )
        return f"/proc/{task.pid}/ns/pid"

    async def start_container(self, container_id: str) -> None:
        state = self._read_container(container_id)
        directory = self._container_dir(container_id)
        mounts = await self.client.snapshot_mounts(container_id)
        fifos = FifoPair(directory, "main")
        stdin_fd = open_stdin(directory, create=True) if state.get("stdin") else None
        if stdin_fd is not None:
            self._stdins[container_id] = stdin_fd
        try:
            await self.client.create_task(
                container_id,
                mounts,
                stdin=str(directory / "main.stdin.fifo") if stdin_fd is not None else "",
                stdout=str(fifos.paths[STDOUT]),
                stderr=str(fifos.paths[STDERR]),
                # on a terminal the shim copies it to stdout alone (stderr ends at once)
                terminal=bool(state.get("tty")),
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
        self._copiers[container_id] = OutputCopier(
            fifos, directory / LOG_FILE, rotation=self.options.rotation()
        )
        state["started_at"] = time.time()
        self._write_container(state)
        await self.client.start_task(container_id)

    async def _reap(self, container_id: str, state: dict[str, Any]) -> dict[str, Any]:
        """When the task has exited: its exit (and whether the kernel killed it for
        memory) into the state file, then the task deleted (its shim ends). The state
        as it is now. Status reads and the exit event both call this; one at a time
        per container (containerd fails a Delete racing another)."""
        self._watch()
        lock = self._reap_locks.setdefault(container_id, asyncio.Lock())
        async with lock:
            try:
                task = await self.client.get_task(container_id)
            except NotFound:
                # no task: never started, or reaped (perhaps just now, by another call)
                with contextlib.suppress(NotFound):
                    return self._read_container(container_id)
                return state
            if task.status != TASK_STOPPED:
                state["task"] = task.status
                if task.status == TASK_RUNNING:
                    self._attach(container_id)
                return state
            state = self._read_container(container_id)  # an OOM event may have written it
            kills = oom_kills(self._cgroups_path(container_id))
            state.update(
                exit_code=task.exit_status,
                finished_at=task.exited_at or time.time(),
                oom_killed=bool(state.get("oom_killed") or kills),
            )
            self._write_container(state)
            # Deleting the task closes the shim's copy of the process's output: first
            # let the last of it through (our reader sees the FIFO's end), bounded,
            # since a process's child may hold its output open for ever.
            copier = self._copiers.get(container_id)
            if copier is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(copier.done.wait(), OUTPUT_DRAIN_SECONDS)
            with contextlib.suppress(NotFound):
                await self.client.delete_task(container_id)
            return state

    # --- task events (watcher.py) -------------------------------------------------------

    def _watch(self) -> None:
        if self._watcher is None:
            self._watcher = TaskEventWatcher(
                self.client,
                on_exit=self._on_exit,
                on_oom=self._on_oom,
                reconcile=self._reap_stopped,
            )
        self._watcher.start()

    async def _on_exit(self, event: TaskEvent) -> None:
        try:
            state = self._read_container(event.container_id)
        except NotFound:
            return  # not one of ours, or removed meanwhile
        if state["exit_code"] is None:
            await self._reap(event.container_id, state)

    async def _on_oom(self, event: TaskEvent) -> None:
        try:
            state = self._read_container(event.container_id)
        except NotFound:
            return
        if not state.get("oom_killed"):
            state["oom_killed"] = True
            self._write_container(state)

    async def _reap_stopped(self) -> None:
        """Exits that happened while no event stream was open."""
        for task in await self.client.list_tasks():
            if task.status == TASK_STOPPED:
                await self._on_exit(TaskEvent(TOPIC_EXIT, task.container_id))

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
        self._copiers[container_id] = OutputCopier(
            fifos, directory / LOG_FILE, rotation=self.options.rotation()
        )
        self._log.bind(container=container_id).info("re-attached to the container's output")

    async def stop_container(self, container_id: str, grace: float) -> None:
        state = self._read_container(container_id)
        try:
            await self._stop_task(container_id, grace)
        except (NotFound, ContainerdError):
            # The process exited and its task was reaped meanwhile (the exit event's
            # handler deletes it: its shim goes, and a kill or wait in flight fails
            # with NotFound or "ttrpc: closed"). Stopped is stopped; anything else
            # is a real failure.
            if await self._task_running(container_id):
                raise
        await self._reap(container_id, state)

    async def _stop_task(self, container_id: str, grace: float) -> None:
        """SIGTERM, SIGKILL after ``grace`` seconds, until the task's process ended."""
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

    async def _task_running(self, container_id: str) -> bool:
        try:
            task = await self.client.get_task(container_id)
        except NotFound:
            return False
        return task.status != TASK_STOPPED

    async def remove_container(self, container_id: str) -> None:
        self._read_container(container_id)
        await self.stop_container(container_id, grace=0)
        await self._forget(container_id)

    async def _forget(self, container_id: str) -> None:
        """Everything of a container but its task: snapshot, record, directory."""
        self._reap_locks.pop(container_id, None)
        stdin_fd = self._stdins.pop(container_id, None)
        if stdin_fd is not None:
            os.close(stdin_fd)
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
            if exit_code != 0 and state.get("oom_killed"):
                reason = "OOMKilled"
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
        self._watch()
        # containerd filters by label (a pod's worker asks for its pod's containers
        # only, so it must not read every container's record and state); a label
        # with an empty value is not kept by containerd: checked below, on the state.
        records = await self.client.list_containers(label_filter(labels))
        tasks = await self._tasks_of([record.id for record in records])
        result = []
        for record in records:
            try:
                state = self._read_container(record.id)
            except NotFound:
                continue  # not one of this runtime's (or being removed)
            if sandbox_id is not None and state["sandbox_id"] != sandbox_id:
                continue
            if not labels_match(state["labels"], labels):
                continue
            task = tasks.get(record.id)
            if task is not None and task.status == TASK_STOPPED:
                state = await self._reap(record.id, state)
            elif task is not None:
                state["task"] = task.status
                if task.status == TASK_RUNNING:
                    self._attach(record.id)
            result.append(self._container_status(state))
        return result

    async def _tasks_of(self, container_ids: list[str]) -> dict[str, TaskProcess]:
        """The tasks of these containers: a few asked for one by one, more with one
        tasks.List (the agent's relist of the whole node, every second)."""
        if len(container_ids) > FEW_TASKS:
            return {task.container_id: task for task in await self.client.list_tasks()}
        tasks = {}
        for container_id in container_ids:
            with contextlib.suppress(NotFound):
                tasks[container_id] = await self.client.get_task(container_id)
        return tasks

    async def attach(
        self, container_id: str, *, stdin: bool = False, tty: bool = False
    ) -> ContainerdAttach:
        state = await self._reap(container_id, self._read_container(container_id))
        copier = self._copiers.get(container_id)
        if state["exit_code"] is not None or state.get("task") != TASK_RUNNING or copier is None:
            raise RuntimeFault(f"container {container_id} is not running")
        stdin_fd = None
        if stdin:
            if not state.get("stdin"):
                raise RuntimeFault(
                    f"container {state['name']!r} was not created with stdin open: "
                    "attach without stdin"
                )
            stdin_fd = self._stdins.get(container_id)
            if stdin_fd is None:  # started before this runtime object: open it again
                stdin_fd = open_stdin(self._container_dir(container_id), create=False)
                if stdin_fd is None:
                    raise RuntimeFault(f"container {container_id} has no stdin FIFO left")
                self._stdins[container_id] = stdin_fd

        async def exit_code() -> int | None:
            with contextlib.suppress(NotFound):
                status = await self.container_status(container_id)
                return status.exit_code
            return None

        return ContainerdAttach(
            self.client,
            container_id,
            copier,
            stdin_fd=stdin_fd,
            stdin_once=bool(state.get("stdin_once")),
            exit_code=exit_code,
            release_stdin=lambda: self._release_stdin(container_id),
        )

    def _release_stdin(self, container_id: str) -> None:
        stdin_fd = self._stdins.pop(container_id, None)
        if stdin_fd is not None:
            os.close(stdin_fd)

    async def logs(self, container_id: str, options: LogOptions) -> AsyncIterator[LogLine]:
        """The output in the order it was read, each line with the time it was read;
        ``follow`` keeps reading until the container's output ends."""
        self._read_container(container_id)
        reader = LogReader(self._container_dir(container_id) / LOG_FILE)
        try:
            async for line in self._read_log(container_id, reader, options):
                yield line
        finally:
            reader.close()

    async def _until_not_running(self, container_id: str) -> None:
        while True:
            try:
                status = await self.container_status(container_id)
            except NotFound:
                return
            if status.state != ContainerState.RUNNING:
                return
            await asyncio.sleep(FOLLOW_POLL)

    async def _read_log(
        self, container_id: str, reader: LogReader, options: LogOptions
    ) -> AsyncIterator[LogLine]:
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
                # The kubelet's rule: following ends once the container has exited, not
                # when its output closed (the exit reaches containerd a moment later).
                await self._until_not_running(container_id)
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(copier.done.wait(), FOLLOW_POLL)  # type: ignore[union-attr]
