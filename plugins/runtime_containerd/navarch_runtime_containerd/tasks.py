"""containerd's tasks: a container's running process (through its shim) and the
processes exec'd into it: create, start, signal, wait, delete, resize, close stdin.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import grpc

from navarch_runtime_containerd import convert
from navarch_runtime_containerd._proto import containerd_subset_pb2 as pb
from navarch_runtime_containerd.connection import ContainerdConnection
from navarch_runtime_containerd.records import (
    TASK_CREATED,
    TASK_PAUSED,
    TASK_RUNNING,
    TASK_STOPPED,
    Mount,
    TaskExit,
    TaskProcess,
)

_TASKS = "/containerd.services.tasks.v1.Tasks/"

# How an Any names an OCI runtime spec / process spec (JSON in its value), as
# containerd's typeurl registry does.
PROCESS_TYPE_URL = "types.containerd.io/opencontainers/runtime-spec/1/Process"

_TASK_STATUSES = {
    pb.TASK_CREATED: TASK_CREATED,
    pb.TASK_RUNNING: TASK_RUNNING,
    pb.TASK_STOPPED: TASK_STOPPED,
    pb.TASK_PAUSED: TASK_PAUSED,
    pb.TASK_PAUSING: "pausing",
}


class TaskCalls(ContainerdConnection):
    """The Tasks service."""

    async def _task(
        self, method: str, request: Any, response_type: Any, container_id: str, exec_id: str
    ) -> Any:
        """Tasks.``method`` about the task's process (or ``exec_id``'s), errors mapped."""
        return await self._unary(
            _TASKS + method, request, response_type, "task", _task_ident(container_id, exec_id)
        )

    async def create_task(
        self,
        container_id: str,
        rootfs: Sequence[Mount],
        *,
        stdin: str = "",
        stdout: str = "",
        stderr: str = "",
        terminal: bool = False,
    ) -> int:
        """Create the container's task (runc create through the shim): the process
        exists, stopped before its program, with ``rootfs`` mounted as its root.
        ``stdout``/``stderr`` are paths the shim opens: a FIFO, or an existing
        regular file it appends to; both or neither ("": discarded). Returns the
        process's pid."""
        _check_output_paths(stdout, stderr)
        request = pb.CreateTaskRequest(
            container_id=container_id,
            rootfs=[convert.pb_mount(mount) for mount in rootfs],
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            terminal=terminal,
        )
        response = await self._unary(
            _TASKS + "Create",
            request,
            pb.CreateTaskResponse,
            kind="task",
            ident=container_id,
            timeout=self.transfer_timeout,
        )
        return int(response.pid)

    async def start_task(self, container_id: str, exec_id: str = "") -> int:
        """Start the task's program (or the exec'd process ``exec_id``); its pid."""
        request = pb.StartRequest(container_id=container_id, exec_id=exec_id)
        response = await self._task("Start", request, pb.StartResponse, container_id, exec_id)
        return int(response.pid)

    async def kill_task(
        self, container_id: str, signal: int, *, exec_id: str = "", all_processes: bool = False
    ) -> None:
        """Send ``signal`` to the task's process (or ``exec_id``'s); ``all_processes``
        signals every process in the container."""
        request = pb.KillRequest(
            container_id=container_id, exec_id=exec_id, signal=signal, all=all_processes
        )
        await self._task("Kill", request, pb.Empty, container_id, exec_id)

    async def get_task(self, container_id: str, exec_id: str = "") -> TaskProcess:
        request = pb.GetTaskRequest(container_id=container_id, exec_id=exec_id)
        response = await self._task("Get", request, pb.GetTaskResponse, container_id, exec_id)
        return _process(response.process, container_id, exec_id)

    async def list_tasks(self) -> list[TaskProcess]:
        """Every task's own process (not the execs) in the namespace."""
        response = await self._unary(
            _TASKS + "List", pb.ListTasksRequest(), pb.ListTasksResponse, kind="task", ident="*"
        )
        return [_process(task) for task in response.tasks]

    async def wait_task(
        self, container_id: str, exec_id: str = "", *, timeout: float | None = None
    ) -> TaskExit:
        """Until the task's process (or ``exec_id``'s) has exited: how it ended. Answers
        at once for one that exited already. Raises TimeoutError after ``timeout``
        seconds (default: the transfer timeout); the process is not touched."""
        ident = _task_ident(container_id, exec_id)
        timeout = timeout or self.transfer_timeout
        try:
            response = await self._call(
                _TASKS + "Wait",
                pb.WaitRequest(container_id=container_id, exec_id=exec_id),
                pb.WaitResponse,
                timeout=timeout,
            )
        except grpc.aio.AioRpcError as exc:
            # The deadline travels to containerd, whose own wait on the shim can end
            # first: then it answers UNKNOWN "context deadline exceeded", not
            # DEADLINE_EXCEEDED. Both mean the same here.
            if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED or (
                exc.code() == grpc.StatusCode.UNKNOWN
                and "deadline exceeded" in (exc.details() or "")
            ):
                raise TimeoutError(f"task {ident} still running after {timeout:g}s") from None
            raise self._error(exc, "tasks.Wait", "task", ident) from None
        return TaskExit(int(response.exit_status), convert.seconds(response.exited_at))

    async def delete_task(self, container_id: str) -> TaskExit:
        """Delete a stopped task (the shim unmounts its rootfs and exits); how its
        process ended. containerd refuses a running task (FAILED_PRECONDITION)."""
        response = await self._unary(
            _TASKS + "Delete",
            pb.DeleteTaskRequest(container_id=container_id),
            pb.DeleteResponse,
            kind="task",
            ident=container_id,
            timeout=self.transfer_timeout,
        )
        return _exit(response)

    async def exec_process(
        self,
        container_id: str,
        exec_id: str,
        process: Mapping[str, Any],
        *,
        stdin: str = "",
        stdout: str = "",
        stderr: str = "",
        terminal: bool = False,
    ) -> None:
        """Add process ``exec_id`` (its OCI ``process`` object: args, env, cwd, user…)
        to a running task; :meth:`start_task` with ``exec_id`` runs it. ``stdout`` and
        ``stderr`` as for :meth:`create_task`."""
        _check_output_paths(stdout, stderr)
        request = pb.ExecProcessRequest(
            container_id=container_id,
            exec_id=exec_id,
            spec=pb.Any(type_url=PROCESS_TYPE_URL, value=convert.json_bytes(process)),
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            terminal=terminal,
        )
        await self._task("Exec", request, pb.Empty, container_id, exec_id)

    async def delete_process(self, container_id: str, exec_id: str) -> TaskExit:
        """Release an exec'd process that has exited; how it ended."""
        request = pb.DeleteProcessRequest(container_id=container_id, exec_id=exec_id)
        response = await self._task(
            "DeleteProcess", request, pb.DeleteResponse, container_id, exec_id
        )
        return _exit(response)

    async def resize_pty(
        self, container_id: str, width: int, height: int, exec_id: str = ""
    ) -> None:
        request = pb.ResizePtyRequest(
            container_id=container_id, exec_id=exec_id, width=width, height=height
        )
        await self._task("ResizePty", request, pb.Empty, container_id, exec_id)

    async def close_stdin(self, container_id: str, exec_id: str = "") -> None:
        """Close the process's stdin (the shim closes its end of the stdin FIFO)."""
        request = pb.CloseIORequest(container_id=container_id, exec_id=exec_id, stdin=True)
        await self._task("CloseIO", request, pb.Empty, container_id, exec_id)


def _check_output_paths(stdout: str, stderr: str) -> None:
    # The shim discards output only when both are empty; with one of them empty it
    # fails at start, opening "" (so fail here, at once, with a reason).
    if bool(stdout) != bool(stderr):
        raise ValueError(
            "give stdout and stderr both (the same path for one file) or neither, "
            f"not stdout={stdout!r} and stderr={stderr!r}"
        )


def _task_ident(container_id: str, exec_id: str) -> str:
    return f"{container_id}/{exec_id}" if exec_id else container_id


def _process(raw: Any, container_id: str = "", exec_id: str = "") -> TaskProcess:
    """containerd 1.6 fills only ``id`` (the container's ID for a task's own process,
    the exec ID for an exec), not ``container_id``: the caller says which it asked."""
    return TaskProcess(
        container_id=container_id or raw.container_id or raw.id,
        exec_id=exec_id,
        pid=int(raw.pid),
        status=_TASK_STATUSES.get(raw.status, "unknown"),
        exit_status=int(raw.exit_status),
        exited_at=convert.seconds(raw.exited_at),
    )


def _exit(raw: Any) -> TaskExit:
    return TaskExit(int(raw.exit_status), convert.seconds(raw.exited_at), int(raw.pid))
