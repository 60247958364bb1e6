"""An asyncio client for containerd's gRPC API over its unix socket (grpc.aio).

Every call carries the client's namespace in the ``containerd-namespace`` header (all
of containerd's objects live in a namespace; Navarch keeps its own apart from
Docker's ``moby`` and Kubernetes' ``k8s.io``) and, when given one, a lease in the
``containerd-lease`` header: what is written under a lease survives garbage collection
until the lease is deleted, and is collected afterwards unless something (an image
record, a label) references it. Every call has a deadline; failures become Navarch's
runtime errors (errors.py).

No service code is generated: each method is called by its full path with the
message classes of ``containerd_subset.proto``.

    async with ContainerdClient("/run/containerd/containerd.sock") as client:
        info = await client.version()
"""

from __future__ import annotations

import contextlib
import datetime
import json
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import grpc
from loguru import logger

from navarch.runtime.errors import NotFound, RuntimeFault
from navarch_runtime_containerd._proto import containerd_subset_pb2 as pb
from navarch_runtime_containerd.errors import AlreadyExists, ContainerdError, map_error
from navarch_runtime_containerd.records import (
    TASK_CREATED,
    TASK_PAUSED,
    TASK_RUNNING,
    TASK_STOPPED,
    ContainerRecord,
    ContentInfo,
    Descriptor,
    ImageRecord,
    Mount,
    SnapshotInfo,
    TaskExit,
    TaskProcess,
    VersionInfo,
)

DEFAULT_NAMESPACE = "navarch"
DEFAULT_SNAPSHOTTER = "overlayfs"
DEFAULT_TIMEOUT = 10.0
# Streams of content and layer unpacking move whole blobs: a longer deadline.
TRANSFER_TIMEOUT = 300.0
# Below containerd's default 16 MiB message limit, with room for the envelope.
CHUNK_SIZE = 1 << 20

NAMESPACE_HEADER = "containerd-namespace"
LEASE_HEADER = "containerd-lease"
# A lease with this label expires on its own: an importer that dies mid-way (killed,
# its machine rebooted) leaves nothing behind for longer than this.
LEASE_EXPIRE_LABEL = "containerd.io/gc.expire"

_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 16 << 20),
    ("grpc.max_send_message_length", 16 << 20),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    # A unix socket's authority is meaningless; containerd's Go server checks nothing.
    ("grpc.default_authority", "localhost"),
]

_VERSION = "/containerd.services.version.v1.Version/"
_NAMESPACES = "/containerd.services.namespaces.v1.Namespaces/"
_LEASES = "/containerd.services.leases.v1.Leases/"
_CONTENT = "/containerd.services.content.v1.Content/"
_IMAGES = "/containerd.services.images.v1.Images/"
_SNAPSHOTS = "/containerd.services.snapshots.v1.Snapshots/"
_DIFF = "/containerd.services.diff.v1.Diff/"
_CONTAINERS = "/containerd.services.containers.v1.Containers/"
_TASKS = "/containerd.services.tasks.v1.Tasks/"

# The runc shim Debian's containerd ships (containerd-shim-runc-v2).
RUNC_RUNTIME = "io.containerd.runc.v2"
# How an Any names an OCI runtime spec / process spec (JSON in its value), as
# containerd's typeurl registry does.
SPEC_TYPE_URL = "types.containerd.io/opencontainers/runtime-spec/1/Spec"
PROCESS_TYPE_URL = "types.containerd.io/opencontainers/runtime-spec/1/Process"

_TASK_STATUSES = {
    pb.TASK_CREATED: TASK_CREATED,
    pb.TASK_RUNNING: TASK_RUNNING,
    pb.TASK_STOPPED: TASK_STOPPED,
    pb.TASK_PAUSED: TASK_PAUSED,
    pb.TASK_PAUSING: "pausing",
}

_KINDS = {
    pb.VIEW: "view",
    pb.ACTIVE: "active",
    pb.COMMITTED: "committed",
}


class ContainerdClient:
    """containerd's services in one namespace, over one channel to ``address`` (a
    socket path, or ``unix:///path``). ``timeout`` is each call's deadline in seconds;
    transfers (content writes and reads, diff apply) get ``transfer_timeout``."""

    def __init__(
        self,
        address: str | Path,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        timeout: float = DEFAULT_TIMEOUT,
        transfer_timeout: float = TRANSFER_TIMEOUT,
        snapshotter: str = DEFAULT_SNAPSHOTTER,
    ):
        path = str(address).removeprefix("unix://")
        self.address = path
        self.namespace = namespace
        self.timeout = timeout
        self.transfer_timeout = transfer_timeout
        self.snapshotter = snapshotter
        self._channel: grpc.aio.Channel | None = None
        self._log = logger.bind(containerd=path, namespace=namespace)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            await channel.close()

    # --- version -------------------------------------------------------------------------

    async def version(self) -> VersionInfo:
        response = await self._unary(
            _VERSION + "Version", pb.Empty(), pb.VersionResponse, kind="service", ident="version"
        )
        return VersionInfo(response.version, response.revision)

    # --- namespaces ----------------------------------------------------------------------

    async def list_namespaces(self) -> list[str]:
        response = await self._unary(
            _NAMESPACES + "List",
            pb.ListNamespacesRequest(),
            pb.ListNamespacesResponse,
            kind="namespace",
            ident="*",
        )
        return sorted(namespace.name for namespace in response.namespaces)

    async def create_namespace(self, name: str, labels: Mapping[str, str] | None = None) -> None:
        """Create namespace ``name``; raises AlreadyExists when it exists."""
        request = pb.CreateNamespaceRequest(namespace=pb.Namespace(name=name, labels=labels or {}))
        await self._unary(
            _NAMESPACES + "Create",
            request,
            pb.CreateNamespaceResponse,
            kind="namespace",
            ident=name,
        )

    async def ensure_namespace(self) -> None:
        """Create this client's namespace unless it exists (containerd also creates a
        namespace on first use; this gives it a home before anything is put in it)."""
        with contextlib.suppress(AlreadyExists):
            await self.create_namespace(self.namespace)

    async def delete_namespace(self, name: str) -> None:
        """Delete an empty namespace (containerd refuses one that holds anything)."""
        await self._unary(
            _NAMESPACES + "Delete",
            pb.DeleteNamespaceRequest(name=name),
            pb.Empty,
            kind="namespace",
            ident=name,
        )

    # --- leases --------------------------------------------------------------------------

    async def create_lease(
        self, lease_id: str | None = None, *, expire_after: float | None = 3600.0
    ) -> str:
        """A new lease (``lease_id`` or a random one); it expires after
        ``expire_after`` seconds unless deleted first."""
        lease_id = lease_id or f"navarch-{uuid.uuid4().hex}"
        labels = {}
        if expire_after is not None:
            labels[LEASE_EXPIRE_LABEL] = _rfc3339_after(expire_after)
        await self._unary(
            _LEASES + "Create",
            pb.LeaseCreateRequest(id=lease_id, labels=labels),
            pb.LeaseCreateResponse,
            kind="lease",
            ident=lease_id,
        )
        return lease_id

    async def delete_lease(self, lease_id: str, *, sync: bool = True) -> None:
        """Delete a lease; with ``sync`` containerd collects the garbage it freed
        before answering, so what only the lease held is gone when this returns."""
        await self._unary(
            _LEASES + "Delete",
            pb.LeaseDeleteRequest(id=lease_id, sync=sync),
            pb.Empty,
            kind="lease",
            ident=lease_id,
            timeout=self.transfer_timeout,
        )

    async def list_leases(self) -> list[str]:
        response = await self._unary(
            _LEASES + "List", pb.LeaseListRequest(), pb.LeaseListResponse, kind="lease", ident="*"
        )
        return sorted(lease.id for lease in response.leases)

    @contextlib.asynccontextmanager
    async def lease(self, *, expire_after: float | None = 3600.0) -> AsyncIterator[str]:
        """A lease for the block's work, deleted (synchronously) when the block ends,
        whether it succeeded or not."""
        lease_id = await self.create_lease(expire_after=expire_after)
        try:
            yield lease_id
        finally:
            try:
                await self.delete_lease(lease_id)
            except RuntimeFault as exc:
                # the lease expires on its own; the block's own error matters more
                self._log.bind(lease=lease_id, error=exc.message).warning("lease not deleted")

    # --- content -------------------------------------------------------------------------

    async def content_info(self, digest: str) -> ContentInfo:
        response = await self._unary(
            _CONTENT + "Info",
            pb.ContentInfoRequest(digest=digest),
            pb.ContentInfoResponse,
            kind="content",
            ident=digest,
        )
        return _content_info(response.info)

    async def has_content(self, digest: str) -> bool:
        try:
            await self.content_info(digest)
        except NotFound:
            return False
        return True

    async def list_content(self) -> list[ContentInfo]:
        infos: list[ContentInfo] = []
        async for response in self._unary_stream(
            _CONTENT + "List", pb.ListContentRequest(), pb.ListContentResponse, "content", "*"
        ):
            infos.extend(_content_info(info) for info in response.info)
        return infos

    async def list_ingests(self) -> list[str]:
        """The refs of writes begun and neither committed nor aborted."""
        response = await self._unary(
            _CONTENT + "ListStatuses",
            pb.ListStatusesRequest(),
            pb.ListStatusesResponse,
            kind="ingest",
            ident="*",
        )
        return sorted(status.ref for status in response.statuses)

    async def read_content(self, digest: str, offset: int = 0, size: int = 0) -> bytes:
        """``size`` bytes of a blob from ``offset`` (0: to its end): containerd's ReaderAt."""
        parts = []
        async for response in self._unary_stream(
            _CONTENT + "Read",
            pb.ReadContentRequest(digest=digest, offset=offset, size=size),
            pb.ReadContentResponse,
            "content",
            digest,
        ):
            parts.append(response.data)
        return b"".join(parts)

    async def delete_content(self, digest: str) -> None:
        await self._unary(
            _CONTENT + "Delete",
            pb.DeleteContentRequest(digest=digest),
            pb.Empty,
            kind="content",
            ident=digest,
        )

    async def write_content(
        self,
        digest: str,
        size: int,
        chunks: AsyncIterable[bytes],
        *,
        labels: Mapping[str, str] | None = None,
        lease: str | None = None,
    ) -> None:
        """Write a blob: ``chunks`` must add up to ``size`` bytes hashing to ``digest``
        (containerd checks both at commit and refuses otherwise). Raises AlreadyExists
        when containerd holds the blob already. A failed write is aborted."""
        ref = f"navarch-{uuid.uuid4().hex}"
        call = self._channel_for().stream_stream(
            _CONTENT + "Write",
            request_serializer=pb.WriteContentRequest.SerializeToString,
            response_deserializer=pb.WriteContentResponse.FromString,
        )(timeout=self.transfer_timeout, metadata=self._metadata(lease))
        try:
            # The protocol: a STAT opens the write (with the size and digest to
            # expect), WRITEs carry the bytes at their offset, a COMMIT checks and
            # names the blob; containerd answers each request in turn. A request's
            # offset must be where the write stands (0 truncates the write).
            await call.write(
                pb.WriteContentRequest(action=pb.STAT, ref=ref, total=size, expected=digest)
            )
            await _answer(call)
            offset = 0
            async for chunk in chunks:
                await call.write(
                    pb.WriteContentRequest(action=pb.WRITE, ref=ref, offset=offset, data=chunk)
                )
                await _answer(call)
                offset += len(chunk)
            await call.write(
                pb.WriteContentRequest(
                    action=pb.COMMIT,
                    ref=ref,
                    total=size,
                    expected=digest,
                    # an offset of 0 would mean "start over": containerd truncates
                    offset=offset,
                    labels=labels or {},
                )
            )
            await _answer(call)
            await call.done_writing()
        except grpc.aio.AioRpcError as exc:
            await self._abort(ref, lease)
            raise self._error(exc, "content.Write", "content", digest) from None
        except BaseException:
            call.cancel()
            await self._abort(ref, lease)
            raise

    async def _abort(self, ref: str, lease: str | None) -> None:
        with contextlib.suppress(grpc.aio.AioRpcError):
            await self._channel_for().unary_unary(
                _CONTENT + "Abort",
                request_serializer=pb.AbortRequest.SerializeToString,
                response_deserializer=pb.Empty.FromString,
            )(pb.AbortRequest(ref=ref), timeout=self.timeout, metadata=self._metadata(lease))

    # --- images --------------------------------------------------------------------------

    async def create_image(
        self, name: str, target: Descriptor, labels: Mapping[str, str] | None = None
    ) -> ImageRecord:
        """Create an image record; raises AlreadyExists when ``name`` exists."""
        request = pb.CreateImageRequest(
            image=pb.Image(name=name, target=_pb_descriptor(target), labels=labels or {})
        )
        response = await self._unary(
            _IMAGES + "Create", request, pb.CreateImageResponse, kind="image", ident=name
        )
        return _image(response.image)

    async def update_image_target(self, name: str, target: Descriptor) -> ImageRecord:
        """Point an existing image name at another manifest (a re-tag)."""
        request = pb.UpdateImageRequest(
            image=pb.Image(name=name, target=_pb_descriptor(target)),
            update_mask=pb.FieldMask(paths=["target"]),
        )
        response = await self._unary(
            _IMAGES + "Update", request, pb.UpdateImageResponse, kind="image", ident=name
        )
        return _image(response.image)

    async def get_image(self, name: str) -> ImageRecord:
        response = await self._unary(
            _IMAGES + "Get", pb.GetImageRequest(name=name), pb.GetImageResponse, "image", name
        )
        return _image(response.image)

    async def list_images(self, filters: Sequence[str] = ()) -> list[ImageRecord]:
        response = await self._unary(
            _IMAGES + "List",
            pb.ListImagesRequest(filters=list(filters)),
            pb.ListImagesResponse,
            kind="image",
            ident="*",
        )
        return [_image(image) for image in response.images]

    async def delete_image(self, name: str, *, sync: bool = False) -> None:
        """Delete an image record; what only it referenced is collected (before this
        returns when ``sync``)."""
        await self._unary(
            _IMAGES + "Delete",
            pb.DeleteImageRequest(name=name, sync=sync),
            pb.Empty,
            kind="image",
            ident=name,
            timeout=self.transfer_timeout if sync else None,
        )

    # --- snapshots -----------------------------------------------------------------------

    async def prepare_snapshot(
        self,
        key: str,
        parent: str = "",
        *,
        labels: Mapping[str, str] | None = None,
        lease: str | None = None,
    ) -> list[Mount]:
        """An active (writable) snapshot ``key`` on top of the committed ``parent``
        (none: empty); returns the mounts that show it."""
        request = pb.PrepareSnapshotRequest(
            snapshotter=self.snapshotter, key=key, parent=parent, labels=labels or {}
        )
        response = await self._unary(
            _SNAPSHOTS + "Prepare",
            request,
            pb.PrepareSnapshotResponse,
            kind="snapshot",
            ident=key,
            lease=lease,
        )
        return [_mount(mount) for mount in response.mounts]

    async def snapshot_mounts(self, key: str) -> list[Mount]:
        response = await self._unary(
            _SNAPSHOTS + "Mounts",
            pb.MountsRequest(snapshotter=self.snapshotter, key=key),
            pb.MountsResponse,
            kind="snapshot",
            ident=key,
        )
        return [_mount(mount) for mount in response.mounts]

    async def commit_snapshot(
        self,
        name: str,
        key: str,
        *,
        labels: Mapping[str, str] | None = None,
        lease: str | None = None,
    ) -> None:
        """Turn the active snapshot ``key`` into the committed, read-only ``name``."""
        request = pb.CommitSnapshotRequest(
            snapshotter=self.snapshotter, name=name, key=key, labels=labels or {}
        )
        await self._unary(
            _SNAPSHOTS + "Commit", request, pb.Empty, kind="snapshot", ident=key, lease=lease
        )

    async def remove_snapshot(self, key: str) -> None:
        await self._unary(
            _SNAPSHOTS + "Remove",
            pb.RemoveSnapshotRequest(snapshotter=self.snapshotter, key=key),
            pb.Empty,
            kind="snapshot",
            ident=key,
        )

    async def stat_snapshot(self, key: str) -> SnapshotInfo:
        response = await self._unary(
            _SNAPSHOTS + "Stat",
            pb.StatSnapshotRequest(snapshotter=self.snapshotter, key=key),
            pb.StatSnapshotResponse,
            kind="snapshot",
            ident=key,
        )
        return _snapshot(response.info)

    async def list_snapshots(self) -> list[SnapshotInfo]:
        infos: list[SnapshotInfo] = []
        async for response in self._unary_stream(
            _SNAPSHOTS + "List",
            pb.ListSnapshotsRequest(snapshotter=self.snapshotter),
            pb.ListSnapshotsResponse,
            "snapshot",
            "*",
        ):
            infos.extend(_snapshot(info) for info in response.info)
        return infos

    # --- diff ----------------------------------------------------------------------------

    async def apply_diff(
        self, layer: Descriptor, mounts: Sequence[Mount], *, lease: str | None = None
    ) -> Descriptor:
        """Unpack the layer blob ``layer`` (already in the content store) onto the
        file system ``mounts`` show; returns the uncompressed layer's descriptor,
        whose digest is the layer's diff ID."""
        request = pb.ApplyRequest(
            diff=_pb_descriptor(layer),
            mounts=[_pb_mount(mount) for mount in mounts],
        )
        response = await self._unary(
            _DIFF + "Apply",
            request,
            pb.ApplyResponse,
            kind="layer",
            ident=layer.digest,
            lease=lease,
            timeout=self.transfer_timeout,
        )
        return _descriptor(response.applied)

    # --- containers ----------------------------------------------------------------------

    async def create_container(
        self,
        container_id: str,
        spec: Mapping[str, Any],
        *,
        image: str = "",
        snapshot_key: str = "",
        labels: Mapping[str, str] | None = None,
        runtime: str = RUNC_RUNTIME,
    ) -> ContainerRecord:
        """Create a container record with its OCI runtime ``spec`` (a JSON dict);
        ``snapshot_key`` names its rootfs snapshot, which the record then keeps from
        the garbage collector. Raises AlreadyExists when ``container_id`` exists."""
        request = pb.CreateContainerRequest(
            container=pb.Container(
                id=container_id,
                image=image,
                labels=labels or {},
                runtime=pb.ContainerRuntime(name=runtime),
                spec=pb.Any(type_url=SPEC_TYPE_URL, value=_json_bytes(spec)),
                snapshotter=self.snapshotter if snapshot_key else "",
                snapshot_key=snapshot_key,
            )
        )
        response = await self._unary(
            _CONTAINERS + "Create",
            request,
            pb.CreateContainerResponse,
            kind="container",
            ident=container_id,
        )
        return _container(response.container)

    async def get_container(self, container_id: str) -> ContainerRecord:
        response = await self._unary(
            _CONTAINERS + "Get",
            pb.GetContainerRequest(id=container_id),
            pb.GetContainerResponse,
            kind="container",
            ident=container_id,
        )
        return _container(response.container)

    async def list_containers(self, filters: Sequence[str] = ()) -> list[ContainerRecord]:
        """Containers matching any of ``filters`` (containerd's filter syntax, e.g.
        ``labels."io.navarch.pod"==web``); all without."""
        response = await self._unary(
            _CONTAINERS + "List",
            pb.ListContainersRequest(filters=list(filters)),
            pb.ListContainersResponse,
            kind="container",
            ident="*",
        )
        return [_container(container) for container in response.containers]

    async def delete_container(self, container_id: str) -> None:
        """Delete a container record (its task must be deleted first). Remove its
        snapshot first: once the record is gone, nothing keeps the snapshot from the
        garbage collector, which may or may not have taken it by the time you look."""
        await self._unary(
            _CONTAINERS + "Delete",
            pb.DeleteContainerRequest(id=container_id),
            pb.Empty,
            kind="container",
            ident=container_id,
        )

    # --- tasks ---------------------------------------------------------------------------

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
            rootfs=[_pb_mount(mount) for mount in rootfs],
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
        response = await self._unary(
            _TASKS + "Start",
            pb.StartRequest(container_id=container_id, exec_id=exec_id),
            pb.StartResponse,
            kind="task",
            ident=_task_ident(container_id, exec_id),
        )
        return int(response.pid)

    async def kill_task(
        self, container_id: str, signal: int, *, exec_id: str = "", all_processes: bool = False
    ) -> None:
        """Send ``signal`` to the task's process (or ``exec_id``'s); ``all_processes``
        signals every process in the container."""
        request = pb.KillRequest(
            container_id=container_id, exec_id=exec_id, signal=signal, all=all_processes
        )
        await self._unary(
            _TASKS + "Kill", request, pb.Empty, "task", _task_ident(container_id, exec_id)
        )

    async def get_task(self, container_id: str, exec_id: str = "") -> TaskProcess:
        response = await self._unary(
            _TASKS + "Get",
            pb.GetTaskRequest(container_id=container_id, exec_id=exec_id),
            pb.GetTaskResponse,
            kind="task",
            ident=_task_ident(container_id, exec_id),
        )
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
        call = self._channel_for().unary_unary(
            _TASKS + "Wait",
            request_serializer=pb.WaitRequest.SerializeToString,
            response_deserializer=pb.WaitResponse.FromString,
        )
        try:
            response = await call(
                pb.WaitRequest(container_id=container_id, exec_id=exec_id),
                timeout=timeout,
                metadata=self._metadata(),
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
        return TaskExit(int(response.exit_status), _seconds(response.exited_at))

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
            spec=pb.Any(type_url=PROCESS_TYPE_URL, value=_json_bytes(process)),
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            terminal=terminal,
        )
        await self._unary(
            _TASKS + "Exec", request, pb.Empty, "task", _task_ident(container_id, exec_id)
        )

    async def delete_process(self, container_id: str, exec_id: str) -> TaskExit:
        """Release an exec'd process that has exited; how it ended."""
        response = await self._unary(
            _TASKS + "DeleteProcess",
            pb.DeleteProcessRequest(container_id=container_id, exec_id=exec_id),
            pb.DeleteResponse,
            kind="task",
            ident=_task_ident(container_id, exec_id),
        )
        return _exit(response)

    async def resize_pty(
        self, container_id: str, width: int, height: int, exec_id: str = ""
    ) -> None:
        request = pb.ResizePtyRequest(
            container_id=container_id, exec_id=exec_id, width=width, height=height
        )
        await self._unary(
            _TASKS + "ResizePty", request, pb.Empty, "task", _task_ident(container_id, exec_id)
        )

    async def close_stdin(self, container_id: str, exec_id: str = "") -> None:
        """Close the process's stdin (the shim closes its end of the stdin FIFO)."""
        request = pb.CloseIORequest(container_id=container_id, exec_id=exec_id, stdin=True)
        await self._unary(
            _TASKS + "CloseIO", request, pb.Empty, "task", _task_ident(container_id, exec_id)
        )

    # --- plumbing ------------------------------------------------------------------------

    def _channel_for(self) -> grpc.aio.Channel:
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(
                f"unix://{self.address}", options=_CHANNEL_OPTIONS
            )
        return self._channel

    def _metadata(self, lease: str | None = None) -> tuple[tuple[str, str], ...]:
        headers = ((NAMESPACE_HEADER, self.namespace),)
        return (*headers, (LEASE_HEADER, lease)) if lease else headers

    async def _unary(
        self,
        path: str,
        request: Any,
        response_type: Any,
        kind: str,
        ident: str,
        *,
        lease: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        call = self._channel_for().unary_unary(
            path,
            request_serializer=type(request).SerializeToString,
            response_deserializer=response_type.FromString,
        )
        try:
            return await call(
                request,
                timeout=timeout or self.timeout,
                metadata=self._metadata(lease),
                # a socket not there yet fails at once rather than at the deadline
                wait_for_ready=False,
            )
        except grpc.aio.AioRpcError as exc:
            raise self._error(exc, _short(path), kind, ident) from None

    async def _unary_stream(
        self, path: str, request: Any, response_type: Any, kind: str, ident: str
    ) -> AsyncIterator[Any]:
        call = self._channel_for().unary_stream(
            path,
            request_serializer=type(request).SerializeToString,
            response_deserializer=response_type.FromString,
        )(request, timeout=self.transfer_timeout, metadata=self._metadata())
        try:
            async for response in call:
                yield response
        except grpc.aio.AioRpcError as exc:
            raise self._error(exc, _short(path), kind, ident) from None

    def _error(self, exc: grpc.aio.AioRpcError, what: str, kind: str, ident: str) -> RuntimeFault:
        return map_error(exc, address=self.address, what=what, kind=kind, ident=ident)


async def _answer(call: Any) -> Any:
    response = await call.read()
    if response is grpc.aio.EOF:
        # containerd ended the stream early: the call's status says why
        code = await call.code()
        raise ContainerdError(
            f"containerd ended a content write early ({code.name}: {await call.details()})",
            code.name,
        )
    return response


def _short(path: str) -> str:
    """``/containerd.services.images.v1.Images/Get`` -> ``images.Get``."""
    service, _, method = path.rpartition("/")
    return f"{service.split('.')[2]}.{method}"


def _rfc3339_after(seconds: float) -> str:
    moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _pb_descriptor(descriptor: Descriptor) -> Any:
    return pb.Descriptor(
        media_type=descriptor.media_type,
        digest=descriptor.digest,
        size=descriptor.size,
        annotations=dict(descriptor.annotations),
    )


def _descriptor(raw: Any) -> Descriptor:
    return Descriptor(raw.media_type, raw.digest, raw.size, dict(raw.annotations))


def _mount(raw: Any) -> Mount:
    return Mount(raw.type, raw.source, raw.target, tuple(raw.options))


def _content_info(raw: Any) -> ContentInfo:
    return ContentInfo(raw.digest, raw.size, dict(raw.labels))


def _image(raw: Any) -> ImageRecord:
    return ImageRecord(raw.name, _descriptor(raw.target), dict(raw.labels))


def _snapshot(raw: Any) -> SnapshotInfo:
    return SnapshotInfo(raw.name, raw.parent, _KINDS.get(raw.kind, "unknown"), dict(raw.labels))


def _pb_mount(mount: Mount) -> Any:
    return pb.Mount(
        type=mount.type, source=mount.source, target=mount.target, options=list(mount.options)
    )


def _json_bytes(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def _seconds(raw: Any) -> float | None:
    """A Timestamp as epoch seconds; None for the zero time (Go's, or unset)."""
    if raw.seconds <= 0:
        return None
    return raw.seconds + raw.nanos / 1e9


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


def _container(raw: Any) -> ContainerRecord:
    spec: dict[str, Any] = {}
    if raw.spec.type_url == SPEC_TYPE_URL and raw.spec.value:
        spec = json.loads(raw.spec.value)
    return ContainerRecord(
        id=raw.id,
        image=raw.image,
        runtime=raw.runtime.name,
        snapshotter=raw.snapshotter,
        snapshot_key=raw.snapshot_key,
        labels=dict(raw.labels),
        spec=spec,
        created_at=_seconds(raw.created_at),
    )


def _process(raw: Any, container_id: str = "", exec_id: str = "") -> TaskProcess:
    """containerd 1.6 fills only ``id`` (the container's ID for a task's own process,
    the exec ID for an exec), not ``container_id``: the caller says which it asked."""
    return TaskProcess(
        container_id=container_id or raw.container_id or raw.id,
        exec_id=exec_id,
        pid=int(raw.pid),
        status=_TASK_STATUSES.get(raw.status, "unknown"),
        exit_status=int(raw.exit_status),
        exited_at=_seconds(raw.exited_at),
    )


def _exit(raw: Any) -> TaskExit:
    return TaskExit(int(raw.exit_status), _seconds(raw.exited_at), int(raw.pid))
