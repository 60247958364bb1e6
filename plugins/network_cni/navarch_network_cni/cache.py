"""The result cache (SPEC.md, "Caching"): what ADD was given and returned, per
(container id, interface name), on disk so that DEL gets the same configuration and
``prevResult`` after an agent restart, and a restarted agent reports the same pod IPs.

An entry is written *before* ADD runs (``result`` None: pending) and again with the
result after it: an agent killed part way leaves a pending entry, and the garbage
collection tears it down (DEL cleans up whatever ADD got to) once its sandbox is gone.
Writes are atomic (a temporary file renamed over the entry)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs


@attrs.frozen
class CacheEntry:
    container_id: str  # the sandbox id
    ifname: str
    netns: str
    config: dict[str, Any]  # the network configuration list ADD ran
    pod: str  # namespace/name, for logs and debugging
    created_at: float  # time.time() when setup began
    result: dict[str, Any] | None = None  # None: ADD did not finish

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "navarch-cni-cache",
            "containerId": self.container_id,
            "ifName": self.ifname,
            "netns": self.netns,
            "config": self.config,
            "pod": self.pod,
            "createdAt": self.created_at,
            "result": self.result,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CacheEntry:
        return cls(
            container_id=str(data["containerId"]),
            ifname=str(data["ifName"]),
            netns=str(data.get("netns") or ""),
            config=dict(data["config"]),
            pod=str(data.get("pod") or ""),
            created_at=float(data.get("createdAt") or 0.0),
            result=data.get("result"),
        )


@attrs.define
class ResultCache:
    directory: Path

    def _path(self, container_id: str, ifname: str) -> Path:
        return self.directory / f"{container_id}-{ifname}.json"

    def get(self, container_id: str, ifname: str) -> CacheEntry | None:
        try:
            return CacheEntry.from_dict(json.loads(self._path(container_id, ifname).read_text()))
        except FileNotFoundError:
            return None

    def put(self, entry: CacheEntry) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(entry.to_dict(), out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self._path(entry.container_id, entry.ifname))
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def remove(self, container_id: str, ifname: str) -> None:
        self._path(container_id, ifname).unlink(missing_ok=True)

    def entries(self) -> Iterator[CacheEntry]:
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.glob("*.json")):
            try:
                yield CacheEntry.from_dict(json.loads(path.read_text()))
            except (FileNotFoundError, ValueError, KeyError):
                continue  # removed meanwhile, or not ours
