"""Conversions between containerd's protobuf messages and the plain records of
records.py, shared by several services' calls."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from navarch_runtime_containerd._proto import containerd_subset_pb2 as pb
from navarch_runtime_containerd.records import Descriptor, Mount


def pb_descriptor(descriptor: Descriptor) -> Any:
    return pb.Descriptor(
        media_type=descriptor.media_type,
        digest=descriptor.digest,
        size=descriptor.size,
        annotations=dict(descriptor.annotations),
    )


def descriptor(raw: Any) -> Descriptor:
    return Descriptor(raw.media_type, raw.digest, raw.size, dict(raw.annotations))


def mount(raw: Any) -> Mount:
    return Mount(raw.type, raw.source, raw.target, tuple(raw.options))


def pb_mount(mount: Mount) -> Any:
    return pb.Mount(
        type=mount.type, source=mount.source, target=mount.target, options=list(mount.options)
    )


def json_bytes(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def seconds(raw: Any) -> float | None:
    """A Timestamp as epoch seconds; None for the zero time (Go's, or unset)."""
    if raw.seconds <= 0:
        return None
    return raw.seconds + raw.nanos / 1e9
