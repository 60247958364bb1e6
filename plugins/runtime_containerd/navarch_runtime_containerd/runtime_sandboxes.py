"""A :class:`ContainerdRuntime`'s pod sandboxes: a state file plus, unless the pod
uses the host's network, a network namespace pinned under ``data_dir/netns``
(netns.py). Stopping or removing a sandbox stops or removes its containers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from navarch.runtime.errors import (
    NotFound,
    RuntimeFault,
)
from navarch.runtime.types import (
    SandboxConfig,
    SandboxState,
    SandboxStatus,
)
from navarch_runtime_containerd.netns import create_netns, remove_netns
from navarch_runtime_containerd.runtime_containers import ContainerOps
from navarch_runtime_containerd.state import labels_match


class SandboxOps(ContainerOps):
    """The runtime contract's sandbox operations (built on the container ones)."""

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
            if labels_match(status.labels, labels):
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
