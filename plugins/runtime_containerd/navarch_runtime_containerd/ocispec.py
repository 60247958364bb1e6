"""The OCI runtime spec (``config.json``) of a container, built as a plain JSON dict.

containerd's task service hands the spec to runc unchanged, so the plugin builds it
whole, from the image's config and Navarch's ``ContainerConfig``. The defaults are
containerd's own (its ``oci`` package, ``populateDefaultUnixSpec``): root 0:0 in
``/``, no new privileges, containerd's 14 default capabilities, RLIMIT_NOFILE 1024,
new pid/ipc/uts/mount/network namespaces, the standard mounts, the masked and
read-only ``/proc`` and ``/sys`` paths, every device denied in the device cgroup
(runc still allows its few default devices: null, zero, full, tty, random, urandom).
On top of those, what Kubernetes adds (CRI):

* args: a container's ``command`` replaces the image's entrypoint and its ``args``
  replace the image's cmd; the image's cmd is dropped once ``command`` is given::

      image ENTRYPOINT  image CMD  command   args    -> process args
      [ep]              [c]        ()        ()      -> [ep, c]
      [ep]              [c]        ()        (a,)    -> [ep, a]
      [ep]              [c]        (x,)      ()      -> [x]
      [ep]              [c]        (x,)      (a,)    -> [x, a]

* env: the image's (containerd's default ``PATH`` when the image has none), each
  variable of the config replacing the image's of the same name in place, the new
  ones appended in the config's order;
* a read-only cgroup file system at ``/sys/fs/cgroup``;
* cpu: shares from the request and a CFS quota from the limit over a 100 ms period,
  as every runtime computes them (:mod:`navarch.runtime.cpu`); memory: the limit in
  bytes;
* host network: no network namespace and no UTS namespace (the pod shares the
  node's hostname, as Kubernetes does), otherwise the network namespace at the
  pod's path;
* a target container (``kubectl debug --target``): its pid namespace, by the path
  of its process's (``/proc/<pid>/ns/pid``), as containerd's CRI does for
  ``NamespaceMode_TARGET``;
* volumes (``ContainerConfig.mounts``), as containerd's CRI plugin binds them
  (``WithMounts``): type ``bind`` with ``rbind``, ``rprivate``/``rslave``/``rshared``
  for the propagation ``None``/``HostToContainer``/``Bidirectional`` (and the root's
  propagation ``rslave``/``rshared`` so that it passes through), ``ro`` or ``rw``;
  after the standard mounts, of which one at the same destination is dropped, and
  sorted parents first (by the number of path components), so a file bound inside a
  bound directory lands on it. A host file bound onto a file path works: runc
  creates the mount point as a file when the source is one.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from navarch.runtime.cpu import CFS_PERIOD_US, cfs_quota, cpu_shares
from navarch.runtime.types import ContainerConfig, Mount, MountPropagation
from navarch_runtime_containerd.users import ProcessUser

# The runtime-spec version runc 1.1 and containerd 1.6 speak.
OCI_VERSION = "1.0.2-dev"
# Relative to the bundle: the task service mounts the rootfs snapshot there.
ROOTFS = "rootfs"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# containerd's defaultUnixCaps (oci/spec.go): the same set in bounding, permitted
# and effective.
DEFAULT_CAPABILITIES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)

# Hidden from the container: bind-mounted over with /dev/null (files) or an empty
# read-only tmpfs (directories) by runc.
MASKED_PATHS = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
)
READONLY_PATHS = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)


def _mount(destination: str, type_: str, source: str, *options: str) -> dict[str, Any]:
    return {"destination": destination, "type": type_, "source": source, "options": list(options)}


def standard_mounts() -> list[dict[str, Any]]:
    """containerd's default mounts (oci/mounts.go, without its ``/run`` tmpfs, which
    Kubernetes does not add either) and the read-only cgroup file system."""
    return [
        _mount("/proc", "proc", "proc", "nosuid", "noexec", "nodev"),
        _mount("/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k"),
        _mount(
            "/dev/pts",
            "devpts",
            "devpts",
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5",
        ),
        _mount("/dev/shm", "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777", "size=65536k"),
        _mount("/dev/mqueue", "mqueue", "mqueue", "nosuid", "noexec", "nodev"),
        _mount("/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", "ro"),
        _mount("/sys/fs/cgroup", "cgroup", "cgroup", "nosuid", "noexec", "nodev", "relatime", "ro"),
    ]


# Kubernetes' mountPropagation -> the bind's option, and the root's propagation it needs.
PROPAGATION_OPTIONS = {
    MountPropagation.NONE: "rprivate",
    MountPropagation.HOST_TO_CONTAINER: "rslave",
    MountPropagation.BIDIRECTIONAL: "rshared",
}


def bind_mount(mount: Mount) -> dict[str, Any]:
    """The spec's entry for one volume mount (``host_path`` already resolved)."""
    return _mount(
        posixpath.normpath(mount.container_path),
        "bind",
        mount.host_path,
        "rbind",
        PROPAGATION_OPTIONS[mount.propagation],
        "ro" if mount.read_only else "rw",
    )


def with_binds(standard: list[dict[str, Any]], mounts: Sequence[Mount]) -> list[dict[str, Any]]:
    """The standard mounts (less those a volume replaces) then the volumes, parents
    first (containerd's CRI ``orderedMounts``: by path components, a stable sort)."""
    binds = sorted(
        (bind_mount(mount) for mount in mounts),
        key=lambda entry: len(entry["destination"].strip("/").split("/")),
    )
    replaced = {entry["destination"] for entry in binds}
    return [entry for entry in standard if entry["destination"] not in replaced] + binds


def rootfs_propagation(mounts: Sequence[Mount]) -> str | None:
    """``linux.rootfsPropagation`` the volumes need: a mount event only passes through
    a root that propagates (None: runc's default, a slave root)."""
    kinds = {mount.propagation for mount in mounts}
    if MountPropagation.BIDIRECTIONAL in kinds:
        return "rshared"
    if MountPropagation.HOST_TO_CONTAINER in kinds:
        return "rslave"
    return None


@attrs.frozen
class ImageConfig:
    """What of an image's config (its ``config`` object) a container's process uses."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    working_dir: str = ""
    user: str = ""

    @classmethod
    def from_image_config(cls, document: Mapping[str, Any]) -> ImageConfig:
        """From an OCI (or docker) image config blob, parsed: ``{"config": {...}, ...}``."""
        config = document.get("config") or {}
        return cls(
            entrypoint=tuple(config.get("Entrypoint") or ()),
            cmd=tuple(config.get("Cmd") or ()),
            env=tuple(config.get("Env") or ()),
            working_dir=config.get("WorkingDir") or "",
            user=config.get("User") or "",
        )


def process_args(image: ImageConfig, command: Sequence[str], args: Sequence[str]) -> list[str]:
    """The process's argv, combined as Kubernetes does (table in the module doc)."""
    if command:
        return [*command, *args]
    return [*image.entrypoint, *(args or image.cmd)]


def merge_env(image_env: Iterable[str], overrides: Iterable[tuple[str, str]]) -> list[str]:
    """``NAME=value`` strings: the image's (or the default PATH), then ``overrides``,
    each replacing the variable of its name in place or appended."""
    merged: dict[str, str] = {}
    for entry in list(image_env) or [DEFAULT_PATH]:
        name, _, value = entry.partition("=")
        merged[name] = value
    for name, value in overrides:
        merged[name] = value  # a dict keeps the first insertion's position
    return [f"{name}={value}" for name, value in merged.items()]


def resources(config: ContainerConfig) -> dict[str, Any]:
    """``linux.resources``: the device cgroup denying all, cpu and memory limits."""
    result: dict[str, Any] = {"devices": [{"allow": False, "access": "rwm"}]}
    cpu: dict[str, Any] = {}
    if config.cpu_request_millis is not None:
        cpu["shares"] = cpu_shares(config.cpu_request_millis)
    if config.cpu_limit_millis is not None:
        cpu["quota"] = cfs_quota(config.cpu_limit_millis)
        cpu["period"] = CFS_PERIOD_US
    if cpu:
        result["cpu"] = cpu
    if config.memory_limit_bytes is not None:
        result["memory"] = {"limit": config.memory_limit_bytes}
    return result


def namespaces(netns_path: str | None, pid_path: str | None = None) -> list[dict[str, str]]:
    """New pid, ipc, mount namespaces; for a pod network (``netns_path``) also a UTS
    namespace and the pod's network namespace; for host network (None), neither.
    ``pid_path``: join that pid namespace (``/proc/<target's pid>/ns/pid``: an
    ephemeral container sharing its target's processes) instead of a new one."""
    pid = {"type": "pid", "path": pid_path} if pid_path else {"type": "pid"}
    result = [pid, {"type": "ipc"}, {"type": "mount"}]
    if netns_path is not None:
        result += [{"type": "uts"}, {"type": "network", "path": netns_path}]
    return result


def build_spec(
    config: ContainerConfig,
    image: ImageConfig,
    *,
    cgroups_path: str,
    netns_path: str | None,
    hostname: str = "",
    user: ProcessUser | None = None,
    pid_path: str | None = None,
) -> dict[str, Any]:
    """The whole runtime spec of one container (a JSON-ready dict).

    ``cgroups_path`` is the container's cgroup (``/<namespace>/<container id>``, as
    containerd names it); ``netns_path`` the pod's network namespace (None: the
    host's network, and then ``hostname`` is ignored: the node's is used);
    ``user`` the process's (users.py; None: root); ``pid_path`` a pid namespace to
    join (None: a new one). The config's mounts' host paths are used as they are:
    resolve them first (bindmounts.py).
    """
    args = process_args(image, config.command, config.args)
    if not args:
        raise ValueError(
            f"container {config.name!r} has no command: neither the container nor its "
            f"image {config.image!r} says what to run"
        )
    capabilities = list(DEFAULT_CAPABILITIES)
    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": config.tty,
            "user": (user or ProcessUser()).spec(),
            "args": args,
            "env": merge_env(image.env, config.env),
            "cwd": config.working_dir or image.working_dir or "/",
            "capabilities": {
                "bounding": capabilities,
                "effective": capabilities,
                "permitted": capabilities,
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": ROOTFS, "readonly": False},
        "mounts": with_binds(standard_mounts(), config.mounts),
        "linux": {
            "cgroupsPath": cgroups_path,
            "resources": resources(config),
            "namespaces": namespaces(netns_path, pid_path),
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
        },
    }
    propagation = rootfs_propagation(config.mounts)
    if propagation is not None:
        spec["linux"]["rootfsPropagation"] = propagation
    if netns_path is not None and hostname:
        spec["hostname"] = hostname
    return spec


def exec_process(
    spec: Mapping[str, Any], command: Sequence[str], *, tty: bool = False
) -> dict[str, Any]:
    """The ``process`` of an exec in a container whose runtime spec is ``spec``: the
    container's own user, env, cwd, capabilities and limits (as ``kubectl exec``
    gets), running ``command``."""
    if not command:
        raise ValueError("an exec needs a command")
    process = dict(spec["process"])
    process["args"] = list(command)
    process["terminal"] = tty
    return process
