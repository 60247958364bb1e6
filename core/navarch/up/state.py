"""What ``navarch up`` remembers in its data directory (``up.json``) so that a second
``up`` adopts what the first one runs, and ``navarch down`` knows what to remove: the
runtime and its options, whether the cluster's own containerd serves it, the node
names, the pid of the ``up`` process while it runs, and whether ``navarch down`` has
removed every container since."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs
import orjson

from navarch.apiserver.datadir import write_atomically

STATE_FILE = "up.json"


@attrs.frozen
class UpState:
    runtime: str
    runtime_options: dict[str, Any]
    private_containerd: bool
    nodes: tuple[str, ...]
    pid: int | None = None
    # Set by `navarch down`: no container of the cluster is left, so the next `up` may
    # choose its runtime and options afresh (the store, with its objects, is kept).
    containers_removed: bool = False

    @classmethod
    def load(cls, data_dir: Path) -> UpState | None:
        path = Path(data_dir) / STATE_FILE
        try:
            data = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ValueError(f"{path} cannot be read ({exc}); remove it to start afresh") from None
        return cls(
            runtime=str(data["runtime"]),
            runtime_options=dict(data.get("runtime_options") or {}),
            private_containerd=bool(data.get("private_containerd")),
            nodes=tuple(data.get("nodes") or ()),
            pid=data.get("pid"),
            containers_removed=bool(data.get("containers_removed")),
        )

    def save(self, data_dir: Path) -> None:
        body = orjson.dumps(attrs.asdict(self), option=orjson.OPT_INDENT_2)
        write_atomically(Path(data_dir) / STATE_FILE, body)

    def running_pid(self) -> int | None:
        """The pid of the ``navarch up`` that wrote this, when it still runs."""
        if self.pid is None or self.pid == os.getpid():
            return None
        try:
            argv = Path(f"/proc/{self.pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return None
        return (
            self.pid
            if any(word.endswith(b"navarch") for word in argv[:3]) and (b"up" in argv)
            else None
        )
