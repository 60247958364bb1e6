"""containerd's version, namespaces and leases: where the client's objects live and
what keeps them from the garbage collector while they are being built.
"""

from __future__ import annotations

import contextlib
import datetime
import uuid
from collections.abc import AsyncIterator, Mapping

from navarch.runtime.errors import RuntimeFault
from navarch_runtime_containerd._proto import containerd_subset_pb2 as pb
from navarch_runtime_containerd.connection import LEASE_EXPIRE_LABEL, ContainerdConnection
from navarch_runtime_containerd.errors import AlreadyExists
from navarch_runtime_containerd.records import VersionInfo

_VERSION = "/containerd.services.version.v1.Version/"
_NAMESPACES = "/containerd.services.namespaces.v1.Namespaces/"
_LEASES = "/containerd.services.leases.v1.Leases/"


class NamespaceCalls(ContainerdConnection):
    """The Version, Namespaces and Leases services."""

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


def _rfc3339_after(seconds: float) -> str:
    moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
