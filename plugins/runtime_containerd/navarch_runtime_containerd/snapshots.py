"""containerd's snapshots (the layered file systems of images and containers' root
file systems) and the diff service that unpacks a layer onto one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from navarch_runtime_containerd import convert
from navarch_runtime_containerd._proto import containerd_subset_pb2 as pb
from navarch_runtime_containerd.connection import ContainerdConnection
from navarch_runtime_containerd.records import Descriptor, Mount, SnapshotInfo

_SNAPSHOTS = "/containerd.services.snapshots.v1.Snapshots/"
_DIFF = "/containerd.services.diff.v1.Diff/"

_KINDS = {
    pb.VIEW: "view",
    pb.ACTIVE: "active",
    pb.COMMITTED: "committed",
}


class SnapshotCalls(ContainerdConnection):
    """The Snapshots and Diff services, in the client's snapshotter."""

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
        return [convert.mount(mount) for mount in response.mounts]

    async def snapshot_mounts(self, key: str) -> list[Mount]:
        response = await self._unary(
            _SNAPSHOTS + "Mounts",
            pb.MountsRequest(snapshotter=self.snapshotter, key=key),
            pb.MountsResponse,
            kind="snapshot",
            ident=key,
        )
        return [convert.mount(mount) for mount in response.mounts]

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
            diff=convert.pb_descriptor(layer),
            mounts=[convert.pb_mount(mount) for mount in mounts],
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
        return convert.descriptor(response.applied)


def _snapshot(raw: Any) -> SnapshotInfo:
    return SnapshotInfo(raw.name, raw.parent, _KINDS.get(raw.kind, "unknown"), dict(raw.labels))
