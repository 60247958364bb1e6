"""A pod's network namespace, made by the plugin itself and kept alive by a bind mount
of it onto a file under the runtime's data_dir (no pause process, no ``ip netns``).

Why this way: a namespace lives while a process is in it or a mount points at it. A
pause process would be one more thing to supervise and re-adopt after a restart; ``ip
netns add`` would put the namespace in the host-wide /run/netns, where two runtimes
(or two tests) could meet. A bind mount under data_dir survives the agent, belongs to
this runtime alone, and is gone with one unmount.

The namespace is made in a short-lived thread: ``unshare(CLONE_NEWNET)`` moves only the
calling thread into a new network namespace, so the process's other threads never
leave the host's. That thread brings loopback up (a new namespace's ``lo`` is down) and
bind-mounts its ``/proc/thread-self/ns/net`` onto the file, then ends.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import socket
import struct
import threading
from pathlib import Path

CLONE_NEWNET = 0x40000000
MS_BIND = 0x1000
MNT_DETACH = 0x2
SIOCGIFFLAGS, SIOCSIFFLAGS = 0x8913, 0x8914
IFF_UP, IFF_RUNNING = 0x1, 0x40

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _loopback_up() -> None:
    """Bring ``lo`` up in the calling thread's network namespace."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP | IFF_RUNNING))


def _make_in_thread(path: Path) -> None:
    _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
    _loopback_up()
    source = f"/proc/self/task/{threading.get_native_id()}/ns/net".encode()
    _check(_libc.mount(source, str(path).encode(), None, MS_BIND, None), f"bind mount on {path}")


def create_netns(path: Path) -> None:
    """A new network namespace (loopback only, up) pinned at ``path`` (created; its
    directory must exist). Raises OSError with the system's reason (root is needed)."""
    path.touch(exist_ok=False)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            _make_in_thread(path)
        except BaseException as exc:  # carried back to the caller
            errors.append(exc)

    # The thread ends with its namespace changed: it must not be a pooled thread.
    thread = threading.Thread(target=run, name="navarch-netns", daemon=True)
    thread.start()
    thread.join()
    if errors:
        path.unlink(missing_ok=True)
        raise errors[0]


def remove_netns(path: Path) -> None:
    """Unmount and delete a namespace file; the namespace goes once nothing is in it.
    A file already gone is no error."""
    if not path.exists():
        return
    result = _libc.umount2(str(path).encode(), MNT_DETACH)
    if result != 0:
        errno = ctypes.get_errno()
        if errno not in (22,):  # EINVAL: not a mount point (a half-made namespace)
            raise OSError(errno, f"umount {path}: {os.strerror(errno)}")
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
