"""An asyncio client for containerd's gRPC API over its unix socket (grpc.aio):
:class:`ContainerdClient` puts together the connection (connection.py: channel,
namespace and lease headers, deadlines, error mapping) and the calls of each of
containerd's services, each in its own module (namespaces.py, content.py,
images.py, snapshots.py, containers.py, tasks.py, events.py).

    async with ContainerdClient("/run/containerd/containerd.sock") as client:
        info = await client.version()
"""

from __future__ import annotations

from navarch_runtime_containerd.connection import (
    CHUNK_SIZE,
    DEFAULT_NAMESPACE,
    DEFAULT_SNAPSHOTTER,
    DEFAULT_TIMEOUT,
    LEASE_EXPIRE_LABEL,
    LEASE_HEADER,
    NAMESPACE_HEADER,
    TRANSFER_TIMEOUT,
)
from navarch_runtime_containerd.containers import RUNC_RUNTIME, SPEC_TYPE_URL, ContainerCalls
from navarch_runtime_containerd.content import ContentCalls
from navarch_runtime_containerd.events import EventCalls
from navarch_runtime_containerd.images import ImageCalls
from navarch_runtime_containerd.namespaces import NamespaceCalls
from navarch_runtime_containerd.snapshots import SnapshotCalls
from navarch_runtime_containerd.tasks import PROCESS_TYPE_URL, TaskCalls

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_NAMESPACE",
    "DEFAULT_SNAPSHOTTER",
    "DEFAULT_TIMEOUT",
    "LEASE_EXPIRE_LABEL",
    "LEASE_HEADER",
    "NAMESPACE_HEADER",
    "PROCESS_TYPE_URL",
    "RUNC_RUNTIME",
    "SPEC_TYPE_URL",
    "TRANSFER_TIMEOUT",
    "ContainerdClient",
]


class ContainerdClient(
    NamespaceCalls,
    ContentCalls,
    ImageCalls,
    SnapshotCalls,
    ContainerCalls,
    TaskCalls,
    EventCalls,
):
    """containerd's services in one namespace, over one channel to ``address`` (a
    socket path, or ``unix:///path``). ``timeout`` is each call's deadline in seconds;
    transfers (content writes and reads, diff apply) get ``transfer_timeout``."""
