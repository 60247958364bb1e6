"""The ``backup-operator`` controller: the operator of the plugin's own kind, ``Backup``.

For every Backup it keeps one backup pod for the Backup's current spec — named
``<backup>-<generation>``, owned by the Backup (an ownerReference with
``controller: true``), running the configured image once (``restartPolicy: Never``)
with the target in ``BACKUP_TARGET`` — and writes what it sees through the Backup's
status subresource:

    status:
      phase: Succeeded              # the current backup pod's phase (Pending before one)
      observedGeneration: 2         # the spec generation this status is about
      lastBackupTime: "2026-…Z"     # when the last successful backup pod finished
      conditions:
      - {type: Complete, status: "True", reason: BackupSucceeded, …}

A spec change (``metadata.generation`` + 1) makes a new backup pod; the pods of the
``spec.retain`` newest generations are kept (finished older ones are deleted), and
deleting the Backup leaves its pods to the garbage collector. ``spec.schedule`` is
shown, not acted upon: running on a schedule is a CronJob's job.

Level-triggered, like the core's controllers: a Backup's change, or a change to a pod
it controls, queues the Backup's key; a sync reads both from the shared caches,
creates or deletes what differs and writes status only when it differs. Objects
from the caches are never changed: the status is written from a fresh dict.
"""

from __future__ import annotations

import time
from typing import Any

import attrs

from navarch import api
from navarch.api.timefmt import parse_rfc3339, rfc3339
from navarch.client.errors import AlreadyExists, ApiException, NotFound
from navarch.controllers.base import QueueController
from navarch.controllers.context import ControllerContext
from navarch.controllers.owners import controller_of, owner_reference
from navarch_example_plugin.backups import BACKUPS, Backup

NAME = "backup-operator"
BACKUP_LABEL = "example.navarch.io/backup"
GENERATION_ANNOTATION = "example.navarch.io/backup-generation"
OWNER_INDEX = "backup-operator/owner-uid"
COMPLETE = "Complete"
# While a backup pod for a spec has not shown up in the cache: look again this soon.
CACHE_BEHIND_SECONDS = 1.0


@attrs.frozen(kw_only=True)
class BackupOperatorOptions:
    image: str = attrs.field(
        default="navarch.test/demo:1",
        metadata={"help": "The image of the backup pods (your backup tool)."},
    )
    command: tuple[str, ...] = attrs.field(
        default=("sh", "-c", 'echo "backing up $BACKUP_TARGET"; echo done'),
        converter=tuple,
        metadata={"help": "The backup pods' command; BACKUP_TARGET names the target."},
    )


class BackupOperator(QueueController):
    def __init__(self, context: ControllerContext):
        super().__init__(context)
        self.options = context.options or BackupOperatorOptions()
        # "backups" is the plugin's kind: the shared informers serve it like a core one.
        self.backups = context.informers.informer("backups")
        self.pods = context.informers.informer("pods")
        self.pods.add_index(OWNER_INDEX, backup_uid_of)
        self.backups.add_handler(
            on_add=self.enqueue,
            on_update=lambda old, new: self.enqueue(new),
            on_delete=self.enqueue,
        )
        self.pods.add_handler(
            on_add=self._pod_changed,
            on_update=lambda old, new: self._pod_changed(new),
            on_delete=self._pod_changed,
        )

    def _pod_changed(self, pod: Any) -> None:
        ref = backup_reference(pod)
        if ref is not None:
            self.queue.add(f"{pod.namespace}/{ref.name}")

    async def sync(self, key: str) -> float | None:
        backup = self.backups.get(key)
        if backup is None or backup.metadata.deletion_timestamp:
            return None  # gone or going: the garbage collector takes its pods
        log = self.log.bind(backup=key, generation=generation_of(backup))
        owned = self.pods.by_index(OWNER_INDEX, backup.metadata.uid)
        name = pod_name(backup)
        current = next((pod for pod in owned if pod.name == name), None)
        if current is None:
            current = await self._create_pod(backup, log)
            if current is None:
                return CACHE_BEHIND_SECONDS
        await self._prune(backup, owned, log)
        await self._write_status(backup, current, log)
        return None

    async def _create_pod(self, backup: Backup, log: Any) -> Any | None:
        """The backup pod for the Backup's current spec, created now; None when its
        name is already taken (most likely by the pod a previous sync made that the
        cache has not shown yet: the sync runs again shortly)."""
        try:
            pod = await self.client.pods.create(pod_for(backup, self.options), backup.namespace)
        except AlreadyExists:
            log.info("backup pod exists but is not cached yet; looking again")
            return None
        except ApiException as exc:
            await self.context.recorder.record(
                backup, "Warning", "FailedCreate", f"Error creating backup pod: {exc}"
            )
            raise
        await self.context.recorder.record(
            backup, "Normal", "BackupStarted", f"Created backup pod {pod.name}"
        )
        log.bind(pod=pod.name).info("backup pod created")
        return pod

    async def _prune(self, backup: Backup, owned: list[Any], log: Any) -> None:
        """Delete the finished pods of older generations beyond ``spec.retain``
        generations (the current one included); unfinished ones are let finish."""
        retain = max(1, (backup.spec.retain if backup.spec else None) or 1)
        older = sorted(
            (pod for pod in owned if pod_generation(pod) < generation_of(backup)),
            key=pod_generation,
            reverse=True,
        )
        for pod in older[retain - 1 :]:
            if phase_of(pod) not in ("Succeeded", "Failed") or pod.metadata.deletion_timestamp:
                continue
            try:
                await self.client.pods.delete(pod.name, pod.namespace, uid=pod.metadata.uid)
            except NotFound:
                continue
            log.bind(pod=pod.name).info("old backup pod deleted (retain)")

    async def _write_status(self, backup: Backup, pod: Any, log: Any) -> None:
        old = api.dump(backup.status) if backup.status else {}
        new = desired_status(backup, pod, old)
        if new == old:
            return
        # A fresh dict of the Backup as read: its resourceVersion makes the write
        # conditional (a Conflict is raised and the sync runs again on what changed).
        body = api.dump(backup)
        body["status"] = new
        try:
            await self.client.resource(BACKUPS).update_status(body, backup.namespace)
        except NotFound:
            return  # deleted meanwhile
        if new["phase"] != old.get("phase") and new["phase"] in ("Succeeded", "Failed"):
            kind = "Normal" if new["phase"] == "Succeeded" else "Warning"
            await self.context.recorder.record(
                backup, kind, f"Backup{new['phase']}", f"Backup pod {pod.name}: {new['phase']}"
            )
        log.bind(phase=new["phase"]).info("status written")


# --- what the operator decides, without I/O -----------------------------------------------


def backup_reference(pod: Any) -> Any | None:
    """The reference to the Backup that controls ``pod``, or None."""
    ref = controller_of(pod)
    if ref is None or ref.kind != Backup.KIND or ref.api_version != Backup.API_VERSION:
        return None
    return ref


def backup_uid_of(pod: Any) -> list[str]:
    """The index of pods by the uid of the Backup controlling them."""
    ref = backup_reference(pod)
    return [ref.uid] if ref is not None and ref.uid else []


def generation_of(backup: Backup) -> int:
    return (backup.metadata.generation if backup.metadata else None) or 1


def pod_name(backup: Backup) -> str:
    suffix = f"-{generation_of(backup)}"
    return backup.name[: 253 - len(suffix)] + suffix


def pod_generation(pod: Any) -> int:
    annotations = pod.metadata.annotations or {}
    value = annotations.get(GENERATION_ANNOTATION, "")
    return int(value) if value.isdigit() else 0


def phase_of(pod: Any) -> str:
    return (pod.status.phase if pod.status else None) or "Pending"


def pod_for(backup: Backup, options: BackupOperatorOptions) -> dict[str, Any]:
    """The backup pod of the Backup's current spec."""
    target = (backup.spec.target if backup.spec else None) or ""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name(backup),
            "namespace": backup.namespace,
            "labels": {BACKUP_LABEL: backup.name},
            "annotations": {GENERATION_ANNOTATION: str(generation_of(backup))},
            "ownerReferences": [owner_reference(backup)],
        },
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "backup",
                    "image": options.image,
                    "command": list(options.command),
                    "env": [{"name": "BACKUP_TARGET", "value": target}],
                    "resources": {"requests": {"cpu": "10m", "memory": "8Mi"}},
                }
            ],
        },
    }


def finished_at(pod: Any) -> str | None:
    """When the pod's last container finished (RFC 3339), or None."""
    times = []
    for status in (pod.status.container_statuses if pod.status else None) or ():
        terminated = status.state.terminated if status.state else None
        if terminated is not None and terminated.finished_at:
            times.append(terminated.finished_at)
    return max(times, key=lambda t: parse_rfc3339(t) or 0.0) if times else None


_CONDITIONS = {
    "Pending": ("False", "BackupPending"),
    "Running": ("False", "BackupRunning"),
    "Succeeded": ("True", "BackupSucceeded"),
    "Failed": ("False", "BackupFailed"),
}


def desired_status(
    backup: Backup, pod: Any, old: dict[str, Any], now: float | None = None
) -> dict[str, Any]:
    """The status the Backup should have, given its current backup pod and the status
    it has (``old``, wire form). Stable: the same inputs give the same status, so a
    sync with nothing new writes nothing (times come from the pod, or are kept)."""
    phase = phase_of(pod)
    if phase not in _CONDITIONS:
        phase = "Pending"  # Unknown: as good as not started, for a Backup
    condition_status, reason = _CONDITIONS[phase]
    conditions: list[dict[str, Any]] = old.get("conditions") or []
    previous = next((c for c in conditions if c.get("type") == COMPLETE), {})
    transition = previous.get("lastTransitionTime")
    if previous.get("status") != condition_status or not transition:
        transition = rfc3339(now if now is not None else time.time())
    last_backup = old.get("lastBackupTime")
    if phase == "Succeeded":
        last_backup = finished_at(pod) or last_backup or transition
    status: dict[str, Any] = {
        "phase": phase,
        "observedGeneration": generation_of(backup),
        "conditions": [
            {
                "type": COMPLETE,
                "status": condition_status,
                "reason": reason,
                "message": f"backup pod {pod.name} is {phase}",
                "lastTransitionTime": transition,
            }
        ],
    }
    if last_backup:
        status["lastBackupTime"] = last_backup
    return status
