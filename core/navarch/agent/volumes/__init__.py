"""Pod volumes on the node: their directories (:mod:`layout`), the files of configMap,
secret, downwardAPI and projected volumes (:mod:`payload`, written by
:mod:`atomicwriter`), hostPath checks, tmpfs, subPaths, and each container's mounts
(:mod:`mounts`); :class:`~navarch.agent.volumes.manager.VolumeManager` sets a pod's
volumes up at every sync."""
