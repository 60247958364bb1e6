"""What a :class:`ContainerdRuntime` keeps beside containerd: its client, and the
state files of its sandboxes (``data_dir/sandboxes/<id>.json``) and containers
(``data_dir/containers/<id>/state.json``), each written whole (a temporary file
renamed over it) so a crash leaves the old or the new state, never half of one.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loguru import logger

from navarch.runtime.errors import NotFound
from navarch_runtime_containerd.client import ContainerdClient
from navarch_runtime_containerd.logfile import OutputCopier
from navarch_runtime_containerd.options import ContainerdOptions
from navarch_runtime_containerd.watcher import TaskEventWatcher


class RuntimeState:
    """The client, the data directories and the state files the runtime's sandbox and
    container operations share; ``data_dir`` holds the sandboxes' state files and
    network namespaces, the containers' state and logs."""

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
        self._containers = self.data_dir / "containers"
        # the output readers of the containers this runtime started
        self._copiers: dict[str, OutputCopier] = {}
        # the stdin FIFOs (held read-write) of containers created with stdin
        self._stdins: dict[str, int] = {}
        # the task event listener, started with the first container operation
        self._watcher: TaskEventWatcher | None = None
        self._reap_locks: dict[str, asyncio.Lock] = {}
        self._log = logger.bind(runtime="containerd", namespace=options.namespace)

    def _state_path(self, sandbox_id: str) -> Path:
        return self._sandboxes / f"{sandbox_id}.json"

    def _read_sandbox(self, sandbox_id: str) -> dict[str, Any]:
        try:
            return dict(json.loads(self._state_path(sandbox_id).read_text()))
        except FileNotFoundError:
            raise NotFound("sandbox", sandbox_id) from None

    def _write_sandbox(self, state: Mapping[str, Any]) -> None:
        write_json(self._state_path(state["id"]), state)

    def _cgroups_path(self, container_id: str) -> str:
        """The container's cgroup, as containerd's CRI names it."""
        return f"/{self.options.namespace}/{container_id}"

    def _container_dir(self, container_id: str) -> Path:
        return self._containers / container_id

    def _read_container(self, container_id: str) -> dict[str, Any]:
        try:
            text = (self._container_dir(container_id) / "state.json").read_text()
        except FileNotFoundError:
            raise NotFound("container", container_id) from None
        return dict(json.loads(text))

    def _write_container(self, state: Mapping[str, Any]) -> None:
        write_json(self._container_dir(state["id"]) / "state.json", state)


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    """Write ``document`` whole: a temporary file renamed over ``path``."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    temporary.write_text(json.dumps(document, sort_keys=True))
    os.replace(temporary, path)


def label_filter(wanted: Mapping[str, str] | None) -> list[str]:
    """containerd's filter for containers carrying every label of ``wanted`` (empty:
    all); a label whose value is empty is left out (containerd does not keep one)."""
    terms = [
        f'labels."{_quoted(key)}"=="{_quoted(value)}"'
        for key, value in (wanted or {}).items()
        if value
    ]
    return [",".join(terms)] if terms else []


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def labels_match(labels: Mapping[str, str], wanted: Mapping[str, str] | None) -> bool:
    return all(labels.get(key) == value for key, value in (wanted or {}).items())
