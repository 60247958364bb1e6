"""``CriRuntime``: Navarch's runtime contract over any CRI v1 runtime, registered as
``cri``: containerd with its CRI plugin, CRI-O, or any other runtime Kubernetes
supports, at ``runtime.options.endpoint``.

Each contract call is one or a few CRI calls: a sandbox is RunPodSandbox's, a
container CreateContainer's; statuses and lists come from the runtime (nothing is
kept here but the logs' directory, which CRI leaves to its client). The runtime
writes each container's output to the log path the plugin gives it
(``data_dir/pods/NS_NAME_UID/CONTAINER/ATTEMPT.log``, as the kubelet's
/var/log/pods), in the CRI log format that logs.py reads; removing a container or
sandbox removes its logs too, as the kubelet does.

Where CRI's rules differ from the contract's, this module makes up the difference:
CRI's removals of something gone succeed (the contract: NotFound), CRI's lists carry
no exit codes (statuses are read for each), and its status names an image by any of
its tags (the configured name travels in an annotation, convert.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs
import grpc
from loguru import logger

from navarch.runtime import labels as runtime_labels
from navarch.runtime.errors import (
    CreateError,
    NotFound,
    RuntimeFault,
    StartError,
    Unavailable,
)
from navarch.runtime.types import (
    ContainerConfig,
    ContainerStatus,
    ExecResult,
    LogLine,
    LogOptions,
    RuntimeVersion,
    SandboxConfig,
    SandboxStatus,
)
from navarch_runtime_cri._proto import cri_subset_pb2 as pb
from navarch_runtime_cri.connection import RUNTIME_SERVICE, CriConnection
from navarch_runtime_cri.convert import (
    TTY_ANNOTATION,
    container_config,
    container_status,
    netns_path,
    sandbox_config,
    sandbox_log_directory,
    sandbox_status,
)
from navarch_runtime_cri.errors import refusal_message
from navarch_runtime_cri.images import ImageOps
from navarch_runtime_cri.logs import read_log
from navarch_runtime_cri.options import CriOptions
from navarch_runtime_cri.streaming import CriExec

# Statuses read at once for a list (CRI's lists carry no exit codes nor times).
_STATUS_READS = 16
_KNOWN_DIGESTS = 1024  # image ids kept by repository digest (a node's images, and more)
_Item = TypeVar("_Item")
_Status = TypeVar("_Status")


class CriRuntime(ImageOps):
    """The runtime contract over the CRI runtime at ``options.endpoint``; ``data_dir``
    holds the containers' logs."""

    def __init__(self, options: CriOptions, data_dir: Path):
        self.options = options
        self.data_dir = Path(data_dir)
        self.log_root = self.data_dir / "pods"
        self.conn = CriConnection(options.endpoint, timeout=options.timeout)
        self._netns: dict[str, str] = {}  # sandbox id -> its network namespace's path
        self._image_ids: dict[str, str] = {}  # repository digest -> image id
        self._log = logger.bind(cri=options.endpoint)

    def _call(
        self, method: str, request: Any, response_type: Any, kind: str = "", ident: str = ""
    ) -> Awaitable[Any]:
        return self.conn.call(RUNTIME_SERVICE + method, request, response_type, kind, ident)

    # --- the daemon -------------------------------------------------------------------

    async def version(self) -> RuntimeVersion:
        """Version's runtime name and version; Unavailable also when the runtime
        answers but says it is not ready (Status' RuntimeReady condition)."""
        reply = await self._call("Version", pb.VersionRequest(version="v1"), pb.VersionResponse)
        status = await self._call("Status", pb.StatusRequest(), pb.StatusResponse)
        for condition in status.status.conditions:
            if condition.type == "RuntimeReady" and not condition.status:
                raise Unavailable(
                    f"the CRI runtime at {self.options.endpoint} is not ready: "
                    f"{condition.reason} {condition.message}".strip()
                )
        return RuntimeVersion(reply.runtime_name, reply.runtime_version, reply.runtime_api_version)

    async def close(self) -> None:
        await self.conn.close()

    # --- sandboxes --------------------------------------------------------------------

    async def create_sandbox(self, config: SandboxConfig) -> str:
        request = pb.RunPodSandboxRequest(
            config=sandbox_config(config, self.log_root),
            runtime_handler=self.options.runtime_handler,
        )
        await asyncio.to_thread(
            Path(request.config.log_directory).mkdir, parents=True, exist_ok=True
        )
        try:
            reply = await self.conn.raw(
                RUNTIME_SERVICE + "RunPodSandbox",
                request,
                pb.RunPodSandboxResponse,
                # the runtime sets up the pod's network and starts its pause process
                timeout=max(self.options.timeout, 120.0),
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.UNAVAILABLE,):
                raise self.conn.error(exc, "RunPodSandbox", "sandbox", config.name) from None
            raise CreateError(
                f"the CRI runtime could not run the pod sandbox of {config.namespace}/"
                f"{config.name}: {refusal_message(exc)}"
            ) from None
        self._log.bind(sandbox=reply.pod_sandbox_id, pod=f"{config.namespace}/{config.name}").debug(
            "sandbox running"
        )
        return str(reply.pod_sandbox_id)

    async def stop_sandbox(self, sandbox_id: str) -> None:
        await self._call(
            "StopPodSandbox",
            pb.StopPodSandboxRequest(pod_sandbox_id=sandbox_id),
            pb.StopPodSandboxResponse,
            "sandbox",
            sandbox_id,
        )

    async def _sandbox_reply(self, sandbox_id: str, verbose: bool) -> pb.PodSandboxStatusResponse:
        reply = await self._call(
            "PodSandboxStatus",
            pb.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id, verbose=verbose),
            pb.PodSandboxStatusResponse,
            "sandbox",
            sandbox_id,
        )
        if not reply.status.id:
            raise NotFound("sandbox", sandbox_id)
        return reply

    async def sandbox_status(self, sandbox_id: str) -> SandboxStatus:
        """PodSandboxStatus; verbose (the runtime's JSON, with the network namespace's
        path) only the first time: a ready sandbox keeps its namespace, and the agent
        reads every sandbox's status at each relist. A stopped one has none."""
        netns = self._netns.get(sandbox_id)
        reply = await self._sandbox_reply(sandbox_id, verbose=netns is None)
        if reply.status.state != pb.SANDBOX_READY:
            return sandbox_status(reply.status)  # stopped: its network is torn down
        if netns is None:
            netns = self._netns[sandbox_id] = netns_path(reply.info)
        return sandbox_status(reply.status, netns)

    async def list_sandboxes(self, labels: Mapping[str, str] | None = None) -> list[SandboxStatus]:
        request = pb.ListPodSandboxRequest(
            filter=pb.PodSandboxFilter(label_selector=dict(labels or {}))
        )
        reply = await self._call("ListPodSandbox", request, pb.ListPodSandboxResponse)
        ids = [item.id for item in reply.items if runtime_labels.matches(item.labels, labels)]
        return await self._each(ids, self.sandbox_status)

    async def remove_sandbox(self, sandbox_id: str) -> None:
        """Stop and remove the sandbox (the runtime removes its containers), then
        the logs of its containers."""
        reply = await self._sandbox_reply(sandbox_id, verbose=False)
        containers = await self._list(pb.ContainerFilter(pod_sandbox_id=sandbox_id))
        log_paths = [await self._log_path(item.id) for item in containers]
        await self.stop_sandbox(sandbox_id)
        await self._call(
            "RemovePodSandbox",
            pb.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id),
            pb.RemovePodSandboxResponse,
            "sandbox",
            sandbox_id,
        )
        self._netns.pop(sandbox_id, None)
        metadata = reply.status.metadata
        directory = sandbox_log_directory(
            self.log_root, metadata.namespace, metadata.name, metadata.uid
        )
        await asyncio.to_thread(_remove_logs, [p for p in log_paths if p], directory)

    # --- containers -------------------------------------------------------------------

    async def create_container(
        self, sandbox_id: str, config: ContainerConfig, sandbox: SandboxConfig
    ) -> str:
        for mount in config.mounts:
            # CRI says a runtime reports a missing host path, but containerd's CRI
            # plugin creates it as a directory: the contract binds, never creates, so
            # refuse here (the endpoint is a local socket: its host is this one).
            if not await asyncio.to_thread(os.path.lexists, mount.host_path):
                raise CreateError(
                    f"container {config.name!r}: the host path {mount.host_path!r} of mount "
                    f"{mount.container_path!r} does not exist"
                )
        request = pb.CreateContainerRequest(
            pod_sandbox_id=sandbox_id,
            config=container_config(config, sandbox),
            sandbox_config=sandbox_config(sandbox, self.log_root),
        )
        log_file = Path(request.sandbox_config.log_directory) / request.config.log_path
        await asyncio.to_thread(log_file.parent.mkdir, parents=True, exist_ok=True)
        try:
            reply = await self.conn.raw(
                RUNTIME_SERVICE + "CreateContainer", request, pb.CreateContainerResponse
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.UNAVAILABLE,):
                raise self.conn.error(exc, "CreateContainer", "container", config.name) from None
            raise CreateError(
                f"the CRI runtime could not create container {config.name!r}: "
                f"{refusal_message(exc)}"
            ) from None
        return str(reply.container_id)

    async def start_container(self, container_id: str) -> None:
        try:
            await self.conn.raw(
                RUNTIME_SERVICE + "StartContainer",
                pb.StartContainerRequest(container_id=container_id),
                pb.StartContainerResponse,
                timeout=max(self.options.timeout, 60.0),
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.NOT_FOUND):
                raise self.conn.error(exc, "StartContainer", "container", container_id) from None
            raise StartError(refusal_message(exc)) from None

    async def stop_container(self, container_id: str, grace: float) -> None:
        seconds = max(0, math.ceil(grace))
        await self.conn.call(
            RUNTIME_SERVICE + "StopContainer",
            pb.StopContainerRequest(container_id=container_id, timeout=seconds),
            pb.StopContainerResponse,
            "container",
            container_id,
            # the runtime waits out the grace, then kills and waits for the exit
            timeout=seconds + max(self.options.timeout, 30.0),
        )

    async def remove_container(self, container_id: str) -> None:
        log_path = await self._log_path(container_id, missing_is_error=True)
        await self._call(
            "RemoveContainer",
            pb.RemoveContainerRequest(container_id=container_id),
            pb.RemoveContainerResponse,
            "container",
            container_id,
        )
        if log_path:
            await asyncio.to_thread(_remove_logs, [log_path], None)

    async def _status_reply(self, container_id: str) -> pb.ContainerStatus:
        reply = await self._call(
            "ContainerStatus",
            pb.ContainerStatusRequest(container_id=container_id),
            pb.ContainerStatusResponse,
            "container",
            container_id,
        )
        if not reply.status.id:
            raise NotFound("container", container_id)
        return reply.status

    async def _log_path(self, container_id: str, missing_is_error: bool = False) -> str:
        try:
            return str((await self._status_reply(container_id)).log_path)
        except NotFound:
            if missing_is_error:
                raise
            return ""

    async def _list(self, filter: pb.ContainerFilter) -> list[pb.Container]:
        reply = await self._call(
            "ListContainers", pb.ListContainersRequest(filter=filter), pb.ListContainersResponse
        )
        return list(reply.containers)

    async def container_status(self, container_id: str) -> ContainerStatus:
        listed = await self._list(pb.ContainerFilter(id=container_id))
        if not listed:
            raise NotFound("container", container_id)
        return await self._status_of(listed[0])

    async def _status_of(self, item: pb.Container) -> ContainerStatus:
        status = await self._status_reply(item.id)
        image_id = await self._image_id(status.image_ref or item.image_ref)
        # CRI's status does not name the sandbox; its list entry does
        return attrs.evolve(container_status(status, image_id), sandbox_id=item.pod_sandbox_id)

    async def _image_id(self, image_ref: str) -> str:
        """The image id (``sha256:…``, its config digest) for CRI's image_ref, which
        is the id or a repository digest."""
        if image_ref.startswith("sha256:") or not image_ref:
            return image_ref
        known = self._image_ids.get(image_ref)
        if known is not None:
            return known
        try:
            ref = await self.image_status(image_ref)
        except NotFound:
            return ""
        if ref is None:
            return ""
        if "@sha256:" in image_ref:  # a digest names one image for good
            if len(self._image_ids) >= _KNOWN_DIGESTS:
                self._image_ids.clear()
            self._image_ids[image_ref] = ref.id
        return ref.id

    async def list_containers(
        self, labels: Mapping[str, str] | None = None, sandbox_id: str | None = None
    ) -> list[ContainerStatus]:
        listed = await self._list(
            pb.ContainerFilter(pod_sandbox_id=sandbox_id or "", label_selector=dict(labels or {}))
        )
        wanted = [item for item in listed if runtime_labels.matches(item.labels, labels)]
        return await self._each(wanted, self._status_of)

    async def _each(
        self, items: Sequence[_Item], read: Callable[[_Item], Awaitable[_Status]]
    ) -> list[_Status]:
        """``read`` of every item, a few at once; items gone meanwhile left out."""
        gate = asyncio.Semaphore(_STATUS_READS)

        async def one(item: _Item) -> _Status | None:
            async with gate:
                try:
                    return await read(item)
                except NotFound:
                    return None

        results = await asyncio.gather(*(one(item) for item in items))
        return [result for result in results if result is not None]

    # --- logs -------------------------------------------------------------------------

    async def logs(self, container_id: str, options: LogOptions) -> AsyncIterator[LogLine]:
        status = await self._status_reply(container_id)
        path = Path(status.log_path)

        async def running() -> bool:
            try:
                state = (await self._status_reply(container_id)).state
            except NotFound:
                return False
            return state in (pb.CONTAINER_RUNNING, pb.CONTAINER_CREATED)

        terminal = status.annotations.get(TTY_ANNOTATION) == "true"
        async for line in read_log(path, options, running, terminal=terminal):
            yield line

    async def reopen_container_log(self, container_id: str) -> None:
        """Have the runtime reopen the container's log file (after it was renamed away:
        rotation, as the kubelet does it)."""
        await self._call(
            "ReopenContainerLog",
            pb.ReopenContainerLogRequest(container_id=container_id),
            pb.ReopenContainerLogResponse,
            "container",
            container_id,
        )

    # --- exec -------------------------------------------------------------------------

    async def exec(
        self, container_id: str, command: Sequence[str], *, stdin: bool = False, tty: bool = False
    ) -> CriExec:
        reply = await self._call(
            "Exec",
            pb.ExecRequest(
                container_id=container_id,
                cmd=list(command),
                tty=tty,
                stdin=stdin,
                stdout=True,
                stderr=not tty,
            ),
            pb.ExecResponse,
            "container",
            container_id,
        )
        return await CriExec(reply.url, stdin=stdin, tty=tty).connect()

    async def attach(self, container_id: str, *, stdin: bool = False, tty: bool = False) -> CriExec:
        """Not yet: CRI's Attach rpc (a streaming URL, as Exec) is not in this plugin's
        protocol subset."""
        raise RuntimeFault(
            "attach is not supported by the cri runtime plugin yet (CRI's Attach rpc is "
            "not implemented): read the container's output with kubectl logs -f, or run "
            "the node on the containerd or sim runtime"
        )

    async def exec_sync(
        self, container_id: str, command: Sequence[str], timeout: float
    ) -> ExecResult:
        """ExecSync; CRI's timeout is whole seconds (rounded up), and the runtime kills
        the process when it runs out."""
        seconds = max(1, math.ceil(timeout))
        try:
            reply = await self.conn.raw(
                RUNTIME_SERVICE + "ExecSync",
                pb.ExecSyncRequest(container_id=container_id, cmd=list(command), timeout=seconds),
                pb.ExecSyncResponse,
                timeout=seconds + max(self.options.timeout, 10.0),
            )
        except grpc.aio.AioRpcError as exc:
            details = refusal_message(exc)
            if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED or "timeout" in details:
                raise TimeoutError(
                    f"{list(command)} still running after {timeout:g}s (killed): {details}"
                ) from None
            if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.NOT_FOUND):
                raise self.conn.error(exc, "ExecSync", "container", container_id) from None
            raise RuntimeFault(f"exec {list(command)} failed: {details}") from None
        return ExecResult(reply.exit_code, reply.stdout, reply.stderr)


def _remove_logs(paths: list[str], directory: Path | None) -> None:
    """Remove log files (and their rotated siblings ``NAME.*``), their emptied
    directories, and the sandbox's log ``directory`` whole."""
    for name in paths:
        path = Path(name)
        for file in [path, *path.parent.glob(path.name + ".*")]:
            file.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # other attempts' logs are still there
            path.parent.rmdir()
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)
