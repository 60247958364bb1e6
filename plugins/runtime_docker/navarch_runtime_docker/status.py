"""What the engine reports (``GET /containers/{id}/json``), turned into the contract's
statuses."""

from __future__ import annotations

from typing import Any

from navarch.runtime import ContainerState, ContainerStatus, SandboxState, SandboxStatus
from navarch_runtime_docker.specs import (
    ATTEMPT,
    HOST_NETWORK,
    NAME,
    SANDBOX_ID,
    STOPPED_SUFFIX,
    annotations_of,
    is_record,
    user_labels,
)
from navarch_runtime_docker.streams import parse_time

_RUNNING = {"running", "paused", "restarting"}
_EXITED = {"exited", "dead", "removing"}


def _attempt(labels: dict[str, str]) -> int:
    try:
        return int(labels.get(ATTEMPT, "0"))
    except ValueError:
        return 0


def sandbox_status(info: dict[str, Any]) -> SandboxStatus:
    labels = info["Config"].get("Labels") or {}
    networks = (info.get("NetworkSettings") or {}).get("Networks") or {}
    ip = next((n.get("IPAddress") for n in networks.values() if n.get("IPAddress")), "")
    if is_record(labels):
        # Never started: ready until stop_sandbox renamed it (see specs.py).
        running = not str(info.get("Name", "")).endswith(STOPPED_SUFFIX)
    else:
        running = bool(info["State"].get("Running"))
    host_network = labels.get(HOST_NETWORK) == "true"
    return SandboxStatus(
        id=info["Id"],
        state=SandboxState.READY if running else SandboxState.NOT_READY,
        labels=user_labels(labels),
        annotations=annotations_of(labels),
        created_at=parse_time(info.get("Created") or ""),
        ip=ip or "",
        host_network=host_network,
        netns_path=_netns_path(info) if running and not host_network else "",
    )


def _netns_path(info: dict[str, Any]) -> str:
    """Where the agent enters the pod's network namespace (to probe its ports): the
    engine's bind mount of it (under its exec root), else the pause process's."""
    key = (info.get("NetworkSettings") or {}).get("SandboxKey") or ""
    if key:
        return str(key)
    pid = int(info["State"].get("Pid") or 0)
    return f"/proc/{pid}/ns/net" if pid > 0 else ""


def container_status(info: dict[str, Any]) -> ContainerStatus:
    labels = info["Config"].get("Labels") or {}
    state = info["State"]
    status = state.get("Status", "")
    error = state.get("Error") or ""
    exit_code: int | None = None
    reason = ""
    if status in _RUNNING:
        kind = ContainerState.RUNNING
    elif status in _EXITED or (status == "created" and error):
        # A process that could not start stays "created" in the engine, with the
        # reason in State.Error: to the agent it ran and failed.
        kind = ContainerState.EXITED
        exit_code = int(state.get("ExitCode") or 0)
        if state.get("OOMKilled"):
            reason = "OOMKilled"
        elif exit_code == 0 and not error:
            reason = "Completed"
        else:
            reason = "Error"
    elif status == "created":
        kind = ContainerState.CREATED
    else:
        kind = ContainerState.UNKNOWN
    started_at = parse_time(state.get("StartedAt") or "")
    finished_at = parse_time(state.get("FinishedAt") or "")
    if started_at is not None and finished_at is not None and finished_at < started_at:
        # The engine stamps StartedAt once containerd says the task started, which can
        # be after a quick process already exited (and FinishedAt was stamped): the
        # process began no later than it ended.
        started_at = finished_at
    return ContainerStatus(
        id=info["Id"],
        name=labels.get(NAME) or info.get("Name", "").lstrip("/"),
        sandbox_id=labels.get(SANDBOX_ID, ""),
        image=info["Config"].get("Image", ""),
        state=kind,
        image_id=info.get("Image", ""),
        labels=user_labels(labels),
        annotations=annotations_of(labels),
        attempt=_attempt(labels),
        created_at=parse_time(info.get("Created") or ""),
        started_at=started_at,
        finished_at=finished_at,
        exit_code=exit_code,
        reason=reason,
        message=error,
    )
