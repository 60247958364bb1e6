"""``ContainerdRuntime``: Navarch's runtime contract on containerd (in progress, issue
12). What works: version, images (load from an archive, status, list, remove) and pod
sandboxes. Containers, logs and exec are still to come; the runtime is not registered.

A sandbox is a small JSON state file under ``data_dir/sandboxes`` plus, unless it uses
the host's network, a network namespace pinned under ``data_dir/netns`` (netns.py).
Not a containerd container record: containerd's Containers.Create wants a runtime and
an OCI spec (a record with neither would be a fake container in every list), and the
namespace's bind mount lives on this node's disk anyway, so its record belongs beside
it. The file is written whole (a temporary file renamed over it), so a crash leaves the
old or the new state, never half of one.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
from loguru import logger

from navarch.runtime.errors import NotFound, RuntimeFault
from navarch.runtime.types import (
    ImageRef,
    RuntimeVersion,
    SandboxConfig,
    SandboxState,
    SandboxStatus,
)
from navarch_runtime_containerd.client import (
    DEFAULT_NAMESPACE,
    DEFAULT_SNAPSHOTTER,
    DEFAULT_TIMEOUT,
    ContainerdClient,
)
from navarch_runtime_containerd.importer import import_image_archive
from navarch_runtime_containerd.netns import create_netns, remove_netns
from navarch_runtime_containerd.records import ImageRecord
from navarch_runtime_containerd.resolve import resolve_image

DEFAULT_SOCKET = "/run/containerd/containerd.sock"


@attrs.frozen
class ContainerdOptions:
    """Where containerd listens and how Navarch uses it."""

    socket: str = DEFAULT_SOCKET
    namespace: str = DEFAULT_NAMESPACE
    snapshotter: str = DEFAULT_SNAPSHOTTER
    timeout: float = DEFAULT_TIMEOUT


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
        self._log = logger.bind(runtime="containerd", namespace=options.namespace)

    # --- the daemon -------------------------------------------------------------------

    async def version(self) -> RuntimeVersion:
        info = await self.client.version()
        return RuntimeVersion("containerd", info.version.removeprefix("v"), "v1")

    async def close(self) -> None:
        await self.client.close()

    # --- images -----------------------------------------------------------------------

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
        path = self._state_path(state["id"])
        temporary = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
        temporary.write_text(json.dumps(state, sort_keys=True))
        os.replace(temporary, path)

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
        """Mark it not ready. The namespace stays until removal: a stopped pod's
        containers may still be inspected (and the agent removes it soon)."""
        state = self._read_sandbox(sandbox_id)
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
        if state["netns_path"]:
            await asyncio.to_thread(remove_netns, Path(state["netns_path"]))
        self._state_path(sandbox_id).unlink(missing_ok=True)
        self._log.bind(sandbox=sandbox_id).info("sandbox removed")
