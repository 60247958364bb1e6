"""Setting a pod's volumes up before its containers are created (the kubelet's volume
manager, one pass per pod sync).

Every sync of a pod calls :meth:`VolumeManager.setup`: it makes what is missing and
rewrites the configMap, secret, downwardAPI and projected volumes whose content
changed (the atomic writer leaves an unchanged set alone) — so a changed ConfigMap
reaches a running pod's files within one pod resync (``agent.pod_resync_seconds``,
10 s by default, jittered ±20%). A volume that cannot be set up the first time keeps
the pod's containers from being created (Kubernetes: ContainerCreating with a
FailedMount Event); one that was set up before keeps its last content and the
containers keep running, as in Kubernetes.

What each source becomes on the host:

* emptyDir: a directory (mode 0777), or with ``medium: Memory`` a tmpfs as large as
  the least of the node's allocatable memory, the pod's memory limit and the
  ``sizeLimit`` (Kubernetes' calculateEmptyDirMemorySize);
* hostPath: the path itself, after the type check (DirectoryOrCreate makes it);
* configMap, downwardAPI: a directory written by the atomic writer;
* secret, projected: the same on a tmpfs of their own (Secrets never on disk);
* persistentVolumeClaim: the bound PersistentVolume's hostPath or local path."""

from __future__ import annotations

import asyncio
import errno
import os
import stat
from collections.abc import Awaitable, Mapping
from pathlib import Path
from typing import Any

import attrs
from loguru import logger

from navarch.agent.apiobjects import (
    CLAIMS,
    VOLUMES,
    ObjectMissing,
    ObjectReader,
    ObjectUnreadable,
)
from navarch.agent.volumes import layout
from navarch.agent.volumes.atomicwriter import (
    DATA_LINK,
    FileProjection,
    PayloadError,
    write_atomically,
)
from navarch.agent.volumes.hostpath import HostPathError, check_host_path
from navarch.agent.volumes.layout import PodDirectories
from navarch.agent.volumes.payload import (
    PayloadUnavailable,
    config_map_payload,
    downward_api_payload,
    projected_payload,
    secret_payload,
)
from navarch.agent.volumes.subpath import SubPathError, open_pinned, prepare_sub_path
from navarch.agent.volumes.tmpfs import MountError, bind_mount, mount_tmpfs, mounts_below, unmount
from navarch.api.quantity import Quantity, QuantityError


@attrs.frozen
class VolumePath:
    """A volume ready on the host: where it is, and whether every mount of it is
    read-only (configMap, secret, downwardAPI and projected volumes always are, as the
    kubelet mounts them; a claim when its volume source says readOnly)."""

    path: Path
    read_only: bool = False


PodVolumes = Mapping[str, VolumePath]


class VolumeSetupError(Exception):
    """Volumes that could not be set up: (volume name, the reason)."""

    def __init__(self, failures: list[tuple[str, str]]):
        self.failures = failures
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The kubelet's FailedMount wording, one clause per volume."""
        return "; ".join(
            f'MountVolume.SetUp failed for volume "{name}" : {why}' for name, why in self.failures
        )


class _Unavailable(Exception):
    """One volume cannot be set up now (the message says why)."""


@attrs.define
class VolumeManager:
    directories: PodDirectories
    node: str
    allocatable: Mapping[str, str]
    _tmpfs_refused: bool = False  # said once: memory-backed volumes went to disk
    _binds_refused: bool = False  # said once: subPaths are handed over as checked paths
    # (pod uid, volume name) of claims set up for a pod: it keeps them while Terminating
    _claims_set_up: set[tuple[str, str]] = attrs.field(factory=set)

    @property
    def log(self) -> Any:
        return logger.bind(component="agent", node=self.node)

    async def setup(
        self, pod: Any, reader: ObjectReader, *, started: bool = False
    ) -> dict[str, VolumePath]:
        """Every volume of ``pod`` on the host, or VolumeSetupError naming those that
        are not (all volumes are tried, so the message names every missing one).
        ``started``: the pod has containers already (an agent restarted finds them),
        so a claim it uses stays usable while it is being deleted."""
        ready: dict[str, VolumePath] = {}
        failures: list[tuple[str, str]] = []
        for volume in pod.spec.volumes or ():
            try:
                ready[volume.name] = await self._one(pod, volume, reader, started)
            except (
                _Unavailable,
                HostPathError,
                PayloadError,
                PayloadUnavailable,
                ObjectUnreadable,
            ) as exc:
                failures.append((volume.name, str(exc)))
            except OSError as exc:
                failures.append((volume.name, f"{exc.strerror or exc}: {exc.filename or ''}"))
        if failures:
            raise VolumeSetupError(failures)
        return ready

    async def _one(self, pod: Any, volume: Any, reader: ObjectReader, started: bool) -> VolumePath:
        uid, namespace = pod.metadata.uid, pod.metadata.namespace
        if volume.empty_dir is not None:
            return VolumePath(self._empty_dir(pod, volume))
        if volume.host_path is not None:
            path = volume.host_path.path or ""
            check_host_path(path, volume.host_path.type)
            return VolumePath(Path(path))
        if volume.persistent_volume_claim is not None:
            key = (uid, volume.name)
            ready = await self._claim(
                namespace,
                volume.persistent_volume_claim,
                reader,
                in_use=started or key in self._claims_set_up,
            )
            self._claims_set_up.add(key)
            return ready
        if volume.config_map is not None:
            source = volume.config_map
            return await self._written(
                uid,
                layout.CONFIG_MAP,
                volume.name,
                config_map_payload(reader, namespace, source, source.default_mode),
                memory=False,
            )
        if volume.secret is not None:
            source = volume.secret
            return await self._written(
                uid,
                layout.SECRET,
                volume.name,
                secret_payload(
                    reader, namespace, source.secret_name or "", source, source.default_mode
                ),
                memory=True,
            )
        if volume.downward_api is not None:
            payload = downward_api_payload(
                pod, volume.downward_api.items, volume.downward_api.default_mode, self.allocatable
            )
            return await self._written(
                uid, layout.DOWNWARD_API, volume.name, _ready(payload), memory=False
            )
        if volume.projected is not None:
            return await self._written(
                uid,
                layout.PROJECTED,
                volume.name,
                projected_payload(reader, pod, volume.projected, self.allocatable),
                memory=True,
            )
        source = next(iter(volume.source_names()), "this")
        raise _Unavailable(
            f"{source} volumes are not supported by Navarch (emptyDir, hostPath, configMap, "
            "secret, downwardAPI, projected and persistentVolumeClaim are)"
        )

    def _empty_dir(self, pod: Any, volume: Any) -> Path:
        directory = self.directories.volume(pod.metadata.uid, layout.EMPTY_DIR, volume.name)
        source = volume.empty_dir
        if source.medium == "Memory":
            limit = memory_volume_bytes(pod, source.size_limit, self.allocatable)
            if self._on_tmpfs(directory, limit, mode=0o777):
                return directory
        elif source.medium not in (None, ""):
            raise _Unavailable(f"emptyDir medium {source.medium!r} is not supported")
        if not directory.is_dir():
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o777)  # Kubernetes: any user of any container may write
        return directory

    def _on_tmpfs(self, directory: Path, size: int | None, mode: int = 0o755) -> bool:
        """Mount a tmpfs on ``directory``; False (the directory stays on disk, said
        once in the log) where the agent may not mount, e.g. not running as root.
        ``mode``: an emptyDir's is 0777, as on disk (any user of any container writes).
        Any other failure is this volume's (_Unavailable): a Secret never goes to disk
        because one mount failed."""
        if self._tmpfs_refused:
            return False
        try:
            mount_tmpfs(directory, size, mode=mode)
        except MountError as exc:
            if exc.errno not in (errno.EPERM, errno.EACCES):
                raise _Unavailable(f"cannot mount a tmpfs: {exc.strerror}") from exc
            self._tmpfs_refused = True
            self.log.bind(error=str(exc)).warning(
                "cannot mount tmpfs: memory-backed volumes (secrets, medium Memory) are kept "
                "on disk on this node"
            )
            return False
        return True

    async def _written(
        self,
        uid: str,
        plugin: str,
        name: str,
        payload: Awaitable[dict[str, FileProjection]],
        *,
        memory: bool,
    ) -> VolumePath:
        directory = self.directories.volume(uid, plugin, name)
        try:
            files = await payload
        except (PayloadUnavailable, ObjectUnreadable) as exc:
            if (directory / DATA_LINK).is_symlink():
                # Set up before: the pod keeps the last content (Kubernetes does).
                self.log.bind(uid=uid, volume=name, error=str(exc)).warning(
                    "volume not updated; it keeps its last content"
                )
                return VolumePath(directory, read_only=True)
            raise
        if memory:
            self._on_tmpfs(directory, None)
        directory.mkdir(parents=True, exist_ok=True)
        if await asyncio.to_thread(write_atomically, directory, files):
            self.log.bind(uid=uid, volume=name, files=len(files)).info("volume written")
        return VolumePath(directory, read_only=True)

    async def _claim(
        self, namespace: str, source: Any, reader: ObjectReader, *, in_use: bool
    ) -> VolumePath:
        """The claim's volume on the host. A claim being deleted is not given to a pod
        that did not use it yet (the kubelet's check): its protection would otherwise
        keep it, and the pod would run on data about to go."""
        name = source.claim_name or ""
        try:
            claim = await reader.get(CLAIMS, namespace, name)
        except ObjectMissing as exc:
            raise _Unavailable(str(exc)) from exc
        if (claim.get("metadata") or {}).get("deletionTimestamp") and not in_use:
            raise _Unavailable(
                f"error processing PVC {namespace}/{name}: PVC is being deleted; the pod "
                "waits until a claim of that name exists again"
            )
        bound_to = (claim.get("spec") or {}).get("volumeName") or ""
        phase = (claim.get("status") or {}).get("phase") or "Pending"
        if phase != "Bound" or not bound_to:
            raise _Unavailable(
                f'persistentvolumeclaim "{name}" is not bound yet (phase {phase!r}); the pod '
                "waits until a PersistentVolume is bound to it"
            )
        try:
            volume = await reader.get(VOLUMES, None, bound_to)
        except ObjectMissing as exc:
            raise _Unavailable(f"{exc} (bound to claim {namespace}/{name})") from exc
        spec = volume.get("spec") or {}
        # The kubelet's check: the volume must be bound back to this very claim (a claim
        # naming someone else's volume in spec.volumeName never mounts it).
        claim_ref = spec.get("claimRef") or {}
        claim_uid = (claim.get("metadata") or {}).get("uid")
        if not claim_ref or claim_ref.get("uid") != claim_uid:
            raise _Unavailable(
                f"found PV object {bound_to!r} but its claimRef UID {claim_ref.get('uid')!r} "
                f"does not point to claim {namespace}/{name} (UID {claim_uid!r})"
            )
        read_only = bool(source.read_only)
        if spec.get("hostPath"):
            host_path = spec["hostPath"]
            path = host_path.get("path") or ""
            check_host_path(path, host_path.get("type"))
            return VolumePath(Path(path), read_only)
        if spec.get("local"):
            path = spec["local"].get("path") or ""
            if not os.path.exists(path):
                raise _Unavailable(
                    f'persistentvolume "{bound_to}": local path {path} does not exist on '
                    f"node {self.node}"
                )
            return VolumePath(Path(path), read_only)
        raise _Unavailable(
            f'persistentvolume "{bound_to}": only hostPath and local volumes can be mounted by '
            "Navarch"
        )

    # --- subPaths -------------------------------------------------------------------------

    def sub_path(
        self, uid: str, container: str, volume: str, index: int, volume_path: Path, sub_path: str
    ) -> Path:
        """What the runtime binds for a container's subPath mount: the checked path,
        opened without following links and bind-mounted on the pod's
        ``volume-subpaths`` directory, so a container that swaps a directory of a shared
        volume for a symlink after the check cannot redirect the mount (the kubelet's
        answer to CVE-2017-1002101). Where the agent may not mount (not root), the
        checked path itself, said once in the log. Raises SubPathError."""
        checked = prepare_sub_path(volume_path, sub_path)
        if self._binds_refused:
            return checked
        fd = open_pinned(Path(os.path.realpath(volume_path)), checked)
        target = self.directories.sub_path(uid, volume, container, index)
        try:
            _fresh_mount_point(target, directory=stat.S_ISDIR(os.fstat(fd).st_mode))
            bind_mount(f"/proc/self/fd/{fd}", target)
        except MountError as exc:
            if exc.errno not in (errno.EPERM, errno.EACCES):
                # This mount's trouble: never a reason to stop pinning everyone's.
                raise SubPathError(f"cannot bind subPath `{sub_path}`: {exc.strerror}") from exc
            self._binds_refused = True
            self.log.bind(error=str(exc)).warning(
                "cannot bind-mount subPaths: they are handed to the runtime as checked paths "
                "on this node (a container could race the check)"
            )
            return checked
        except OSError as exc:
            raise SubPathError(
                f"cannot prepare the mount point of subPath `{sub_path}`: {exc.strerror}"
            ) from exc
        finally:
            os.close(fd)
        return target

    # --- size limits and removal -------------------------------------------------------

    async def over_size_limit(self, pod: Any) -> str | None:
        """The kubelet's eviction message for the first disk-backed emptyDir using more
        than its ``sizeLimit``; None when none is."""
        for volume in pod.spec.volumes or ():
            source = volume.empty_dir
            if source is None or source.size_limit is None or source.medium == "Memory":
                continue
            directory = self.directories.volume(pod.metadata.uid, layout.EMPTY_DIR, volume.name)
            used = await asyncio.to_thread(disk_usage, directory)
            if used > source.size_limit.ceil():
                return (
                    f'Usage of EmptyDir volume "{volume.name}" exceeds the limit '
                    f'"{source.size_limit.text}". '
                )
        return None

    async def remove(self, uid: str) -> None:
        """Remove what the pod had on the node (its containers are gone)."""
        await asyncio.to_thread(self.directories.remove, uid)
        self._claims_set_up = {key for key in self._claims_set_up if key[0] != uid}

    async def remove_orphans(self, bound: set[str]) -> None:
        """Remove the volume directories of pods no longer bound here (deleted while
        the agent was down, or a removal that failed)."""
        for uid in self.directories.uids():
            if uid not in bound:
                await self.remove(uid)


def memory_volume_bytes(pod: Any, size_limit: Any, allocatable: Mapping[str, str]) -> int | None:
    """The size of a ``medium: Memory`` emptyDir's tmpfs, as Kubernetes'
    calculateEmptyDirMemorySize: the node's allocatable memory, lowered to the pod's
    memory limit and then to the volume's ``sizeLimit`` where those are set, positive
    and lower. Without a sizeLimit a pod gets no more than it may use (tmpfs' own
    default, half of the machine's memory, would let one pod take that whatever its
    limit). None (tmpfs' default) only when the node reports no memory."""
    size: int | None = None
    if allocatable.get("memory"):
        try:
            size = Quantity.parse(allocatable["memory"]).ceil()
        except QuantityError:
            size = None
    candidates = (_pod_memory_limit(pod), size_limit.ceil() if size_limit is not None else None)
    for candidate in candidates:
        if candidate is not None and candidate > 0 and (size is None or candidate <= size):
            size = candidate
    return size


def _pod_memory_limit(pod: Any) -> int | None:
    """The pod's memory limit (the kubelet's pod cgroup): its containers' limits added,
    or the largest init container's when larger; None unless every container has one."""

    def limit(container: Any) -> int | None:
        limits = (container.resources.limits if container.resources else None) or {}
        memory = limits.get("memory")
        return memory.ceil() if memory is not None else None

    total = 0
    for container in pod.spec.containers or ():
        found = limit(container)
        if found is None:
            return None
        total += found
    for container in pod.spec.init_containers or ():
        found = limit(container)
        if found is None:
            return None
        total = max(total, found)
    return total or None


def _fresh_mount_point(target: Path, *, directory: bool) -> None:
    """``target`` unmounted (a restarted container binds again) and of the source's
    type: an empty directory or an empty file."""
    for _ in range(8):  # binds stacked by earlier attempts, bounded
        if Path(os.path.realpath(target)) not in mounts_below(target):
            break
        unmount(target)
    if target.is_symlink() or (target.exists() and target.is_dir() != directory):
        if target.is_dir() and not target.is_symlink():
            target.rmdir()
        else:
            target.unlink()
    if directory:
        target.mkdir(mode=0o750, parents=True, exist_ok=True)
    else:
        target.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        target.touch(mode=0o640, exist_ok=True)


async def _ready(payload: dict[str, FileProjection]) -> dict[str, FileProjection]:
    return payload


def disk_usage(directory: Path) -> int:
    """Bytes of disk the files below ``directory`` take (du's count: allocated blocks)."""
    total = 0
    for root, dirs, files in os.walk(directory):
        for name in (*dirs, *files):
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                continue
    return total
