"""containerd's container records: an ID, its OCI runtime spec, its runtime and its
rootfs snapshot; no process (that is the task, tasks.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from navarch_runtime_containerd import convert
from navarch_runtime_containerd._proto import containerd_subset_pb2 as pb
from navarch_runtime_containerd.connection import ContainerdConnection
from navarch_runtime_containerd.records import ContainerRecord

_CONTAINERS = "/containerd.services.containers.v1.Containers/"

# The runc shim Debian's containerd ships (containerd-shim-runc-v2).
RUNC_RUNTIME = "io.containerd.runc.v2"
# How an Any names an OCI runtime spec / process spec (JSON in its value), as
# containerd's typeurl registry does.
SPEC_TYPE_URL = "types.containerd.io/opencontainers/runtime-spec/1/Spec"


class ContainerCalls(ContainerdConnection):
    """The Containers service."""

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
                spec=pb.Any(type_url=SPEC_TYPE_URL, value=convert.json_bytes(spec)),
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

    async def update_container_spec(
        self, container_id: str, spec: Mapping[str, Any]
    ) -> ContainerRecord:
        """Replace the record's OCI runtime spec (only the spec: the update mask
        names it), before its task is created."""
        request = pb.UpdateContainerRequest(
            container=pb.Container(
                id=container_id,
                spec=pb.Any(type_url=SPEC_TYPE_URL, value=convert.json_bytes(spec)),
            ),
            update_mask=pb.FieldMask(paths=["spec"]),
        )
        response = await self._unary(
            _CONTAINERS + "Update",
            request,
            pb.UpdateContainerResponse,
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
        created_at=convert.seconds(raw.created_at),
    )
