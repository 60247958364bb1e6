"""Unmounting what a stopped containerd leaves, so its directory can be removed."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path


def unmount_under(roots: Iterable[Path]) -> None:
    """Lazily unmount every mount point under ``roots`` (or at one), deepest first: what
    a daemon stopped hard leaves (snapshot and overlay mounts, shm, netns), so that its
    directory can be removed."""
    prefixes = tuple(str(root) + "/" for root in roots)
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return
    points = [line.split()[4] for line in lines if len(line.split()) > 4]
    ours = [p for p in points if p.startswith(prefixes) or p + "/" in prefixes]
    for point in sorted(set(ours), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)
