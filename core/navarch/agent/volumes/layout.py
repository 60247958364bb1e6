"""Where a pod's volumes live on the node, as the kubelet lays them out under
``/var/lib/kubelet``::

    <data_dir>/pods/<pod uid>/volumes/kubernetes.io~empty-dir/<volume name>
    <data_dir>/pods/<pod uid>/volumes/kubernetes.io~configmap/<volume name>
    <data_dir>/pods/<pod uid>/volumes/kubernetes.io~secret/<volume name>   (a tmpfs)
    …
    <data_dir>/pods/<pod uid>/volume-subpaths/<volume>/<container>/<mount index>
                                      (a bind of a checked subPath: what the runtime mounts)

hostPath and persistentVolumeClaim volumes have no directory here: the host path (the
PersistentVolume's) is mounted as it is. A pod's directory is removed with everything
in it (its tmpfs unmounted first) once the pod is gone."""

from __future__ import annotations

import shutil
from pathlib import Path

import attrs
from loguru import logger

from navarch.agent.volumes.tmpfs import MountError, mounts_below, unmount

# The kubelet's plugin directory names (``kubernetes.io~<plugin>``).
EMPTY_DIR = "kubernetes.io~empty-dir"
CONFIG_MAP = "kubernetes.io~configmap"
SECRET = "kubernetes.io~secret"
DOWNWARD_API = "kubernetes.io~downward-api"
PROJECTED = "kubernetes.io~projected"


@attrs.frozen
class PodDirectories:
    """The agent's ``pods`` directory: one directory per pod uid."""

    root: Path

    def pod(self, uid: str) -> Path:
        return self.root / uid

    def volume(self, uid: str, plugin: str, name: str) -> Path:
        return self.root / uid / "volumes" / plugin / name

    def sub_path(self, uid: str, volume: str, container: str, index: int) -> Path:
        return self.root / uid / "volume-subpaths" / volume / container / str(index)

    def uids(self) -> list[str]:
        """The pods that have a directory here."""
        try:
            return sorted(p.name for p in self.root.iterdir() if p.is_dir())
        except FileNotFoundError:
            return []

    def remove(self, uid: str) -> None:
        """Remove the pod's directory: its mounts first (a tmpfs, deepest first), so the
        removal never reaches into a mounted file system's parent by accident."""
        directory = self.pod(uid)
        if not directory.exists():
            return
        log = logger.bind(component="agent", uid=uid)
        for point in mounts_below(directory):
            try:
                unmount(point)
            except MountError as exc:
                # Not removed while something is mounted: the next clean-up tries again.
                log.bind(path=str(point), error=str(exc)).warning("cannot unmount a pod volume")
                return
        shutil.rmtree(directory, ignore_errors=True)
        log.info("pod volume directory removed")
